//! Lenient date parsing for `Date:` headers, `Received:` stamps, mbox `From ` lines and
//! email-log fields.
//!
//! One token-based parser reads RFC 5322 dates (`Thu, 22 Aug 2002 12:36:23 +0100`), their
//! obsolete forms (2- and 3-digit years, named zones, missing seconds) and asctime dates
//! (`Thu Aug 22 12:36:23 2002`) alike; [`parse_rfc3339`] reads ISO timestamps. Years are mapped as
//! RFC 5322 section 4.3 says (`02` is 2002, `97` is 1997, the Y2K-bug `102` is 2002) and only
//! years 1990 to 2099 count as a message date ([`is_plausible`]): forged `1970` or `2031` dates
//! fall through to the next source.

/// Seconds since the Unix epoch for a proleptic-Gregorian civil date and time in UTC.
pub(crate) fn unix_seconds(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> i64 {
    let days = shrike_types::days_from_civil(year, i64::from(month), i64::from(day));
    days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec)
}

fn month_from_name(tok: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let head = tok.get(..3)?.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == head)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn zone_from_name(tok: &str) -> Option<i64> {
    let hours = match tok.to_ascii_uppercase().as_str() {
        "UT" | "UTC" | "GMT" | "Z" | "WET" => 0,
        "EDT" => -4,
        "EST" | "CDT" => -5,
        "CST" | "MDT" => -6,
        "MST" | "PDT" => -7,
        "PST" => -8,
        "CET" | "MET" | "BST" | "WEST" => 1,
        "CEST" | "MEST" | "EET" => 2,
        "EEST" | "MSK" => 3,
        "JST" | "KST" => 9,
        _ => return None,
    };
    Some(hours * 3600)
}

