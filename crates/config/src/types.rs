//! Value types shared by many kinds: durations, and the protobuf well-known types as they
//! appear in YAML.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A duration written as in Istio YAML: Go style (`1h2m3.5s`, `100ms`, `10s`), which includes
/// the protobuf JSON form (`1.5s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (expected a number with a unit, e.g. 10s, 1.5s, 100ms, 2m, 1h)")]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

impl Duration {
    pub fn parse(s: &str) -> Result<Self, DurationError> {
        let err = |reason| DurationError {
            input: s.to_string(),
            reason,
        };
        let t = s.trim();
        if t.is_empty() {
            return Err(err("empty"));
        }
        if t.starts_with('-') {
            return Err(err("negative durations are not allowed"));
        }
        let t = t.strip_prefix('+').unwrap_or(t);
        if t == "0" {
            return Ok(Duration(std::time::Duration::ZERO));
        }
        let mut nanos: u128 = 0;
        let mut rest = t;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            if num_len == 0 {
                return Err(err("a unit must follow a number"));
            }
            let (num, tail) = rest.split_at(num_len);
            let unit_len = tail
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(tail.len());
            let (unit, tail) = tail.split_at(unit_len);
            let scale: u128 = match unit {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "" => return Err(err("missing unit")),
                _ => return Err(err("unknown unit")),
            };
            let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
            if int_part.is_empty() && frac_part.is_empty() {
                return Err(err("a unit must follow a number"));
            }
            let int: u128 = if int_part.is_empty() {
                0
            } else {
                int_part.parse().map_err(|_| err("number too large"))?
            };
            let mut value = int.checked_mul(scale).ok_or_else(|| err("too large"))?;
            let mut frac_scale = scale;
            for c in frac_part.chars() {
                let d = c.to_digit(10).ok_or_else(|| err("malformed number"))?;
                frac_scale /= 10;
                value += u128::from(d) * frac_scale;
            }
            nanos = nanos.checked_add(value).ok_or_else(|| err("too large"))?;
            rest = tail;
        }
        let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| err("too large"))?;
        let sub = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
        Ok(Duration(std::time::Duration::new(secs, sub)))
    }

    pub fn as_std(&self) -> std::time::Duration {
        self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.subsec_nanos().is_multiple_of(1_000_000) && d.as_secs() == 0 {
            write!(f, "{}ms", d.subsec_millis())
        } else {
            let s = format!("{}.{:09}", d.as_secs(), d.subsec_nanos());
            write!(f, "{}s", s.trim_end_matches('0'))
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"10s\" or \"1.5s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_and_proto_forms() {
        let ms = |s| Duration::parse(s).unwrap().0.as_millis();
        assert_eq!(ms("10s"), 10_000);
        assert_eq!(ms("1.5s"), 1_500);
        assert_eq!(ms("100ms"), 100);
        assert_eq!(ms("1h2m3s"), 3_723_000);
        assert_eq!(ms("0"), 0);
        assert_eq!(ms(".5s"), 500);
        for bad in [
            "",
            "10",
            "s",
            "-1s",
            "1x",
            "1..2s",
            "99999999999999999999999h",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Duration::parse("1.25s").unwrap().to_string(), "1.25s");
    }
}
