//! Sizes as people write them on a command line (`10MB`, `512KiB`, `2000`), and back. Pure.

/// Units, longest first so that `KiB` is not read as `K` + `iB`. Decimal units are powers of
/// 1000 (as `ls --si` and disk makers count), binary ones powers of 1024.
const UNITS: [(&str, u64); 9] = [
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("k", 1_000),
    ("m", 1_000_000),
    ("b", 1),
];

/// `10MB` (10,000,000 bytes), `10 MiB`, `512kb`, `2000` (bytes): a whole number, optional
/// spaces, an optional unit in any case.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(digits_end);
    let expected = "a size such as `10MB`, `512KiB` or `2000` (bytes)";
    if digits.is_empty() {
        return Err(format!("`{text}` is not {expected}"));
    }
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is too large: expected {expected}"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let factor = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, factor)| *factor)
            .ok_or_else(|| {
                format!("`{text}`: unknown unit `{unit}`, expected B, KB, MB, GB, KiB, MiB or GiB")
            })?
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large: expected {expected}"))
}

/// `bytes` in the largest unit that divides it (`10 MB`, `1 KiB`), else in bytes.
pub fn format_byte_size(bytes: u64) -> String {
    for (unit, factor) in [
        ("GB", 1_000_000_000),
        ("GiB", 1 << 30),
        ("MB", 1_000_000),
        ("MiB", 1 << 20),
        ("KB", 1_000),
        ("KiB", 1 << 10),
    ] {
        if bytes >= factor && bytes % factor == 0 {
            return format!("{} {unit}", bytes / factor);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_cases::named_cases;

    fn check_parse(name: &str, text: &str, expected: Result<u64, &str>) {
        match (parse_byte_size(text), expected) {
            (Ok(size), Ok(expected)) => assert_eq!(size, expected, "{name}: {text}"),
            (Err(error), Err(part)) => assert!(error.contains(part), "{name}: {error}"),
            (got, expected) => panic!("{name}: `{text}` gave {got:?}, expected {expected:?}"),
        }
    }

    named_cases! {
        /// Sizes are read as a command line writes them.
        mod sizes_are_read_as_written => check_parse;
        decimal_megabytes("10MB", Ok(10_000_000)),
        binary_mebibytes_with_a_space("10 MiB", Ok(10 * 1024 * 1024)),
        any_case("512kb", Ok(512_000)),
        short_unit("2M", Ok(2_000_000)),
        plain_bytes("2000", Ok(2000)),
        bytes_unit("2000B", Ok(2000)),
        zero("0", Ok(0)),
        no_number("MB", Err("is not a size")),
        negative("-1MB", Err("is not a size")),
        fraction("1.5MB", Err("unknown unit `.5mb`")),
        unknown_unit("10TB", Err("unknown unit `tb`")),
        overflow("99999999999999999999GB", Err("too large")),
        overflow_by_the_unit("18446744073709551615GB", Err("too large")),
    }

    fn check_format(name: &str, bytes: u64, expected: &str) {
        assert_eq!(format_byte_size(bytes), expected, "{name}");
    }

    named_cases! {
        /// Sizes are written in the largest unit that divides them.
        mod sizes_are_written_in_a_whole_unit => check_format;
        megabytes(10_000_000, "10 MB"),
        kibibytes(2048, "2 KiB"),
        odd_bytes(10_000_001, "10000001 bytes"),
        zero(0, "0 bytes"),
    }
}
