//! Quantities as people write them — "100Mbit", "8ms", "2h", "256KiB" — and the integer units the
//! simulator computes in: nanoseconds of simulated time, bits per second, bytes.
//!
//! Everything is integer so that a scenario gives the same result on every machine; the parsers
//! accept the spellings engineers use in datasheets and RouterOS (`10s`, `1d`, `00:00:05`).

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use std::fmt;

/// Simulated time in nanoseconds since the start of the run.
pub type Time = u64;

pub const NS: Time = 1;
pub const US: Time = 1_000;
pub const MS: Time = 1_000_000;
pub const SEC: Time = 1_000_000_000;

/// Parses a duration: a number with a unit (`ns us ms s m h d w`), several of them run together
/// (`1h30m`), or RouterOS's clock form `hh:mm:ss`.
pub fn parse_duration(text: &str) -> Result<Time, String> {
    let t = text.trim();
    if t.contains(':') {
        return parse_clock(t);
    }
    let mut total: f64 = 0.0;
    let mut rest = t;
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "`{text}` is not a duration (expected e.g. 8ms, 10s, 2h)"
            ));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("`{text}` has a malformed number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => NS,
            "us" | "µs" => US,
            "ms" => MS,
            // A bare number is seconds, as in RouterOS.
            "" | "s" | "sec" => SEC,
            "m" | "min" => 60 * SEC,
            "h" => 3600 * SEC,
            "d" => 86_400 * SEC,
            "w" => 7 * 86_400 * SEC,
            other => return Err(format!("`{other}` is not a time unit (use ms, s, m, h, d)")),
        };
        total += value * scale as f64;
    }
    if !total.is_finite() || total > u64::MAX as f64 / 2.0 {
        return Err(format!("`{text}` is too long a duration"));
    }
    Ok(total.round() as Time)
}

fn parse_clock(t: &str) -> Result<Time, String> {
    let parts: Vec<&str> = t.split(':').collect();
    if parts.len() != 3 {
        return Err(format!("`{t}` is not hh:mm:ss"));
    }
    let mut secs = 0.0;
    for p in &parts {
        let v: f64 = p.parse().map_err(|_| format!("`{t}` is not hh:mm:ss"))?;
        secs = secs * 60.0 + v;
    }
    Ok((secs * SEC as f64).round() as Time)
}

/// Writes a duration the short way a person would: `1h`, `10m`, `8ms`.
pub fn format_duration(t: Time) -> String {
    if t == 0 {
        return "0s".into(); // as RouterOS writes an unset timeout
    }
    const UNITS: [(Time, &str); 6] = [
        (86_400 * SEC, "d"),
        (3600 * SEC, "h"),
        (60 * SEC, "m"),
        (SEC, "s"),
        (MS, "ms"),
        (US, "us"),
    ];
    for (scale, name) in UNITS {
        if t >= scale && t.is_multiple_of(scale) {
            return format!("{}{name}", t / scale);
        }
    }
    if t >= SEC {
        return format!("{:.3}s", t as f64 / SEC as f64);
    }
    format!("{t}ns")
}

/// Parses a rate. One grammar for bits and bytes, so a rate is never silently 8× off: a
/// lowercase `b` or the word `bit` means bits (`100Mbit`, `100Mbps`, `100Mb/s`, `512kbit/s`);
/// an uppercase `B` means bytes (`12.5MB/s`, `12.5MBps`, `1MiB/s`). RouterOS's bare `k`, `M`,
/// `G` are bits, as in its queues. A size without `/s` (`100MB`) is not a rate and is refused.
pub fn parse_bandwidth(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (value, unit) = split_number(t).ok_or_else(|| format!("`{t}` is not a bandwidth"))?;
    let bps = value * rate_scale(unit).map_err(|hint| format!("`{t}`: {hint}"))?;
    if bps < 1.0 || !bps.is_finite() {
        return Err(format!("`{t}` must be a positive bandwidth"));
    }
    Ok(bps.round() as u64)
}

/// Bits per second per unit of a rate, or why the unit is not one.
fn rate_scale(unit: &str) -> Result<f64, String> {
    const HINT: &str =
        "write bits as kbit, Mbit, Gbit (or Mbps, Mb/s) and bytes as kB/s, MB/s, MiB/s";
    if unit.is_empty() {
        return Err(format!("a rate needs a unit: {HINT}"));
    }
    let (prefix, rest) = if unit.starts_with(['k', 'K', 'm', 'M', 'g', 'G']) {
        unit.split_at(1)
    } else {
        ("", unit)
    };
    let (rest, binary) = match rest.strip_prefix('i') {
        Some(r) if !prefix.is_empty() => (r, true),
        _ => (rest, false),
    };
    let multiple = match (prefix.to_ascii_lowercase().as_str(), binary) {
        ("", _) => 1.0,
        ("k", false) => 1e3,
        ("m", false) => 1e6,
        ("g", false) => 1e9,
        ("k", true) => 1024.0,
        ("m", true) => 1024.0 * 1024.0,
        ("g", true) => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("`{unit}` is not a rate unit: {HINT}")),
    };
    let per_unit = match rest {
        // RouterOS writes bit rates as a bare prefix: max-limit=10M.
        "" if !prefix.is_empty() && !binary => 1.0,
        "bit" | "bit/s" | "bps" | "b/s" | "bits/s" => 1.0,
        "B/s" | "Bps" | "byte/s" | "bytes/s" => 8.0,
        "B" | "b" | "byte" | "bytes" => {
            return Err(format!(
                "`{unit}` is an amount, not a rate: say per second ({HINT})"
            ));
        }
        _ => return Err(format!("`{unit}` is not a rate unit: {HINT}")),
    };
    Ok(multiple * per_unit)
}

