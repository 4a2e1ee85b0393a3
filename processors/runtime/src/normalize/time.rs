//! Calendar arithmetic and the time formats vendors send.
//!
//! Canonical times are UTC milliseconds since the epoch and dates are days since the epoch
//! (invex-model conventions). Parsing is strict about the calendar (no 31 April, no hour 24,
//! no leap second) because a record with an impossible time is poison, not something to
//! guess at; it is lenient where real senders differ harmlessly: `t`, `T` or a space between
//! date and time, `Z` or `z`, any number of fraction digits (precision below a millisecond is
//! dropped). Years are four digits, 0000 to 9999.

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (valid inputs only).
///
/// The era decomposition (400-year cycles of 146 097 days, March-based years so that the
/// leap day is the last day of a year) keeps the computation branch-free and exact.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// A fixed-width run of ASCII digits as a number.
fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(text.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
}

/// Days since the epoch of a year/month/day, checking the calendar.
fn checked_days(year: u32, month: u32, day: u32) -> Result<i64, &'static str> {
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day == 0 || day > days_in_month(i64::from(year), month) {
        return Err("day out of range for its month");
    }
    Ok(days_from_civil(i64::from(year), month, day))
}

/// Milliseconds of a time of day, checking the clock.
fn checked_clock(hour: u32, minute: u32, second: u32) -> Result<i64, &'static str> {
    if hour > 23 || minute > 59 || second > 59 {
        return Err("time of day out of range");
    }
    Ok(i64::from(hour * 3_600 + minute * 60 + second) * 1_000)
}

/// `YYYY-MM-DD` as days since the epoch.
pub(crate) fn parse_iso_date(text: &str) -> Result<i64, &'static str> {
    iso_date(text.as_bytes())
}

fn iso_date(b: &[u8]) -> Result<i64, &'static str> {
    const SHAPE: &str = "expected YYYY-MM-DD";
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(SHAPE);
    }
    let (Some(y), Some(m), Some(d)) = (digits(&b[..4]), digits(&b[5..7]), digits(&b[8..])) else {
        return Err(SHAPE);
    };
    checked_days(y, m, d)
}

/// `YYYYMMDD` as days since the epoch; SAP's empty date `00000000` is `None`.
pub(crate) fn parse_yyyymmdd(text: &str) -> Result<Option<i64>, &'static str> {
    let b = text.as_bytes();
    if text == "00000000" {
        return Ok(None);
    }
    match (b.len(), b.get(..4).and_then(digits), b.get(4..6).and_then(digits), b.get(6..)) {
        (8, Some(y), Some(m), Some(d)) => match digits(d) {
            Some(d) => checked_days(y, m, d).map(Some),
            None => Err("expected YYYYMMDD"),
        },
        _ => Err("expected YYYYMMDD"),
    }
}

/// `HHMMSS` as milliseconds since midnight.
pub(crate) fn parse_hhmmss(text: &str) -> Result<i64, &'static str> {
    let b = text.as_bytes();
    if b.len() != 6 {
        return Err("expected HHMMSS");
    }
    match (digits(&b[..2]), digits(&b[2..4]), digits(&b[4..])) {
        (Some(h), Some(m), Some(s)) => checked_clock(h, m, s),
        _ => Err("expected HHMMSS"),
    }
}

/// An RFC 3339 date-time as UTC milliseconds since the epoch.
pub(crate) fn parse_rfc3339(text: &str) -> Result<i64, &'static str> {
    const SHAPE: &str = "expected an RFC 3339 date-time like 2026-01-01T08:00:00.000+01:00";
    let b = text.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return Err(SHAPE);
    }
    let days = iso_date(&b[..10])?;
    let (Some(h), Some(m), Some(s)) = (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19]))
    else {
        return Err(SHAPE);
    };
    let clock = checked_clock(h, m, s)?;
    let (millis, rest) = fraction_millis(&b[19..]);
    let offset = parse_offset(rest).ok_or(SHAPE)?;
    Ok(days * DAY_MS + clock + millis - offset)
}

/// An optional `.digits` fraction: its whole milliseconds and the bytes after it.
fn fraction_millis(b: &[u8]) -> (i64, &[u8]) {
    let Some(rest) = b.strip_prefix(b".") else { return (0, b) };
    let len = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if len == 0 {
        return (0, b);
    }
    let millis = rest[..len.min(3)]
        .iter()
        .chain(std::iter::repeat_n(&b'0', 3usize.saturating_sub(len)))
        .fold(0, |n, c| n * 10 + i64::from(c - b'0'));
    (millis, &rest[len..])
}

/// `Z`, `z` or `+HH:MM`/`-HH:MM` (the whole remaining text) as milliseconds east of UTC.
fn parse_offset(b: &[u8]) -> Option<i64> {
    match b {
        b"Z" | b"z" => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let millis = i64::from(hours * 60 + minutes) * 60_000;
            Some(if *sign == b'-' { -millis } else { millis })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_767_254_400_000; // 2026-01-01T08:00:00Z

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        assert_eq!(parse_iso_date("2026-01-01"), Ok(START / DAY_MS));
        assert_eq!(parse_iso_date("2024-02-29"), Ok(19_782));
        assert_eq!(parse_iso_date("2023-02-29"), Err("day out of range for its month"));
        assert_eq!(parse_iso_date("2026-13-01"), Err("month out of range"));
        assert!(parse_iso_date("2026-1-01").is_err());
    }

    #[test]
    fn rfc3339_with_offsets_fractions_and_separators() {
        assert_eq!(parse_rfc3339("2026-01-01T08:00:00Z"), Ok(START));
        assert_eq!(parse_rfc3339("2026-01-01T09:00:00.5+01:00"), Ok(START + 500));
        assert_eq!(parse_rfc3339("2026-01-01 07:30:00.123456-00:30"), Ok(START + 123));
        assert_eq!(parse_rfc3339("2026-01-01t08:00:00z"), Ok(START));
        for bad in [
            "2026-01-01T08:00:00",
            "2026-01-01T24:00:00Z",
            "2026-01-01T08:00:60Z",
            "2026-01-01T08:00:00+1:00",
            "2026-01-01T08:00:00.Z",
            "2026-01-01T08:00:00+24:00",
            "2026-01-01T08:00:00Zjunk",
            "2026-01-01",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sap_dates_and_times() {
        assert_eq!(parse_yyyymmdd("20260101"), Ok(Some(START / DAY_MS)));
        assert_eq!(parse_yyyymmdd("00000000"), Ok(None));
        assert!(parse_yyyymmdd("2026011").is_err());
        assert!(parse_yyyymmdd("20260230").is_err());
        assert!(parse_yyyymmdd("2026-1-1").is_err());
        assert_eq!(parse_hhmmss("080001"), Ok(8 * 3_600_000 + 1_000));
        assert!(parse_hhmmss("08:00").is_err());
        assert!(parse_hhmmss("250000").is_err());
    }
}
