//! Canonical values written the way vendors write them: calendar dates and times, SAP
//! decimal quantities, fractions of percentages.
//!
//! Each function is the inverse of one parser in invex-runtime's normalize layer, exact for
//! years 0000 to 9999 (the range those formats can express).

use std::fmt::Write as _;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The proleptic Gregorian date of a day number (days since 1970-01-01).
///
/// Inverse of the era decomposition in the normalize layer: 400-year eras of 146 097 days,
/// years starting in March so the leap day ends the year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month =
        (if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 }) as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `(days since the epoch, milliseconds into that day)` of a UTC time.
pub(crate) fn split_ms(ms: i64) -> (i64, i64) {
    (ms.div_euclid(DAY_MS), ms.rem_euclid(DAY_MS))
}

/// `YYYY-MM-DD`.
pub(crate) fn iso_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYYMMDD`.
pub(crate) fn yyyymmdd(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}")
}

/// `HHMMSS` of milliseconds into a day.
pub(crate) fn hhmmss(ms_of_day: i64) -> String {
    let s = ms_of_day / 1_000;
    format!("{:02}{:02}{:02}", s / 3_600, s / 60 % 60, s % 60)
}

/// The millisecond within its second, three digits.
pub(crate) fn millis(ms_of_day: i64) -> String {
    format!("{:03}", ms_of_day % 1_000)
}

/// Minutes east of UTC of `+HH:MM` / `-HH:MM`, if it is one.
fn offset_minutes(offset: &str) -> Option<i64> {
    let b = offset.as_bytes();
    let [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] = *b else { return None };
    let digit = |c: u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
    let hours = digit(h1)? * 10 + digit(h2)?;
    let minutes = digit(m1)? * 10 + digit(m2)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(if sign == b'-' { -(hours * 60 + minutes) } else { hours * 60 + minutes })
}

/// RFC 3339 with milliseconds, in the local time of `offset` (`Z` when it is not an offset).
pub(crate) fn rfc3339(ms: i64, offset: &str) -> String {
    let minutes = offset_minutes(offset);
    let local = ms.saturating_add(minutes.unwrap_or(0) * 60_000);
    let (days, in_day) = split_ms(local);
    let (y, m, d) = civil_from_days(days);
    let s = in_day / 1_000;
    let mut out = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        s / 3_600,
        s / 60 % 60,
        s % 60,
        in_day % 1_000
    );
    out.push_str(if minutes.is_some() { offset } else { "Z" });
    out
}

/// Epoch seconds with a millisecond fraction, as a JSON number token (`1767254401.150`).
pub(crate) fn epoch_seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1_000), ms.rem_euclid(1_000))
}

/// An SAP quantity: three decimals, a trailing minus when negative (`3.000-`).
pub(crate) fn sap_quantity(qty: i64) -> String {
    let sign = if qty < 0 { "-" } else { "" };
    format!("{}.000{sign}", qty.unsigned_abs())
}

/// A float as plain decimal text (shortest form that reads back to the same float).
pub(crate) fn decimal(value: f64) -> String {
    format!("{value}")
}

/// `value / 100` as a JSON number token, computed on the decimal text so it is exact:
/// a percentage written as the fraction vendors send (`5` becomes `0.05`).
pub(crate) fn fraction_of_percent(value: f64) -> String {
    let text = decimal(value);
    let (sign, digits) = text.strip_prefix('-').map_or(("", text.as_str()), |d| ("-", d));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let padded = format!("{int:0>3}");
    let (whole, cents) = padded.split_at(padded.len() - 2);
    let whole = whole.trim_start_matches('0');
    let mut out = String::new();
    let _ = write!(out, "{sign}{}.{cents}{frac}", if whole.is_empty() { "0" } else { whole });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_767_254_400_000; // 2026-01-01T08:00:00Z

    #[test]
    fn dates_and_times() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(iso_date(START / DAY_MS), "2026-01-01");
        assert_eq!(yyyymmdd(START / DAY_MS), "20260101");
        let (_, in_day) = split_ms(START + 1_250);
        assert_eq!((hhmmss(in_day), millis(in_day)), ("080001".into(), "250".into()));
        assert_eq!(rfc3339(START + 500, "+01:00"), "2026-01-01T09:00:00.500+01:00");
        assert_eq!(rfc3339(START, "-00:30"), "2026-01-01T07:30:00.000-00:30");
        assert_eq!(rfc3339(START, "CET"), "2026-01-01T08:00:00.000Z");
        assert_eq!(epoch_seconds(-1_500), "-2.500");
    }

    #[test]
    fn numbers() {
        assert_eq!(sap_quantity(12), "12.000");
        assert_eq!(sap_quantity(-3), "3.000-");
        assert_eq!(sap_quantity(i64::MIN), "9223372036854775808.000-");
        assert_eq!(fraction_of_percent(5.0), "0.05");
        assert_eq!(fraction_of_percent(12.5), "0.125");
        assert_eq!(fraction_of_percent(150.0), "1.50");
        assert_eq!(fraction_of_percent(-0.5), "-0.005");
        assert_eq!(decimal(12.34), "12.34");
    }
}