/// `+0100`, `-0700`, `+01:00`, `+01` as seconds east of UTC.
fn zone_from_offset(tok: &str) -> Option<i64> {
    let (sign, rest) = match tok.as_bytes().first()? {
        b'+' => (1, tok.get(1..)?),
        b'-' => (-1, tok.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let (h, m) = if digits.len() <= 2 {
        (n, 0)
    } else {
        (n / 100, n % 100)
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

fn parse_time(tok: &str) -> Option<(u32, u32, u32)> {
    let mut it = tok.split(':');
    let h: u32 = it.next()?.trim().parse().ok()?;
    let m: u32 = it.next()?.trim().parse().ok()?;
    let s: u32 = match it.next() {
        // Fractions of a second (`12:00:00.123`) are dropped.
        Some(s) => s.split('.').next()?.trim().parse().ok()?,
        None => 0,
    };
    (h <= 23 && m <= 59 && s <= 60).then_some((h, m, s.min(59)))
}

/// Maps a written year to a full year (RFC 5322 4.3: two digits 00-49 are 20xx, 50-99 are 19xx,
/// three digits get 1900 added, so the Y2K-bug `102` is 2002).
fn full_year(written: i64, digits: usize) -> i64 {
    match digits {
        1 | 2 if written < 50 => 2000 + written,
        1 | 2 => 1900 + written,
        3 => 1900 + written,
        _ => written,
    }
}

/// Parses an RFC 5322 / obsolete / asctime date, leniently; returns Unix seconds (any year).
pub(crate) fn parse_mail_date(s: &str) -> Option<i64> {
    parse_mail_date_parts(s).map(|(ts, _)| ts)
}

/// [`parse_mail_date`], also saying whether a time of day was present.
fn parse_mail_date_parts(s: &str) -> Option<(i64, bool)> {
    // Drop comments such as `(PDT)`; nesting is rare and tolerated.
    let mut clean = String::with_capacity(s.len());
    let mut depth = 0u32;
    for c in s.chars() {
        match c {
            '(' => depth = depth.saturating_add(1),
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => clean.push(if c == ',' { ' ' } else { c }),
            _ => {}
        }
    }
    let mut day: Option<u32> = None;
    let mut month: Option<u32> = None;
    let mut year: Option<i64> = None;
    let mut time: Option<(u32, u32, u32)> = None;
    let mut zone: Option<i64> = None;

    let mut numbers: Vec<(i64, usize)> = Vec::new();
    let on_token = |tok: &str,
                    numbers: &mut Vec<(i64, usize)>,
                    month: &mut Option<u32>,
                    time: &mut Option<(u32, u32, u32)>,
                    zone: &mut Option<i64>| {
        if tok.is_empty() {
            return;
        }
        if tok.contains(':')
            && time.is_none()
            && tok.bytes().next().is_some_and(|b| b.is_ascii_digit())
        {
            // `12:36:23` possibly glued to a zone (`12:36:23+0100`).
            let (t, z) = match tok.find(['+', '-']) {
                Some(i) => (tok.get(..i).unwrap_or(tok), tok.get(i..)),
                None => (tok, None),
            };
            *time = parse_time(t);
            if let Some(z) = z.and_then(zone_from_offset) {
                *zone = Some(z);
            }
        } else if (tok.starts_with('+') || tok.starts_with('-')) && zone.is_none() {
            *zone = zone_from_offset(tok);
        } else if tok.bytes().all(|b| b.is_ascii_digit()) {
            if tok.len() <= 4 {
                if let Ok(n) = tok.parse::<i64>() {
                    numbers.push((n, tok.len()));
                }
            }
        } else if tok.bytes().all(|b| b.is_ascii_alphabetic() || b == b'.') {
            if let Some(m) = month_from_name(tok).filter(|_| month.is_none()) {
                *month = Some(m);
            } else if zone.is_none() && time.is_some() {
                *zone = zone_from_name(tok);
            }
        }
    };
    for tok in clean.split_ascii_whitespace() {
        // `22-Aug-2002` and `2002/08/22` style dates: split, but keep `-0700` zones whole.
        let is_offset = (tok.starts_with('+') || tok.starts_with('-'))
            && tok.bytes().skip(1).all(|b| b.is_ascii_digit() || b == b':');
        if !is_offset && !tok.contains(':') && (tok.contains('-') || tok.contains('/')) {
            let parts: Vec<&str> = tok.split(['-', '/']).collect();
            // ISO order (2002-08-22) puts the year first.
            if parts.len() == 3 && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit())) {
                let y = parts.first().and_then(|p| p.parse::<i64>().ok());
                let m = parts.get(1).and_then(|p| p.parse::<u32>().ok());
                let d = parts.get(2).and_then(|p| p.parse::<u32>().ok());
                if let (Some(y), Some(m), Some(d), Some(4)) =
                    (y, m, d, parts.first().map(|p| p.len()))
                {
                    year = Some(y);
                    month = Some(m);
                    day = Some(d);
                    continue;
                }
            }
            for p in parts {
                on_token(p, &mut numbers, &mut month, &mut time, &mut zone);
            }
        } else {
            on_token(tok, &mut numbers, &mut month, &mut time, &mut zone);
        }
    }
    // Numbers: the first that can be a day is the day, the next is the year.
    for (n, digits) in numbers {
        if day.is_none() && (1..=31).contains(&n) && digits <= 2 {
            day = u32::try_from(n).ok();
        } else if year.is_none() {
            year = Some(full_year(n, digits));
        }
    }
    let (year, month, day) = (year?, month?, day?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (h, m, s) = time.unwrap_or((0, 0, 0));
    Some((
        unix_seconds(year, month, day, h, m, s) - zone.unwrap_or(0),
        time.is_some(),
    ))
}

/// Parses an RFC 3339 / ISO 8601 timestamp (`2023-05-01T12:00:00Z`, `2023-05-01 12:00:00.5+02:00`,
/// `2023-05-01`); a missing zone means UTC.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year = i64::from(num(0..4)?);
    let month = num(5..7)?;
    let day = num(8..10)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    if b.len() == 10 {
        return Some(unix_seconds(year, month, day, 0, 0, 0));
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let rest = s.get(11..)?;
    let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (h, m, sec) = parse_time(rest.get(..zone_at)?)?;
    let zone = match rest.get(zone_at..) {
        None | Some("") | Some("Z") | Some("z") => 0,
        Some(z) => zone_from_offset(z)?,
    };
    Some(unix_seconds(year, month, day, h, m, sec) - zone)
}

/// Whether Unix seconds fall in the years 1990 to 2099.
pub(crate) fn is_plausible(ts: i64) -> bool {
    // 1990-01-01T00:00:00Z and 2100-01-01T00:00:00Z.
    (631_152_000..4_102_444_800).contains(&ts)
}

/// The date of an mbox `From ` separator line (`From sender Thu Aug 22 12:36:23 2002`), if any.
pub(crate) fn from_line_date(line: &[u8]) -> Option<i64> {
    let line = std::str::from_utf8(line).ok()?;
    let rest = line.strip_prefix("From ")?.trim_start();
    // Skip the envelope sender (the first word).
    let date = rest.split_once(|c: char| c.is_ascii_whitespace())?.1;
    // A separator's date always has a time; requiring it keeps body lines such as
    // "From March 3 to 10, 2005" from splitting a message.
    match parse_mail_date_parts(date)? {
        (ts, true) => Some(ts),
        (_, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5322_dates_and_zones() {
        // 2002-08-22T11:36:23Z
        assert_eq!(
            parse_mail_date("Thu, 22 Aug 2002 12:36:23 +0100"),
            Some(1_030_016_183)
        );
        assert_eq!(
            parse_mail_date("Thu, 22 Aug 2002 04:36:23 -0700 (PDT)"),
            Some(1_030_016_183)
        );
        assert_eq!(
            parse_mail_date("22 Aug 2002 06:36 EST"),
            Some(1_030_016_160)
        );
        assert_eq!(parse_mail_date("garbage"), None);
        assert_eq!(parse_mail_date(""), None);
    }

    #[test]
    fn obsolete_years_are_mapped() {
        let y2002 = parse_mail_date("Thu, 22 Aug 2002 12:36:23 +0000");
        assert_eq!(parse_mail_date("Thu, 22 Aug 102 12:36:23 +0000"), y2002);
        assert_eq!(parse_mail_date("Thu, 22 Aug 02 12:36:23 +0000"), y2002);
        assert_eq!(
            parse_mail_date("Fri, 22 Aug 97 12:36:23 +0000"),
            Some(872_253_383)
        );
    }

    #[test]
    fn asctime_from_line() {
        assert_eq!(
            from_line_date(b"From jm@jmason.org  Thu Aug 22 12:36:23 2002"),
            Some(1_030_019_783)
        );
        assert_eq!(
            from_line_date(b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011 +0200"),
            Some(1_310_119_714)
        );
        assert_eq!(from_line_date(b"From nobody"), None);
        assert_eq!(
            from_line_date(b"From March 3 to 10, 2005 we are open"),
            None
        );
        assert_eq!(
            from_line_date(b"From home recordings to downloaded mp3s, this"),
            None
        );
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("2002-08-22T11:36:23Z"), Some(1_030_016_183));
        assert_eq!(
            parse_rfc3339("2002-08-22 13:36:23.250+02:00"),
            Some(1_030_016_183)
        );
        assert_eq!(parse_rfc3339("2002-08-22"), Some(1_029_974_400));
        assert_eq!(parse_rfc3339("22 Aug 2002"), None);
        assert_eq!(parse_rfc3339("2002-13-22"), None);
    }

    #[test]
    fn plausibility_window() {
        assert!(is_plausible(1_030_016_183));
        assert!(!is_plausible(0));
        assert!(!is_plausible(
            parse_mail_date("1 Jan 2031 00:00:00 +0000").unwrap_or(0) + 86_400 * 365 * 70
        ));
    }
}
