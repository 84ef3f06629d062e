//! Lenient dates and durations as feeds write them.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Parses a feed date: RFC 822/2822 as RSS writes it (with the usual sins:
/// full month names, missing weekday or seconds, 2-digit years, US zone
/// names, `AM`/`PM`), or RFC 3339/ISO 8601 as Atom writes it (date only,
/// space instead of `T`, missing zone = UTC). `None` when it is not a date.
pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.len() < 6 || s.len() > 64 {
        return None;
    }
    if s.as_bytes()[..4].iter().all(u8::is_ascii_digit) && s.as_bytes()[4] == b'-' {
        return parse_iso(s);
    }
    parse_rfc822ish(s)
}

fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    let s = s.replacen(' ', "T", 1);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(&s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    let naive = s.trim_end_matches(['Z', 'z']);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    let date = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)))
}

/// Token-based RFC 822 reading: the month is a name, a 4-digit number is the
/// year, the first small number is the day, `h:m[:s]` is the time, and a
/// zone is a name or `±hhmm`.
fn parse_rfc822ish(s: &str) -> Option<DateTime<Utc>> {
    let (mut day, mut month, mut year) = (None, None, None);
    let mut time: Option<(u32, u32, u32)> = None;
    let mut offset_secs: i32 = 0;
    let mut pm: Option<bool> = None;
    for tok in s
        .split([' ', ',', '\t', '\n', '\r'])
        .filter(|t| !t.is_empty())
    {
        let first = tok.as_bytes()[0];
        if first.is_ascii_digit() && tok.contains(':') {
            // "10:00:00", possibly glued to a zone: "10:00:00+0200", "10:00Z".
            let split = tok.find(['+', '-', 'Z', 'z']).unwrap_or(tok.len());
            time = Some(parse_clock(&tok[..split])?);
            if split < tok.len() {
                offset_secs = zone_offset(&tok[split..])?;
            }
        } else if tok.bytes().all(|b| b.is_ascii_digit()) {
            let n: u32 = tok.parse().ok()?;
            if tok.len() == 4 {
                year = Some(i32::try_from(n).ok()?);
            } else if day.is_none() && tok.len() <= 2 {
                day = Some(n);
            } else if year.is_none() && tok.len() == 2 {
                // Two-digit years: 70–99 are 19xx, the rest 20xx.
                year = Some(i32::try_from(if n >= 70 { 1900 + n } else { 2000 + n }).ok()?);
            }
        } else if first == b'+' || first == b'-' {
            offset_secs = zone_offset(tok)?;
        } else if first.is_ascii_alphabetic() {
            if month.is_none()
                && let Some(m) = month_number(tok)
            {
                month = Some(m);
            } else if tok.eq_ignore_ascii_case("pm") {
                pm = Some(true);
            } else if tok.eq_ignore_ascii_case("am") {
                pm = Some(false);
            } else if let Some(off) = zone_offset(tok) {
                offset_secs = off;
            }
            // Anything else (weekday names, "at", unknown zones) is ignored.
        } else if let Some(d) = tok.strip_suffix(['.']).and_then(|t| t.parse::<u32>().ok()) {
            day.get_or_insert(d);
        }
    }
    let date = NaiveDate::from_ymd_opt(year?, month?, day?)?;
    let (mut h, m, sec) = time.unwrap_or((0, 0, 0));
    match pm {
        Some(true) if h < 12 => h += 12,
        Some(false) if h == 12 => h = 0,
        _ => {}
    }
    let naive = date.and_time(NaiveTime::from_hms_opt(h, m, sec.min(59))?);
    let offset = FixedOffset::east_opt(offset_secs)?;
    let local = offset.from_local_datetime(&naive).single()?;
    Some(local.with_timezone(&Utc))
}

fn parse_clock(s: &str) -> Option<(u32, u32, u32)> {
    let mut parts = s.split(':');
    let h = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let sec = match parts.next() {
        Some(p) => p.split(['.', ',']).next()?.parse().ok()?,
        None => 0,
    };
    (h < 24 && m < 60 && sec <= 60).then_some((h, m, sec))
}

fn month_number(tok: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let tok = tok.trim_end_matches('.');
    if tok.len() < 3 || !tok.is_ascii() {
        return None;
    }
    let head = &tok.as_bytes()[..3];
    let n = MONTHS
        .iter()
        .position(|m| head.eq_ignore_ascii_case(m.as_bytes()))?;
    u32::try_from(n + 1).ok()
}

