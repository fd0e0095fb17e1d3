//! Property tests for entity keys: no panics, lowercase, idempotent, the equivalences.

mod entities_fixtures;

use entities_fixtures as fx;
use proptest::prelude::*;
use shrike_normalize::entities::{
    entities, normalize_arn, normalize_email, normalize_host, normalize_ip, normalize_user,
    EntityKind,
};

fn is_lower(s: &str) -> bool {
    s.to_lowercase() == s
}

/// User and domain labels as they appear in directories.
fn label() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_-]{0,12}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(ev in fx::arb_event()) {
        for e in entities(&ev) {
            prop_assert!(!e.key.is_empty());
            prop_assert!(is_lower(&e.key), "{:?}", e);
            prop_assert!(!e.role.is_empty());
            prop_assert!(!e.aliases.contains(&e.key));
            // The key is a fixed point of its normaliser.
            match e.kind {
                EntityKind::User => prop_assert_eq!(normalize_user(&e.key, None), Some(e.key.clone())),
                EntityKind::Host => prop_assert_eq!(normalize_host(&e.key), Some((e.key.clone(), None))),
                EntityKind::Ip => prop_assert_eq!(normalize_ip(&e.key), Some(e.key.clone())),
                EntityKind::Email => prop_assert_eq!(normalize_email(&e.key), Some(e.key.clone())),
                EntityKind::CloudPrincipal => prop_assert_eq!(normalize_arn(&e.key), Some(e.key.clone())),
                EntityKind::Process => prop_assert!(e.key.contains(':')),
            }
        }
    }

    #[test]
    fn user_keys_are_lowercase_and_idempotent(name in ".{0,30}", domain in proptest::option::of(".{0,20}")) {
        if let Some(k) = normalize_user(&name, domain.as_deref()) {
            prop_assert!(is_lower(&k));
            prop_assert_eq!(normalize_user(&k, None), Some(k.clone()));
        }
    }

    #[test]
    fn host_keys_are_lowercase_and_idempotent(name in ".{0,40}") {
        if let Some((short, fqdn)) = normalize_host(&name) {
            prop_assert!(is_lower(&short) && !short.contains('.'));
            prop_assert_eq!(normalize_host(&short), Some((short.clone(), None)));
            if let Some(f) = fqdn {
                prop_assert!(is_lower(&f));
                prop_assert_eq!(normalize_host(&f), Some((short.clone(), Some(f.clone()))));
            }
        }
    }

    #[test]
    fn ip_keys_are_idempotent(s in ".{0,40}", v4 in any::<[u8; 4]>(), v6 in any::<[u16; 8]>()) {
        for cand in [s, std::net::Ipv4Addr::from(v4).to_string(), std::net::Ipv6Addr::from(v6).to_string()] {
            if let Some(k) = normalize_ip(&cand) {
                prop_assert!(is_lower(&k));
                prop_assert_eq!(normalize_ip(&k), Some(k.clone()));
            }
        }
    }

    #[test]
    fn ipv4_mapped_ipv6_is_ipv4(v4 in any::<[u8; 4]>()) {
        let a = std::net::Ipv4Addr::from(v4);
        let mapped = format!("::ffff:{a}");
        let upper = format!("::FFFF:{a}");
        prop_assert_eq!(normalize_ip(&mapped), normalize_ip(&a.to_string()));
        prop_assert_eq!(normalize_ip(&upper), normalize_ip(&a.to_string()));
    }

    #[test]
    fn email_keys_are_idempotent(s in ".{0,40}", local in label(), domain in label()) {
        for cand in [s, format!("\"X Y\" <{local}@{domain}.Example>")] {
            if let Some(k) = normalize_email(&cand) {
                prop_assert!(is_lower(&k));
                prop_assert_eq!(normalize_email(&k), Some(k.clone()));
            }
        }
    }

    #[test]
    fn arn_keys_are_idempotent(s in ".{0,60}", name in label(), acct in "[0-9]{12}") {
        for cand in [
            s,
            format!("arn:aws:iam::{acct}:user/{name}"),
            format!("arn:aws:sts::{acct}:assumed-role/{name}/{name}@x.y"),
        ] {
            if let Some(k) = normalize_arn(&cand) {
                prop_assert!(is_lower(&k));
                prop_assert_eq!(normalize_arn(&k), Some(k.clone()));
            }
        }
    }

    #[test]
    fn user_spellings_are_equivalent(user in label(), dom in label(), tld in "[a-z]{2,6}") {
        prop_assume!(!user.ends_with('$'));
        let want = normalize_user(&user, Some(&dom));
        prop_assume!(want.is_some()); // noise names such as `system`
        let netbios = format!("{}\\{user}", dom.to_uppercase());
        let upn = format!("{user}@{dom}.{tld}");
        prop_assert_eq!(normalize_user(&netbios, None), want.clone());
        prop_assert_eq!(normalize_user(&upn, None), want.clone());
        prop_assert_eq!(normalize_user(&user.to_uppercase(), Some(&format!("{dom}.{tld}"))), want.clone());
        prop_assert_eq!(want, Some(format!("{}@{}", user.to_lowercase(), dom.to_lowercase())));
    }

    #[test]
    fn host_fqdn_and_short_agree(host in label(), dom in label(), tld in "[a-z]{2,6}") {
        let fqdn = format!("{host}.{dom}.{tld}.");
        let want_short = host.to_lowercase();
        prop_assume!(want_short != "localhost");
        prop_assert_eq!(normalize_host(&host), Some((want_short.clone(), None)));
        let want_fqdn = format!("{}.{}.{tld}", want_short, dom.to_lowercase());
        prop_assert_eq!(normalize_host(&fqdn.to_uppercase()), Some((want_short, Some(want_fqdn))));
    }

    #[test]
    fn arn_forms(name in label(), session in label(), acct in "[0-9]{12}", part in prop::sample::select(vec!["aws", "aws-us-gov", "aws-cn"])) {
        let lname = name.to_lowercase();
        prop_assert_eq!(normalize_arn(&format!("arn:{part}:iam::{acct}:user/{name}")), Some(format!("{part}:{acct}:user/{lname}")));
        prop_assert_eq!(normalize_arn(&format!("arn:{part}:iam::{acct}:user/some/path/{name}")), Some(format!("{part}:{acct}:user/{lname}")));
        prop_assert_eq!(normalize_arn(&format!("arn:{part}:iam::{acct}:role/{name}")), Some(format!("{part}:{acct}:role/{lname}")));
        prop_assert_eq!(normalize_arn(&format!("arn:{part}:sts::{acct}:assumed-role/{name}/{session}")), Some(format!("{part}:{acct}:role/{lname}")));
        prop_assert_eq!(normalize_arn(&format!("arn:{part}:iam::{acct}:root")), Some(format!("{part}:{acct}:root")));
    }
}
