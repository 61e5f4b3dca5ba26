//! PostgreSQL's binary `numeric` format, to and from the exact decimal text Fathom stores.
//!
//! Decimals travel as text that keeps its scale (`"12.50"`); `numeric` keeps the scale too (its
//! display scale), so a value reads back exactly as written, at any precision.

use std::error::Error;
use std::fmt;

use bytes::BytesMut;
use tokio_postgres::types::{FromSql, Type};

use crate::error::{StoreError, StoreErrorKind};

const POSITIVE: u16 = 0x0000;
const NEGATIVE: u16 = 0x4000;
const NAN: u16 = 0xC000;

/// A decimal in `numeric`'s base-10000 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Numeric {
    /// Base-10000 digits, most significant first, without leading or trailing zero groups.
    digits: Vec<i16>,
    /// The power of 10000 of the first digit.
    weight: i16,
    sign: u16,
    /// Decimal digits after the point.
    scale: u16,
}

impl Numeric {
    /// Parses `-?[0-9]+(\.[0-9]+)?`.
    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        let invalid = || {
            StoreError::new(
                StoreErrorKind::CheckViolation,
                format!("{text:?} is not a decimal"),
            )
        };
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty()
            || !is_digits(int)
            || !is_digits(frac)
            || (unsigned.contains('.') && frac.is_empty())
        {
            return Err(invalid());
        }
        let scale = u16::try_from(frac.len()).map_err(|_| invalid())?;
        let int_pad = (4 - int.len() % 4) % 4;
        let frac_pad = (4 - frac.len() % 4) % 4;
        let padded: String = "0".repeat(int_pad) + int + frac + &"0".repeat(frac_pad);
        let mut groups: Vec<i16> = padded
            .as_bytes()
            .chunks(4)
            .map(|chunk| {
                chunk
                    .iter()
                    .fold(0i16, |acc, b| acc * 10 + i16::from(b - b'0'))
            })
            .collect();
        let mut weight = i16::try_from((int.len() + int_pad) / 4).map_err(|_| invalid())? - 1;
        let leading = groups.iter().take_while(|g| **g == 0).count();
        groups.drain(..leading);
        weight -= i16::try_from(leading).map_err(|_| invalid())?;
        while groups.last() == Some(&0) {
            groups.pop();
        }
        if groups.is_empty() {
            weight = 0;
        }
        let sign = if negative && !groups.is_empty() {
            NEGATIVE
        } else {
            POSITIVE
        };
        Ok(Self {
            digits: groups,
            weight,
            sign,
            scale,
        })
    }

    /// Appends the binary form.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        let ndigits = i16::try_from(self.digits.len()).unwrap_or(i16::MAX);
        out.extend_from_slice(&ndigits.to_be_bytes());
        out.extend_from_slice(&self.weight.to_be_bytes());
        out.extend_from_slice(&self.sign.to_be_bytes());
        out.extend_from_slice(&self.scale.to_be_bytes());
        for digit in &self.digits {
            out.extend_from_slice(&digit.to_be_bytes());
        }
    }

    /// The digit group at power `exponent` of 10000.
    fn group(&self, exponent: i32) -> i16 {
        usize::try_from(i32::from(self.weight) - exponent)
            .ok()
            .and_then(|i| self.digits.get(i).copied())
            .unwrap_or(0)
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.sign == NAN {
            return f.write_str("NaN");
        }
        if self.sign == NEGATIVE {
            f.write_str("-")?;
        }
        let top = i32::from(self.weight).max(0);
        write!(f, "{}", self.group(top))?;
        for exponent in (0..top).rev() {
            write!(f, "{:04}", self.group(exponent))?;
        }
        if self.scale > 0 {
            let mut fraction = String::new();
            let groups = (i32::from(self.scale) + 3) / 4;
            for exponent in 1..=groups {
                fraction.push_str(&format!("{:04}", self.group(-exponent)));
            }
            fraction.truncate(usize::from(self.scale));
            write!(f, ".{fraction}")?;
        }
        Ok(())
    }
}

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let word = |at: usize| -> Result<[u8; 2], Box<dyn Error + Sync + Send>> {
            raw.get(at..at + 2)
                .and_then(|b| <[u8; 2]>::try_from(b).ok())
                .ok_or_else(|| "a truncated numeric".into())
        };
        let ndigits = usize::try_from(i16::from_be_bytes(word(0)?))?;
        let weight = i16::from_be_bytes(word(2)?);
        let sign = u16::from_be_bytes(word(4)?);
        let scale = u16::from_be_bytes(word(6)?);
        let digits = (0..ndigits)
            .map(|n| word(8 + 2 * n).map(i16::from_be_bytes))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            digits,
            weight,
            sign,
            scale,
        })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let mut out = BytesMut::new();
        Numeric::parse(text).unwrap().encode(&mut out);
        Numeric::from_sql(&Type::NUMERIC, &out).unwrap().to_string()
    }

    #[test]
    fn decimals_round_trip_exactly_with_their_scale() {
        for text in [
            "0",
            "0.0",
            "1",
            "1.50",
            "-0.5",
            "12345678.9",
            "10000",
            "99990000.00001",
            "1.000000000000000000001",
            "9007199254740993",
            "0.0001",
            "-123456789012345678901234567890.123",
        ] {
            assert_eq!(round_trip(text), text);
        }
        assert_eq!(round_trip("-0.00"), "0.00");
        assert_eq!(round_trip("+7"), "7");
    }

    #[test]
    fn the_binary_form_matches_postgres() {
        // 1234.5 is weight 0, digits [1234, 5000], scale 1.
        let n = Numeric::parse("1234.5").unwrap();
        assert_eq!(
            (n.digits.clone(), n.weight, n.scale),
            (vec![1234, 5000], 0, 1)
        );
        // 0.0001 is weight -1, digits [1].
        let n = Numeric::parse("0.0001").unwrap();
        assert_eq!((n.digits.clone(), n.weight), (vec![1], -1));
    }

    #[test]
    fn junk_is_refused() {
        for text in ["", "-", "1.", ".5", "1e5", "NaN", "1.2.3", "abc"] {
            assert!(Numeric::parse(text).is_err(), "{text}");
        }
    }
}
