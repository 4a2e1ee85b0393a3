//! Times and durations in scenario files.
//!
//! A duration is an integer or float number of **minutes** (`90`, `1.5`), or a string with a
//! unit: `"1500ms"`, `"90s"`, `"30m"`, `"2h"`, `"1d"` (negative allowed: `"-5m"`). A point in
//! time is a duration after the scenario start, or an RFC 3339 date-time (TOML datetime or
//! string) with an offset, e.g. `2025-03-03T08:00:00Z`.

use toml::Value;
use toml::value::{Datetime, Offset};

const UNITS: [(&str, f64); 5] =
    [("ms", 1.0), ("s", 1_000.0), ("m", 60_000.0), ("h", 3_600_000.0), ("d", 86_400_000.0)];

/// A duration in ms.
pub(super) fn duration_ms(value: &Value) -> Result<i64, String> {
    let ms = match value {
        Value::Integer(minutes) => (*minutes as f64) * 60_000.0,
        Value::Float(minutes) => minutes * 60_000.0,
        Value::String(text) => with_unit(text)?,
        other => return Err(format!("expected a duration, found {}", other.type_str())),
    };
    if ms.is_finite() && ms.abs() < 1e17 {
        Ok(ms.round() as i64)
    } else {
        Err(format!("duration {value} is out of range"))
    }
}

fn with_unit(text: &str) -> Result<f64, String> {
    let text = text.trim();
    // "ms" is tried before "m" and "s" because UNITS lists it first.
    for (unit, factor) in UNITS {
        if let Some(number) = text.strip_suffix(unit)
            && let Ok(n) = number.trim().parse::<f64>()
        {
            return Ok(n * factor);
        }
    }
    Err(format!("{text:?} is not a duration like \"90s\", \"30m\" or \"2h\""))
}

/// A point in time in ms: relative to `start`, or absolute.
pub(super) fn instant_ms(value: &Value, start: i64) -> Result<i64, String> {
    match value {
        Value::Datetime(dt) => datetime_ms(dt),
        Value::String(text) => match text.parse::<Datetime>() {
            Ok(dt) => datetime_ms(&dt),
            Err(_) => Ok(start.saturating_add(duration_ms(value)?)),
        },
        other => Ok(start.saturating_add(duration_ms(other)?)),
    }
}

/// UTC ms of an RFC 3339 date-time with offset.
pub(super) fn datetime_ms(dt: &Datetime) -> Result<i64, String> {
    let (Some(date), Some(time), Some(offset)) = (dt.date, dt.time, dt.offset) else {
        return Err(format!("{dt} needs a date, a time and an offset (e.g. Z)"));
    };
    let days = days_from_civil(i64::from(date.year), i64::from(date.month), i64::from(date.day));
    let seconds = days * 86_400
        + i64::from(time.hour) * 3_600
        + i64::from(time.minute) * 60
        + i64::from(time.second);
    let offset_minutes = match offset {
        Offset::Z => 0,
        Offset::Custom { minutes } => i64::from(minutes),
    };
    Ok((seconds - offset_minutes * 60) * 1_000 + i64::from(time.nanosecond / 1_000_000))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_ms(&Value::Integer(2)), Ok(120_000));
        assert_eq!(duration_ms(&Value::Float(0.5)), Ok(30_000));
        assert_eq!(duration_ms(&Value::String("1500ms".into())), Ok(1_500));
        assert_eq!(duration_ms(&Value::String("-5m".into())), Ok(-300_000));
        assert_eq!(duration_ms(&Value::String("2h".into())), Ok(7_200_000));
        assert!(duration_ms(&Value::String("soon".into())).is_err());
    }

    #[test]
    fn datetimes() {
        let epoch: Datetime = "1970-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(datetime_ms(&epoch), Ok(0));
        let t: Datetime = "2025-03-03T08:00:00.250+01:00".parse().unwrap();
        assert_eq!(datetime_ms(&t), Ok(1_740_985_200_250));
        let leap: Datetime = "2024-02-29T00:00:00Z".parse().unwrap();
        assert_eq!(datetime_ms(&leap), Ok(1_709_164_800_000));
        let local: Datetime = "2025-03-03T08:00:00".parse().unwrap();
        assert!(datetime_ms(&local).is_err());
    }

    #[test]
    fn instants_are_relative_unless_absolute() {
        assert_eq!(instant_ms(&Value::Integer(1), 1_000), Ok(61_000));
        assert_eq!(instant_ms(&Value::String("1970-01-01T00:00:01Z".into()), 5), Ok(1_000));
    }
}
