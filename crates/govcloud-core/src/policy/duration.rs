//! Policy durations: the strings a `GovCloudPolicy` (and a `CloudResourceRequest`'s
//! `spec.duration`) uses for every time limit in RULES.md.
//!
//! The regulations count time in three ways, and each has its own unit:
//!
//! | form    | meaning                                            | example rule             |
//! |---------|----------------------------------------------------|--------------------------|
//! | `5wd`   | working days on the statutory calendar             | XB 20: accept within 5 wd |
//! | `30d`   | natural (calendar) days                            | GY 7: test ≤ 30 d        |
//! | `3mo`   | calendar months                                    | SH 22: development ≤ 3 mo |
//! | `90s`, `10m`, `2h` | exact seconds / minutes / hours         | demos and tests only     |
//!
//! Minutes and hours are converted to seconds when parsed, so `10m` and `600s` are the
//! same [`PolicyDuration::Seconds`] value; [`Display`](std::fmt::Display) writes the largest
//! unit that is exact (`600s` → `10m`), and parsing what it writes gives the same value back.
//!
//! The grammar is deliberately strict: one or more ASCII digits immediately followed by a
//! lower-case unit, nothing else — no sign, no fraction, no blanks, no upper case. A policy
//! that says `5 days` or `1.5mo` is refused with a message naming the accepted forms rather
//! than guessed at. Zero (`0wd`, `0d`, …) is accepted and means "at once".
//!
//! How each unit turns into a deadline (Civil Code arts. 200–204) is decided in
//! [`super::deadline`].

use std::fmt;
use std::str::FromStr;

/// A time limit from a policy or a request.
///
/// Working days, natural days and months stay symbolic because their length depends on
/// where they start (and on the calendar); only [`Seconds`](PolicyDuration::Seconds) is an
/// exact length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyDuration {
    /// `Nwd`: N working days on the statutory calendar (e.g. XB 20, GY 7, SH 21).
    WorkingDays(u32),
    /// `Nd`: N natural days (e.g. GY 7 test resources, GY 15 parallel billing).
    Days(u32),
    /// `Nmo`: N calendar months (e.g. SH 22–24, SN 16).
    Months(u32),
    /// `Ns`, `Nm`, `Nh`: an exact number of seconds, for demos and tests.
    Seconds(u64),
}

impl PolicyDuration {
    /// Whether the duration is zero (`0wd`, `0d`, `0mo`, `0s`): a deadline "at once".
    pub fn is_zero(self) -> bool {
        matches!(
            self,
            Self::WorkingDays(0) | Self::Days(0) | Self::Months(0) | Self::Seconds(0)
        )
    }
}

/// Longest part of a rejected input quoted back in an error message.
const QUOTE_LIMIT: usize = 64;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a whole number followed by a known unit.
    #[error(
        "invalid duration {input:?}: expected a whole number followed by wd, d, mo, s, m or h (e.g. 5wd, 30d, 3mo, 90s)"
    )]
    Invalid {
        /// The rejected text (shortened when very long).
        input: String,
    },
    /// Well-formed, but the number does not fit.
    #[error(
        "invalid duration {input:?}: the number is too large (at most {max} for wd, d and mo; exact durations at most {max_seconds}s)"
    )]
    TooLarge {
        /// The rejected text (shortened when very long).
        input: String,
        /// Largest count accepted for wd, d and mo.
        max: u32,
        /// Largest exact duration accepted, in seconds.
        max_seconds: u64,
    },
}

fn quote(input: &str) -> String {
    if input.chars().count() <= QUOTE_LIMIT {
        input.to_owned()
    } else {
        let mut short: String = input.chars().take(QUOTE_LIMIT).collect();
        short.push('…');
        short
    }
}

impl FromStr for PolicyDuration {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || DurationError::Invalid { input: quote(s) };
        let too_large = || DurationError::TooLarge {
            input: quote(s),
            max: u32::MAX,
            max_seconds: u64::MAX,
        };

        // Everything before the first non-digit is the number; `find` returns a char
        // boundary, and every byte before it is an ASCII digit.
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
        let (digits, unit) = s.split_at(split);
        if digits.is_empty() {
            return Err(invalid());
        }
        // Only ASCII digits remain, so the only way parsing can fail is overflow.
        let number = digits.parse::<u64>().map_err(|_| too_large());
        let count = || {
            number
                .clone()
                .and_then(|n| u32::try_from(n).map_err(|_| too_large()))
        };
        let seconds = |per_unit: u64| {
            number
                .clone()
                .and_then(|n| n.checked_mul(per_unit).ok_or_else(too_large))
        };

