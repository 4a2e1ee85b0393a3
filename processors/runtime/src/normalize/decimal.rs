//! Exact decimal numbers for quantities, prices and unit conversion.
//!
//! Vendors send quantities as decimal strings (`"12.000"`, SAP's trailing-minus `"3.000-"`)
//! or JSON numbers, and mappings scale them by a factor (a fraction to a percentage, seconds
//! to milliseconds). Doing that in binary floating point would turn `0.05 * 100` into
//! `5.000000000000001`; here a number is `mantissa * 10^-scale` with an `i128` mantissa, so
//! scaling is exact and a canonical `f64` is produced by one correctly rounded parse at the
//! end. Invariant: `scale <= MAX_SCALE` and the representation is reduced (no trailing zero
//! digit while `scale > 0`), so equal numbers have equal representations.

use std::fmt;

/// Largest number of fraction digits kept: what fits an `i128` mantissa of 10^38.
const MAX_SCALE: u32 = 38;
/// Longest exponent accepted after `e`: keeps the arithmetic bounded.
const MAX_EXPONENT_DIGITS: usize = 4;

/// A decimal number `mantissa * 10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decimal {
    mantissa: i128,
    scale: u32,
}

/// Why a text or number is not a usable decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumberError {
    /// Not a decimal number at all.
    Syntax,
    /// Too large, too small or too precise to represent.
    Range,
    /// Has a fraction where a whole number is required.
    NotWhole,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Syntax => "not a decimal number",
            Self::Range => "number out of range",
            Self::NotWhole => "not a whole number",
        })
    }
}

impl Decimal {
    /// The number one (the default factor).
    pub(crate) const ONE: Self = Self { mantissa: 1, scale: 0 };
    /// Milliseconds per second.
    pub(crate) const ONE_THOUSAND: Self = Self { mantissa: 1000, scale: 0 };

    /// Parses `[+-]digits[.digits][e[+-]digits]` or SAP's `digits[.digits]-`, ignoring
    /// surrounding ASCII whitespace.
    pub(crate) fn parse(text: &str) -> Result<Self, NumberError> {
        let text = text.trim_ascii();
        let (negative, body) = split_sign(text);
        let (body, exponent) = match body.find(['e', 'E']) {
            Some(at) => (&body[..at], parse_exponent(&body[at + 1..])?),
            None => (body, 0),
        };
        let (int, frac) = body.split_once('.').unwrap_or((body, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(NumberError::Syntax);
        }
        let mut mantissa: i128 = 0;
        for byte in int.bytes().chain(frac.bytes()) {
            if !byte.is_ascii_digit() {
                return Err(NumberError::Syntax);
            }
            mantissa = mantissa
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(byte - b'0')))
                .ok_or(NumberError::Range)?;
        }
        let mantissa = if negative { -mantissa } else { mantissa };
        let scale = i64::try_from(frac.len()).map_err(|_| NumberError::Range)? - exponent;
        Self::scaled(mantissa, scale)
    }

    /// The exact value of a JSON number: integers exactly, floats through their shortest
    /// round-trip representation (what the sender most likely wrote).
    pub(crate) fn from_json(number: &serde_json::Number) -> Result<Self, NumberError> {
        if let Some(i) = number.as_i64() {
            return Ok(Self { mantissa: i128::from(i), scale: 0 });
        }
        if let Some(u) = number.as_u64() {
            return Ok(Self { mantissa: i128::from(u), scale: 0 });
        }
        match number.as_f64() {
            Some(f) if f.is_finite() => Self::parse(&f.to_string()),
            _ => Err(NumberError::Range),
        }
    }

    /// The exact decimal value of a finite float's shortest representation.
    pub(crate) fn from_f64(value: f64) -> Result<Self, NumberError> {
        if !value.is_finite() {
            return Err(NumberError::Range);
        }
        Self::parse(&value.to_string())
    }

    /// Exact product.
    pub(crate) fn mul(self, other: Self) -> Result<Self, NumberError> {
        let mantissa = self.mantissa.checked_mul(other.mantissa).ok_or(NumberError::Range)?;
        Self::scaled(mantissa, i64::from(self.scale) + i64::from(other.scale))
    }

    /// The value as an integer; a fraction is an error.
    pub(crate) fn to_i64(self) -> Result<i64, NumberError> {
        if self.scale > 0 {
            return Err(NumberError::NotWhole);
        }
        i64::try_from(self.mantissa).map_err(|_| NumberError::Range)
    }

    /// The largest integer not above the value (drops a sub-unit fraction).
    pub(crate) fn floor_i64(self) -> Result<i64, NumberError> {
        let divisor = 10_i128.checked_pow(self.scale).ok_or(NumberError::Range)?;
        i64::try_from(self.mantissa.div_euclid(divisor)).map_err(|_| NumberError::Range)
    }

    /// The nearest `f64` (one correctly rounded conversion).
    pub(crate) fn to_f64(self) -> Result<f64, NumberError> {
        let value: f64 =
            format!("{}e-{}", self.mantissa, self.scale).parse().map_err(|_| NumberError::Range)?;
        if value.is_finite() { Ok(value) } else { Err(NumberError::Range) }
    }

    /// Builds `mantissa * 10^-scale` for any signed scale, reduced.
    fn scaled(mut mantissa: i128, mut scale: i64) -> Result<Self, NumberError> {
        while scale < 0 {
            mantissa = mantissa.checked_mul(10).ok_or(NumberError::Range)?;
            scale += 1;
        }
        while scale > 0 && mantissa % 10 == 0 {
            mantissa /= 10;
            scale -= 1;
        }
        if mantissa == 0 {
            scale = 0;
        }
        match u32::try_from(scale) {
            Ok(scale) if scale <= MAX_SCALE => Ok(Self { mantissa, scale }),
            _ => Err(NumberError::Range),
        }
    }
}

