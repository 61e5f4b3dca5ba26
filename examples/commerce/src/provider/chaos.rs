//! What the payment provider is told to do wrong: fail a share of calls, answer slowly, or hold
//! a share of calls past any client's timeout. Set through `PUT /control`; read per call.

use serde::{Deserialize, Serialize};

/// The provider's misbehaviour. The default is a well-behaved provider.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Chaos {
    /// Percentage (0-100) of charge and refund calls answered 503 with nothing done.
    pub fail_percent: f64,
    /// Percentage (0-100) of charge and refund calls that are carried out but answered only
    /// after `timeout_ms` (the answer a real network loses): the client gives up first.
    pub timeout_percent: f64,
    /// Added to every charge and refund call, in milliseconds.
    pub delay_ms: u64,
    /// How long a timed-out call is held before it is answered, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for Chaos {
    fn default() -> Self {
        Self {
            fail_percent: 0.0,
            timeout_percent: 0.0,
            delay_ms: 0,
            timeout_ms: 30_000,
        }
    }
}

/// What one call is going to suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Succeed,
    Fail,
    TimeOut,
}

impl Chaos {
    /// Checks the percentages; the message says which value is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("fail_percent", self.fail_percent),
            ("timeout_percent", self.timeout_percent),
        ] {
            if !(0.0..=100.0).contains(&value) {
                return Err(format!(
                    "{name} is {value}; give a percentage from 0 to 100"
                ));
            }
        }
        if self.fail_percent + self.timeout_percent > 100.0 {
            return Err("fail_percent and timeout_percent add up to more than 100".into());
        }
        Ok(())
    }

    /// The fate of a call for a uniform draw `unit` in `[0, 1)`.
    pub fn fate(&self, unit: f64) -> Fate {
        let percent = unit * 100.0;
        if percent < self.timeout_percent {
            Fate::TimeOut
        } else if percent < self.timeout_percent + self.fail_percent {
            Fate::Fail
        } else {
            Fate::Succeed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fates_split_the_draw_by_the_percentages() {
        let chaos = Chaos {
            fail_percent: 20.0,
            timeout_percent: 5.0,
            ..Chaos::default()
        };
        assert_eq!(chaos.fate(0.0), Fate::TimeOut);
        assert_eq!(chaos.fate(0.049), Fate::TimeOut);
        assert_eq!(chaos.fate(0.05), Fate::Fail);
        assert_eq!(chaos.fate(0.249), Fate::Fail);
        assert_eq!(chaos.fate(0.25), Fate::Succeed);
        assert_eq!(Chaos::default().fate(0.0), Fate::Succeed);
    }

    #[test]
    fn percentages_out_of_range_are_refused() {
        let too_much = Chaos {
            fail_percent: 101.0,
            ..Chaos::default()
        };
        assert!(too_much.validate().is_err());
        let together = Chaos {
            fail_percent: 60.0,
            timeout_percent: 50.0,
            ..Chaos::default()
        };
        assert!(together.validate().is_err());
        assert!(Chaos::default().validate().is_ok());
    }
}
