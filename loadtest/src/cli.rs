//! Command-line helpers shared by the binary's subcommands.

/// Parses a byte count: a plain integer, or one with a suffix `KiB`,
/// `MiB`, `GiB` (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a byte count (e.g. 5242880, 5MiB, 64KB)"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {s:?} (KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("123"), Ok(123));
        assert_eq!(parse_bytes("5MiB"), Ok(5 << 20));
        assert_eq!(parse_bytes("64KB"), Ok(64_000));
        assert!(parse_bytes("5XB").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("99999999999GiB").is_err());
    }
}