/// Parses a byte size: `1500B`, `64KiB`, `1MB`, `2GiB`. Bits (`Mbit`, `Mb`) are refused.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (value, unit) = split_number(t).ok_or_else(|| format!("`{t}` is not a size"))?;
    let scale: f64 = match unit {
        "" | "B" => 1.0,
        "kB" | "KB" => 1e3,
        "KiB" => 1024.0,
        "MB" => 1e6,
        "MiB" => 1024.0 * 1024.0,
        "GB" => 1e9,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "`{other}` is not a size unit (use B, KiB, MB, MiB, GB: bytes, with an uppercase B)"
            ));
        }
    };
    let bytes = value * scale;
    if !bytes.is_finite() || !(0.0..=1e15).contains(&bytes) {
        return Err(format!("`{t}` is out of range"));
    }
    Ok(bytes.round() as u64)
}

fn split_number(t: &str) -> Option<(f64, &str)> {
    let n = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let value = t[..n].parse().ok()?;
    Some((value, t[n..].trim()))
}

/// Serde adapters so scenario files can say `latency: "8ms"`.
macro_rules! string_quantity {
    ($name:ident, $inner:ty, $parse:path, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
        pub struct $name(pub $inner);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $parse(&s).map($name).map_err(de::Error::custom)
            }
        }
    };
}

string_quantity!(
    Duration,
    Time,
    parse_duration,
    "A duration such as `8ms` or `2h`."
);
string_quantity!(
    Bandwidth,
    u64,
    parse_bandwidth,
    "A bit rate such as `100Mbit`."
);
string_quantity!(Size, u64, parse_size, "A byte size such as `64KiB`.");

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl fmt::Display for Bandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if b >= 1e9 {
            write!(f, "{}Gbit", b / 1e9)
        } else if b >= 1e6 {
            write!(f, "{}Mbit", b / 1e6)
        } else {
            write!(f, "{}kbit", b / 1e3)
        }
    }
}

/// Asks the CPU to start loading `value`'s cache line, so a later read does not wait for
/// memory. Only a hint: no effect on results, and none at all off x86-64.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault; the address is a
    // valid reference.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(value as *const T as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_engineers_write_them() {
        assert_eq!(parse_duration("8ms"), Ok(8 * MS));
        assert_eq!(parse_duration("2h"), Ok(7200 * SEC));
        assert_eq!(parse_duration("1h30m"), Ok(5400 * SEC));
        assert_eq!(parse_duration("1d"), Ok(86_400 * SEC));
        assert_eq!(parse_duration("00:00:05"), Ok(5 * SEC));
        assert_eq!(parse_duration("10"), Ok(10 * SEC));
        assert_eq!(parse_duration("0.5ms"), Ok(500 * US));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(format_duration(3600 * SEC), "1h");
        assert_eq!(format_duration(8 * MS), "8ms");
        assert_eq!(
            format_duration(0),
            "0s",
            "an unset timeout, as RouterOS exports it"
        );
    }

    #[test]
    fn bandwidths_and_sizes() {
        assert_eq!(parse_bandwidth("100Mbit"), Ok(100_000_000));
        assert_eq!(parse_bandwidth("1Gbit"), Ok(1_000_000_000));
        assert_eq!(parse_bandwidth("512kbit"), Ok(512_000));
        assert!(parse_bandwidth("0Mbit").is_err());
        assert!(parse_bandwidth("100 furlongs").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65_536));
    }

    #[test]
    fn a_rate_in_bytes_is_never_read_as_bits() {
        for bits in [
            "100Mbit",
            "100Mbps",
            "100Mb/s",
            "100mbps",
            "100Mbit/s",
            "100M",
            "0.1Gbit",
        ] {
            assert_eq!(parse_bandwidth(bits), Ok(100_000_000), "{bits}");
        }
        for bytes in ["12.5MB/s", "12.5MBps", "12.5mB/s"] {
            assert_eq!(parse_bandwidth(bytes), Ok(100_000_000), "{bytes}");
        }
        assert_eq!(parse_bandwidth("1MiB/s"), Ok(8 * 1024 * 1024));
        for refused in ["100MB", "100Mb", "100", "100Mbyte", "100MiB", "100xbit"] {
            assert!(parse_bandwidth(refused).is_err(), "{refused}");
        }
        assert!(parse_size("100Mbit").is_err());
        assert!(parse_size("100Mb").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65_536));
        assert_eq!(parse_size("1500B"), Ok(1500));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
    }
}
