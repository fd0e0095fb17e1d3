//! A small scanner for the Windows `EventData` XML fragments that Azure Sentinel / Log Analytics
//! exports carry as strings (`<EventData><Data Name="X">v</Data>...</EventData>`): it finds the
//! `Data` elements and unescapes their text. Not an XML parser: anything else in the fragment is
//! ignored, and a malformed fragment yields the elements before the damage.

/// The `Data` elements of an `EventData` fragment, in order: the `Name` attribute (if any) and
/// the unescaped text.
pub(crate) fn event_data_pairs(s: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(pos) = rest.find("<Data") {
        let Some(after) = rest.get(pos + 5..) else {
            break;
        };
        // `<DataItem ...>` and the like are other elements.
        let next = after.chars().next();
        if !matches!(next, Some(c) if c.is_ascii_whitespace() || c == '>' || c == '/') {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else {
            break;
        };
        let attrs = after.get(..gt).unwrap_or_default();
        let name = attr_value(attrs, "Name").map(unescape);
        let Some(body) = after.get(gt + 1..) else {
            break;
        };
        if attrs.ends_with('/') {
            out.push((name, String::new()));
            rest = body;
            continue;
        }
        let Some(end) = body.find("</Data>") else {
            break;
        };
        out.push((name, unescape(body.get(..end).unwrap_or_default())));
        rest = body.get(end + 7..).unwrap_or_default();
    }
    out
}

/// The value of attribute `name` in an element's attribute text.
fn attr_value<'s>(attrs: &'s str, name: &str) -> Option<&'s str> {
    let mut search = attrs;
    loop {
        let pos = search.find(name)?;
        let before_ok = pos == 0
            || search
                .get(..pos)
                .and_then(|b| b.chars().last())
                .is_some_and(|c| c.is_ascii_whitespace());
        let after = search.get(pos + name.len()..)?;
        let trimmed = after.trim_start();
        if before_ok {
            if let Some(eq) = trimmed.strip_prefix('=') {
                let eq = eq.trim_start();
                let quote = eq.chars().next()?;
                if quote == '"' || quote == '\'' {
                    let body = eq.get(1..)?;
                    let close = body.find(quote)?;
                    return body.get(..close);
                }
            }
        }
        search = after;
    }
}

/// XML text to plain text: the five named entities, numeric character references and CDATA
/// sections. Unknown entities are kept as written.
pub(crate) fn unescape(s: &str) -> String {
    if !s.contains('&') && !s.contains("<![CDATA[") {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            match body.find("]]>") {
                Some(end) => {
                    out.push_str(body.get(..end).unwrap_or_default());
                    rest = body.get(end + 3..).unwrap_or_default();
                }
                None => {
                    out.push_str(body);
                    rest = "";
                }
            }
            continue;
        }
        if rest.starts_with('&') {
            if let Some(semi) = rest.get(..rest.len().min(12)).and_then(|h| h.find(';')) {
                let entity = rest.get(1..semi).unwrap_or_default();
                if let Some(c) = entity_char(entity) {
                    out.push(c);
                    rest = rest.get(semi + 1..).unwrap_or_default();
                    continue;
                }
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

fn entity_char(entity: &str) -> Option<char> {
    match entity {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let num = entity.strip_prefix('#')?;
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_named_and_unnamed_data() {
        let x = "<EventData xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\r\n  \
                 <Data Name=\"ProcessID\">3936</Data>\r\n  <Data Name='Application'>C:\\a&amp;b &lt;x&gt;</Data>\
                 <Data Name=\"Empty\"/><Data>free &#x41;&#66;</Data><DataItem>no</DataItem>\
                 <Data Name=\"C\"><![CDATA[a<b>&amp;]]></Data></EventData>";
        let got = event_data_pairs(x);
        let want: Vec<(Option<String>, String)> = vec![
            (Some("ProcessID".into()), "3936".into()),
            (Some("Application".into()), "C:\\a&b <x>".into()),
            (Some("Empty".into()), String::new()),
            (None, "free AB".into()),
            (Some("C".into()), "a<b>&amp;".into()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn malformed_fragments_do_not_panic() {
        for s in [
            "<Data",
            "<Data Name=",
            "<Data Name=\"x>",
            "<Data>unterminated",
            "&#xFFFFFFFF;",
            "&",
            "<Data Name=\"é\">é&#233;</Data>",
        ] {
            let _ = event_data_pairs(s);
            let _ = unescape(s);
        }
        assert_eq!(unescape("&bogus; &#233;"), "&bogus; é");
    }
}