/// Seconds east of UTC for a zone token: `+0200`, `-05:00`, `+02`, `GMT`, `EST`…
fn zone_offset(tok: &str) -> Option<i32> {
    let b = tok.as_bytes();
    if b[0] == b'+' || b[0] == b'-' {
        let sign = if b[0] == b'-' { -1 } else { 1 };
        // The digits after the sign, any separator (`:`) skipped.
        let mut digits = [0i32; 4];
        let mut len = 0;
        for d in b[1..].iter().filter(|d| d.is_ascii_digit()) {
            *digits.get_mut(len)? = i32::from(d - b'0');
            len += 1;
        }
        let number = |ds: &[i32]| ds.iter().fold(0, |n, d| n * 10 + d);
        let (h, m): (i32, i32) = match len {
            1 | 2 => (number(&digits[..len]), 0),
            3 | 4 => (number(&digits[..len - 2]), number(&digits[len - 2..len])),
            _ => return None,
        };
        return (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60));
    }
    const ZONES: [(&str, i32); 27] = [
        ("GMT", 0),
        ("UT", 0),
        ("UTC", 0),
        ("Z", 0),
        ("WET", 0),
        ("EST", -5),
        ("EDT", -4),
        ("CST", -6),
        ("CDT", -5),
        ("MST", -7),
        ("MDT", -6),
        ("PST", -8),
        ("PDT", -7),
        ("AKST", -9),
        ("AKDT", -8),
        ("HST", -10),
        ("BST", 1),
        ("CET", 1),
        ("WEST", 1),
        ("CEST", 2),
        ("EET", 2),
        ("EEST", 3),
        ("MSK", 3),
        ("JST", 9),
        ("KST", 9),
        ("AEST", 10),
        ("AEDT", 11),
    ];
    let (_, hours) = ZONES
        .iter()
        .find(|(name, _)| tok.eq_ignore_ascii_case(name))?;
    Some(hours * 3600)
}

/// Parses `itunes:duration`: `HH:MM:SS`, `MM:SS`, or plain seconds (possibly
/// fractional). `None` for anything else.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let parts = 1 + s.bytes().filter(|b| *b == b':').count();
    if parts > 3 {
        return None;
    }
    for (i, part) in s.split(':').enumerate() {
        let last = i + 1 == parts;
        let v: f64 = if last {
            let part = part.trim();
            if part.contains(',') {
                part.replace(',', ".").parse().ok()?
            } else {
                part.parse().ok()?
            }
        } else {
            f64::from(part.trim().parse::<u32>().ok()?)
        };
        if !v.is_finite() || v < 0.0 {
            return None;
        }
        total = total * 60.0 + v;
    }
    // Ten days is longer than any episode; bigger numbers are junk (milliseconds, IDs).
    if total > 864_000.0 {
        return None;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "checked finite, 0..=864000 above"
    )]
    Some(total.floor() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn rfc822_as_feeds_write_it() {
        let cases = [
            ("Wed, 15 Jun 2005 19:00:00 GMT", "2005-06-15T19:00:00Z"),
            ("Sun, 12 August 2012 10:00:00 EST", "2012-08-12T15:00:00Z"),
            ("Tue, 10 Jun 2003 04:00:00 +0200", "2003-06-10T02:00:00Z"),
            ("10 Jun 2003 04:00 -0500", "2003-06-10T09:00:00Z"),
            ("Mon, 06 Sep 21 16:45:00 PDT", "2021-09-06T23:45:00Z"),
            ("Fri, 1 Mar 2024 09:05:00", "2024-03-01T09:05:00Z"),
            ("August 12, 2012 10:00 PM EDT", "2012-08-13T02:00:00Z"),
            ("Thu, 04 Apr 2019 12:00:00+02:00", "2019-04-04T10:00:00Z"),
            ("Sat, 21 Mar 2020", "2020-03-21T00:00:00Z"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_date(input), Some(utc(want)), "{input}");
        }
    }

    #[test]
    fn iso_dates_as_atom_writes_them() {
        assert_eq!(
            parse_date("2021-04-15T10:00:00Z"),
            Some(utc("2021-04-15T10:00:00Z"))
        );
        assert_eq!(
            parse_date("2021-04-15T12:00:00.123+02:00").map(|d| d.timestamp()),
            Some(1_618_480_800)
        );
        assert_eq!(
            parse_date("2021-04-15 10:00:00"),
            Some(utc("2021-04-15T10:00:00Z"))
        );
        assert_eq!(parse_date("2021-04-15"), Some(utc("2021-04-15T00:00:00Z")));
        assert_eq!(
            parse_date("2021-04-15T10:00:00+0000"),
            Some(utc("2021-04-15T10:00:00Z"))
        );
    }

    #[test]
    fn junk_is_not_a_date() {
        for junk in [
            "",
            "soon",
            "Sun, 31 Feb 2021 10:00:00 GMT",
            "12:00",
            "2021-13-45",
            "Mon, 99 Foo 2021",
            "x".repeat(100).as_str(),
        ] {
            assert_eq!(parse_date(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn durations_in_every_shape() {
        assert_eq!(parse_duration("01:02:03"), Some(3723));
        assert_eq!(parse_duration("7:04"), Some(424));
        assert_eq!(parse_duration("3600"), Some(3600));
        assert_eq!(parse_duration(" 95.7 "), Some(95));
        assert_eq!(parse_duration("0:00:59,5"), Some(59));
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("1:2:3:4"), None);
        assert_eq!(parse_duration("about an hour"), None);
        assert_eq!(parse_duration("-5"), None);
        assert_eq!(parse_duration("99999999"), None);
    }
}
