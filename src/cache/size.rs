//! The values of `--cache-max-size` / `--max-size` (`10GiB`, `500M`) and `--older-than`
//! (`7d`, `12h`, `1d12h`).

use std::time::Duration;

/// A size in bytes: a number (a decimal fraction allowed with a unit), optionally followed
/// by a unit, case-insensitive: `B`; `K`, `M`, `G`, `T` and `KiB`, `MiB`, `GiB`, `TiB`
/// (powers of 1024); `KB`, `MB`, `GB`, `TB` (powers of 1000). `123`, `500M`, `1g`, `10GiB`,
/// `1.5G`.
pub fn parse_size(value: &str) -> Result<u64, String> {
    let s = value.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = (&s[..split], s[split..].trim_start());
    let bad = || {
        format!(
            "'{value}' is not a size: write a number of bytes with an optional unit, such as 500M, 10GiB or 1073741824"
        )
    };
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        _ => return Err(bad()),
    };
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(bad());
    }
    let too_big = || format!("'{value}' is too large a size");
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mult).ok_or_else(too_big);
    }
    // A fraction: only with a unit (a fraction of a byte means nothing).
    if mult == 1 || num.matches('.').count() != 1 {
        return Err(bad());
    }
    let f: f64 = num.parse().map_err(|_| bad())?;
    let bytes = f * mult as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(too_big());
    }
    Ok(bytes as u64)
}

/// A duration: one or more `<number><unit>` with the units `s`, `m`, `h`, `d`, `w`
/// (seconds to weeks): `7d`, `12h`, `30m`, `1d12h`.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "'{value}' is not a duration: write a number and a unit (s, m, h, d, w), such as 7d, 12h or 1d12h"
        )
    };
    let s = value.trim();
    if s.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let mut chars = rest[digits..].chars();
        let unit: u64 = match chars.next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            Some('w') => 7 * 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("'{value}' is too long a duration"))?;
        rest = chars.as_str();
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! size {
        ($s:expr => !) => {
            assert!(parse_size($s).is_err(), "{} should be refused", $s)
        };
        ($s:expr => $n:expr) => {
            assert_eq!(parse_size($s), Ok($n), "{}", $s)
        };
    }

    #[test]
    fn sizes() {
        size!("123" => 123);
        size!("0" => 0);
        size!("500M" => 500 << 20);
        size!("1g" => 1 << 30);
        size!("10GiB" => 10 << 30);
        size!("10 GiB" => 10 << 30);
        size!("2KB" => 2000);
        size!("1mb" => 1_000_000);
        size!("1.5G" => 3 << 29);
        size!("7b" => 7);
        size!("" => !);
        size!("G" => !);
        size!("-1" => !);
        size!("1.5" => !);
        size!("1.G" => !);
        size!("1..5G" => !);
        size!("12 parsecs" => !);
        size!("99999999999999999999" => !);
        size!("20000000T" => !);
        assert!(parse_size("lots").unwrap_err().contains("'lots'"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("1d12h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "7dd",
            "-1d",
            "1.5h",
            "99999999999999999999w",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("soon").unwrap_err().contains("'soon'"));
    }
}