/// Splits a leading `+`/`-` or SAP's trailing `-` from the digits.
fn split_sign(text: &str) -> (bool, &str) {
    if let Some(rest) = text.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = text.strip_prefix('+') {
        (false, rest)
    } else if let Some(rest) = text.strip_suffix('-') {
        (true, rest)
    } else {
        (false, text)
    }
}

fn parse_exponent(text: &str) -> Result<i64, NumberError> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::Syntax);
    }
    if digits.len() > MAX_EXPONENT_DIGITS {
        return Err(NumberError::Range);
    }
    let value: i64 = digits.parse().map_err(|_| NumberError::Syntax)?;
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn parses_plain_sap_and_exponent_forms_to_one_representation() {
        assert_eq!(d("12.000"), d("12"));
        assert_eq!(d("  12.5 "), d("1.25e1"));
        assert_eq!(d("3.000-"), d("-3"));
        assert_eq!(d("+0.050"), d("5E-2"));
        assert_eq!(d("-0.0"), d("0"));
        assert_eq!(d(".5"), d("0.5"));
        for bad in ["", "-", ".", "1.2.3", "12,5", "1e", "e5", "0x10", "1-2"] {
            assert_eq!(Decimal::parse(bad), Err(NumberError::Syntax), "{bad:?}");
        }
        assert_eq!(Decimal::parse("1e99999"), Err(NumberError::Range));
        assert_eq!(Decimal::parse("1e-40"), Err(NumberError::Range));
        assert_eq!(Decimal::parse(&"9".repeat(40)), Err(NumberError::Range));
    }

    #[test]
    fn scaling_is_exact_where_binary_floats_are_not() {
        assert_ne!(0.07_f64 * 100.0, 7.0);
        assert_eq!(d("0.07").mul(d("100")).unwrap().to_f64(), Ok(7.0));
        assert_eq!(d("1767254401.15").mul(d("1000")).unwrap().to_i64(), Ok(1_767_254_401_150));
        assert_eq!(d("12.34").to_f64(), Ok(12.34));
    }

    #[test]
    fn whole_floor_and_range_conversions() {
        assert_eq!(d("12.5").to_i64(), Err(NumberError::NotWhole));
        assert_eq!(d("12.5").floor_i64(), Ok(12));
        assert_eq!(d("-12.5").floor_i64(), Ok(-13));
        assert_eq!(d("9223372036854775808").to_i64(), Err(NumberError::Range));
        assert_eq!(d("-9223372036854775808").to_i64(), Ok(i64::MIN));
        let json: serde_json::Number = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(Decimal::from_json(&json).unwrap().to_i64(), Err(NumberError::Range));
        let json: serde_json::Number = serde_json::from_str("0.1").unwrap();
        assert_eq!(Decimal::from_json(&json), Ok(d("0.1")));
        assert_eq!(Decimal::from_f64(f64::NAN), Err(NumberError::Range));
    }
}