        match unit {
            "wd" => count().map(Self::WorkingDays),
            "d" => count().map(Self::Days),
            "mo" => count().map(Self::Months),
            "s" => seconds(1).map(Self::Seconds),
            "m" => seconds(60).map(Self::Seconds),
            "h" => seconds(3600).map(Self::Seconds),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for PolicyDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::WorkingDays(n) => write!(f, "{n}wd"),
            Self::Days(n) => write!(f, "{n}d"),
            Self::Months(n) => write!(f, "{n}mo"),
            Self::Seconds(s) if s != 0 && s % 3600 == 0 => write!(f, "{}h", s / 3600),
            Self::Seconds(s) if s != 0 && s % 60 == 0 => write!(f, "{}m", s / 60),
            Self::Seconds(s) => write!(f, "{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PolicyDuration::{self, *};
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<PolicyDuration, DurationError> {
        s.parse()
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("5wd"), Ok(WorkingDays(5)));
        assert_eq!(parse("15wd"), Ok(WorkingDays(15)));
        assert_eq!(parse("30d"), Ok(Days(30)));
        assert_eq!(parse("3mo"), Ok(Months(3)));
        assert_eq!(parse("90s"), Ok(Seconds(90)));
        assert_eq!(parse("10m"), Ok(Seconds(600)));
        assert_eq!(parse("2h"), Ok(Seconds(7200)));
        assert_eq!(parse("007d"), Ok(Days(7)));
    }

    #[test]
    fn zero_is_allowed() {
        for (s, d) in [
            ("0wd", WorkingDays(0)),
            ("0d", Days(0)),
            ("0mo", Months(0)),
            ("0s", Seconds(0)),
            ("0m", Seconds(0)),
            ("0h", Seconds(0)),
        ] {
            assert_eq!(parse(s), Ok(d), "{s}");
            assert!(d.is_zero());
        }
        assert!(!Days(1).is_zero());
    }

    #[test]
    fn rejects_junk() {
        for s in [
            "", "wd", "d", "5", "-5d", "+5d", "5.5d", "1,000d", "5 d", " 5d", "5d ", "5 days",
            "5days", "5D", "5WD", "5w", "5y", "5mo5d", "5dd", "٣d", "５d", "5 wd", "0x10d", "1e3s",
            "5wd\n", "d5", "mo",
        ] {
            assert!(
                matches!(parse(s), Err(DurationError::Invalid { .. })),
                "{s:?} should be invalid, got {:?}",
                parse(s)
            );
        }
    }

    #[test]
    fn rejects_overflow() {
        assert_eq!(parse("4294967295wd"), Ok(WorkingDays(u32::MAX)));
        for s in [
            "4294967296wd",
            "4294967296d",
            "99999999999mo",
            "18446744073709551616s",
            "307445734561825861m",
            "5124095576030432h",
            "99999999999999999999999999999999999d",
        ] {
            assert!(
                matches!(parse(s), Err(DurationError::TooLarge { .. })),
                "{s:?} should be too large, got {:?}",
                parse(s)
            );
        }
        assert_eq!(parse("18446744073709551615s"), Ok(Seconds(u64::MAX)));
    }

    #[test]
    fn error_message_quotes_input_and_lists_forms() {
        let err = parse("5 days").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid duration "5 days": expected a whole number followed by wd, d, mo, s, m or h (e.g. 5wd, 30d, 3mo, 90s)"#
        );
        let long = "x".repeat(1000);
        let msg = parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 300, "{msg}");
        assert!(msg.contains('…'));
        let big = parse("4294967296d").unwrap_err().to_string();
        assert!(big.contains("\"4294967296d\""), "{big}");
    }

    #[test]
    fn display_uses_largest_exact_unit() {
        assert_eq!(WorkingDays(5).to_string(), "5wd");
        assert_eq!(Days(30).to_string(), "30d");
        assert_eq!(Months(3).to_string(), "3mo");
        assert_eq!(Seconds(90).to_string(), "90s");
        assert_eq!(Seconds(600).to_string(), "10m");
        assert_eq!(Seconds(7200).to_string(), "2h");
        assert_eq!(Seconds(0).to_string(), "0s");
        assert_eq!(Seconds(u64::MAX).to_string(), format!("{}s", u64::MAX));
    }

    fn any_duration() -> impl Strategy<Value = PolicyDuration> {
        prop_oneof![
            any::<u32>().prop_map(WorkingDays),
            any::<u32>().prop_map(Days),
            any::<u32>().prop_map(Months),
            any::<u64>().prop_map(Seconds),
            (0u64..=u64::MAX / 60).prop_map(|m| Seconds(m * 60)),
            (0u64..=u64::MAX / 3600).prop_map(|h| Seconds(h * 3600)),
        ]
    }

    proptest! {
        #[test]
        fn display_round_trips(d in any_duration()) {
            prop_assert_eq!(d.to_string().parse::<PolicyDuration>(), Ok(d));
        }

        #[test]
        fn parsing_never_panics(s in "\\PC{0,12}") {
            let _ = s.parse::<PolicyDuration>();
        }

        #[test]
        fn parsed_values_display_canonically(n in 0u32..100_000, unit in "(wd|d|mo|s|m|h)") {
            let s = format!("{n}{unit}");
            let d = parse(&s);
            prop_assert!(d.is_ok(), "{} → {:?}", s, d);
            if let Ok(d) = d {
                prop_assert_eq!(d.to_string().parse::<PolicyDuration>(), Ok(d));
            }
        }
    }
}
