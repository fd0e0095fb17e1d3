//! Timestamps in the shapes telemetry writes them, to Unix epoch milliseconds.
//!
//! Accepted: integers and floats (seconds below 1e11, milliseconds below 1e14, microseconds
//! above), digit-only strings the same way, and `YYYY-MM-DD[T ]hh:mm[:ss[.fraction]]` with an
//! optional `Z`, `±hh:mm`, `±hhmm` or `±hh` offset (no offset means UTC: the Windows and Sysmon
//! `UtcTime` convention). Anything else, or a date outside 1970–9999, is `None`.

/// Parses a timestamp string to epoch milliseconds.
pub fn parse_time_str(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s.parse::<f64>().ok().and_then(number_to_ms);
    }
    parse_datetime(s.as_bytes())
}

/// Interprets a number as seconds, milliseconds or microseconds since the epoch by magnitude.
pub fn number_to_ms(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let ms = if n < 1e11 {
        n * 1000.0
    } else if n < 1e14 {
        n
    } else if n < 1e17 {
        n / 1000.0
    } else {
        return None;
    };
    Some(ms.round() as i64)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = b.get(at..at + n)?;
    let mut v = 0i64;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn parse_datetime(b: &[u8]) -> Option<i64> {
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let mut i = 10;
    let (mut hour, mut min, mut sec, mut frac_ms) = (0, 0, 0, 0i64);
    if matches!(b.get(i), Some(b'T' | b't' | b' ')) {
        hour = digits(b, i + 1, 2)?;
        if b.get(i + 3) != Some(&b':') {
            return None;
        }
        min = digits(b, i + 4, 2)?;
        i += 6;
        if b.get(i) == Some(&b':') {
            sec = digits(b, i + 1, 2)?;
            i += 3;
            if matches!(b.get(i), Some(b'.' | b',')) {
                i += 1;
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let frac = b.get(start..i)?;
                if frac.is_empty() {
                    return None;
                }
                // First three digits are milliseconds; the rest is truncated.
                let mut ms = 0i64;
                for k in 0..3 {
                    ms = ms * 10 + frac.get(k).map_or(0, |c| i64::from(c - b'0'));
                }
                frac_ms = ms;
            }
        }
    }
    let offset_min = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let om = match b.len() - (i + 3) {
                0 => 0,
                2 => digits(b, i + 3, 2)?,
                3 if b.get(i + 3) == Some(&b':') => digits(b, i + 4, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || min > 59
        || sec > 60
    {
        return None;
    }
    let days = shrike_types::days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_min * 60;
    if secs < 0 {
        return None;
    }
    Some(secs * 1000 + frac_ms)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_seen_in_telemetry() {
        // Sysmon UtcTime / NXLog without a zone: UTC.
        assert_eq!(
            parse_time_str("2020-10-18 10:56:18.799"),
            Some(1_603_018_578_799)
        );
        // EVTX SystemTime, 7 fractional digits.
        assert_eq!(
            parse_time_str("2019-05-12T18:35:05.1559493Z"),
            Some(1_557_686_105_155)
        );
        // Suricata: offset without a colon.
        assert_eq!(
            parse_time_str("2018-03-24T11:51:02.123456-0600"),
            Some(1_521_913_862_123)
        );
        assert_eq!(
            parse_time_str("2018-03-24T17:51:02.123456+00:00"),
            Some(1_521_913_862_123)
        );
        // CloudTrail.
        assert_eq!(
            parse_time_str("2019-01-01T00:00:00Z"),
            Some(1_546_300_800_000)
        );
        // Zeek epoch seconds as a string and as a number.
        assert_eq!(parse_time_str("1521911720.600843"), Some(1_521_911_720_601));
        assert_eq!(number_to_ms(1_521_911_720.5), Some(1_521_911_720_500));
        assert_eq!(number_to_ms(1_521_911_720_500.0), Some(1_521_911_720_500));
        assert_eq!(parse_time_str("2024-02-29"), Some(1_709_164_800_000));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "",
            "x",
            "2020-13-01",
            "2021-02-29T00:00:00Z",
            "2020-01-01T25:00:00Z",
            "1969-12-31",
            "2020-01-01T00:00:00+2400",
            "2020-01-01T00:00:00Zjunk",
            "2020-01-01T00:00:00.Z",
            "-5",
        ] {
            assert_eq!(parse_time_str(s), None, "{s}");
        }
        assert_eq!(number_to_ms(f64::NAN), None);
        assert_eq!(number_to_ms(-1.0), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_time_str(&s);
        }
    }
}
