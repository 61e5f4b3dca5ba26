//! [`Quota`]: how many requests a window allows, written as `"600/min"` in the configuration.

use std::fmt;
use std::time::Duration;

/// `count` requests per `window`, refilled evenly: one every `window / count`, at most `count`
/// at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub count: u32,
    pub window: Duration,
}

/// The units a quota's window may be written in, with their length in seconds.
const UNITS: &[(&[&str], u64)] = &[
    (&["s", "sec", "second"], 1),
    (&["m", "min", "minute"], 60),
    (&["h", "hour"], 3_600),
    (&["d", "day"], 86_400),
];

impl Quota {
    pub fn new(count: u32, window: Duration) -> Self {
        Self { count, window }
    }

    /// `count` requests a minute.
    pub fn per_minute(count: u32) -> Self {
        Self::new(count, Duration::from_secs(60))
    }

    /// Parses `"600/min"`, `"10/s"`, `"1000/hour"`, `"5000/day"`, or with a number of units
    /// such as `"100/15min"`; `"off"` (or a count of 0) is no limit (`None`).
    pub fn parse(text: &str) -> Result<Option<Self>, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let invalid = || {
            format!(
                "{text:?} is not a rate limit; write it as a count per window such as \"600/min\", \"10/s\", \"1000/hour\", \"100/15min\", or \"off\""
            )
        };
        let (count, window) = text.split_once('/').ok_or_else(invalid)?;
        let count: u32 = count.trim().parse().map_err(|_| invalid())?;
        let window = window.trim();
        let digits = window.len()
            - window
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let (number, unit) = window.split_at(digits);
        let number: u64 = if number.is_empty() {
            1
        } else {
            number.parse().map_err(|_| invalid())?
        };
        let unit = unit.trim().to_ascii_lowercase();
        let unit = unit
            .strip_suffix('s')
            .filter(|u| u.len() > 1)
            .unwrap_or(&unit);
        let seconds = UNITS
            .iter()
            .find(|(names, _)| names.contains(&unit))
            .map(|(_, seconds)| *seconds)
            .ok_or_else(invalid)?;
        if number == 0 || number > 366 * 86_400 / seconds.max(1) {
            return Err(invalid());
        }
        if count == 0 {
            return Ok(None);
        }
        Ok(Some(Self::new(
            count,
            Duration::from_secs(number * seconds),
        )))
    }

    /// The window in whole seconds (the `w` of `RateLimit-Policy`).
    pub fn window_secs(&self) -> u64 {
        self.window.as_secs()
    }

    /// The time one request takes to refill, in microseconds (at least 1).
    pub fn period_micros(&self) -> u64 {
        (self.window_micros() / u64::from(self.count.max(1))).max(1)
    }

    /// The window in microseconds.
    pub fn window_micros(&self) -> u64 {
        u64::try_from(self.window.as_micros()).unwrap_or(u64::MAX)
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.window.as_secs();
        let unit = UNITS
            .iter()
            .rev()
            .find(|(_, s)| secs.is_multiple_of(*s))
            .map_or((1, "s"), |(names, s)| (*s, names[1]));
        match secs / unit.0 {
            1 => write!(f, "{}/{}", self.count, unit.1),
            n => write!(f, "{}/{n}{}", self.count, unit.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_parse_in_every_unit_and_print_back() {
        let q = |t: &str| Quota::parse(t).unwrap().unwrap();
        assert_eq!(q("600/min"), Quota::per_minute(600));
        assert_eq!(q("10/s"), Quota::new(10, Duration::from_secs(1)));
        assert_eq!(q("10 / second"), Quota::new(10, Duration::from_secs(1)));
        assert_eq!(q("1000/hour"), Quota::new(1000, Duration::from_secs(3600)));
        assert_eq!(q("1000/hours"), Quota::new(1000, Duration::from_secs(3600)));
        assert_eq!(q("5000/day"), Quota::new(5000, Duration::from_secs(86_400)));
        assert_eq!(q("100/15min"), Quota::new(100, Duration::from_secs(900)));
        assert_eq!(q("100/15min").to_string(), "100/15min");
        assert_eq!(q("600/min").to_string(), "600/min");
        assert_eq!(q("7/90s").to_string(), "7/90sec");
        assert_eq!(Quota::parse("off"), Ok(None));
        assert_eq!(Quota::parse("0/min"), Ok(None));
        for bad in ["600", "600/fortnight", "-1/min", "x/min", "10/0min", ""] {
            assert!(Quota::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(q("600/min").period_micros(), 100_000);
    }
}
