//! Line identity: the key that makes ingest idempotent. A re-sent line (rsyslog
//! retrying a batch whose commit fate was unknown) has the same identity and is
//! stored once. Identity = 128-bit xxh3 of host, time, program, pid and message.

use xxhash_rust::xxh3::Xxh3;

/// 16 bytes, stored as `uuid` in PostgreSQL.
pub fn line_identity(
    host: &str,
    time_us: i64,
    program: &str,
    pid: Option<i32>,
    message: &str,
) -> [u8; 16] {
    let mut h = Xxh3::new();
    // Field separators that cannot occur inside the fields' own text keep
    // ("ab","c") and ("a","bc") apart.
    h.update(host.as_bytes());
    h.update(&[0]);
    h.update(&time_us.to_le_bytes());
    h.update(program.as_bytes());
    h.update(&[0]);
    h.update(&pid.unwrap_or(-1).to_le_bytes());
    h.update(message.as_bytes());
    h.digest128().to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_separated() {
        assert_ne!(
            line_identity("ab", 1, "c", None, "m"),
            line_identity("a", 1, "bc", None, "m")
        );
        assert_ne!(
            line_identity("a", 1, "p", Some(1), "m"),
            line_identity("a", 1, "p", None, "m")
        );
        assert_eq!(
            line_identity("a", 1, "p", Some(1), "m"),
            line_identity("a", 1, "p", Some(1), "m")
        );
    }
}

/// Identity of the `k`-th (0-based) copy of the same line inside one load: the
/// first copy keeps the plain identity, later copies are told apart, so a file
/// that really holds the same line twice keeps both, and loading it again still
/// stores nothing new.
pub fn nth_copy(base: [u8; 16], k: u32) -> [u8; 16] {
    if k == 0 {
        return base;
    }
    let mut h = Xxh3::new();
    h.update(&base);
    h.update(&k.to_le_bytes());
    h.digest128().to_be_bytes()
}

#[cfg(test)]
mod copy_tests {
    use super::*;

    #[test]
    fn copies_differ_and_first_is_plain() {
        let b = line_identity("h", 1, "p", None, "m");
        assert_eq!(nth_copy(b, 0), b);
        assert_ne!(nth_copy(b, 1), b);
        assert_ne!(nth_copy(b, 1), nth_copy(b, 2));
    }
}
