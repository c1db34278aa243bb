//! COPY text-format row encoding (pure; no allocation per line).
//!
//! Input: one rendered template line, `UID SP AT SP HOST SP TAG SP MSG`: the
//! first four spaces separate the fields (none can occur inside rsyslog's
//! uuid/timereported/hostname/syslogtag), everything after the fourth space is
//! the message, byte for byte (it usually starts with a space; pg_else strips
//! it). A line with fewer than four spaces is stored whole as `msg` with the
//! other columns NULL; an empty `uid` or `at` becomes NULL. A `uid` that is not
//! a UUID (an ELSE forwarder's identity token, e.g. a hash of file and offset)
//! becomes the UUID derived from it (xxh3-128, version 8), so one bad token can
//! never fail a COPY batch and the same token always gives the same UUID.
//!
//! Output: one row `uid \t at \t host \t tag \t msg \n` for
//! `COPY t (uid, at, host, tag, msg) FROM STDIN` (text format).
//! * backslash, tab, LF, CR are escaped the COPY way (`\\`, `\t`, `\n`, `\r`)
//!   so the stored text is byte-identical to the input;
//! * a NUL byte and every byte of invalid UTF-8 (which PostgreSQL cannot
//!   store in `text`) is stored as the 4-character text `\xNN` (lower-case
//!   hex) - on the wire that is `\\xNN` because the backslash itself is
//!   escaped.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append the row for `line` to `out`.
pub fn push_row(out: &mut Vec<u8>, line: &[u8]) {
    let mut fields: [&[u8]; 4] = [&[]; 4];
    let mut rest = line;
    for f in fields.iter_mut() {
        match rest.iter().position(|&b| b == b' ') {
            Some(i) => {
                *f = &rest[..i];
                rest = &rest[i + 1..];
            }
            None => {
                // Not our layout: keep the whole line as the message.
                out.extend_from_slice(b"\\N\t\\N\t\\N\t\\N\t");
                push_field(out, line);
                out.push(b'\n');
                return;
            }
        }
    }
    // Empty uid or time: NULL (an empty string is not a uuid or timestamptz).
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        if i < 2 && f.is_empty() {
            out.extend_from_slice(b"\\N");
        } else if i == 0 && !is_uuid(f) {
            push_derived_uuid(out, f);
        } else {
            push_field(out, f);
        }
    }
    out.push(b'\t');
    push_field(out, rest);
    out.push(b'\n');
}

/// PostgreSQL's two common uuid spellings: 32 hex digits, or 8-4-4-4-12.
fn is_uuid(f: &[u8]) -> bool {
    let dash = |i: usize| f.len() == 36 && matches!(i, 8 | 13 | 18 | 23);
    matches!(f.len(), 32 | 36)
        && f.iter().enumerate().all(|(i, &b)| {
            if dash(i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

/// The UUID (version 8, RFC 9562 variant) made of the xxh3-128 of `token`.
fn push_derived_uuid(out: &mut Vec<u8>, token: &[u8]) {
    let mut b = xxhash_rust::xxh3::xxh3_128(token).to_be_bytes();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    for x in b {
        out.push(HEX[usize::from(x >> 4)]);
        out.push(HEX[usize::from(x & 15)]);
    }
}

/// Append one escaped column value.
pub fn push_field(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        push_valid(out, chunk.valid().as_bytes());
        for &b in chunk.invalid() {
            push_hex(out, b);
        }
    }
}

/// Valid UTF-8: copy runs of plain bytes at once, escape the few specials.
fn push_valid(out: &mut Vec<u8>, s: &[u8]) {
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0 => b"\\\\x00",
            _ => continue,
        };
        out.extend_from_slice(&s[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&s[start..]);
}

fn push_hex(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[
        b'\\',
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 15)],
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_row(&mut v, line);
        v
    }

    fn field(b: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_field(&mut v, b);
        v
    }

    #[test]
    fn splits_four_fields_msg_keeps_spaces() {
        assert_eq!(
            row(b"0D14E229231A40B29661F33A04E8719E 2026-01-02T03:04:05.123+00:00 mx1 postfix/smtpd[12]:  hello  world "),
            b"0D14E229231A40B29661F33A04E8719E\t2026-01-02T03:04:05.123+00:00\tmx1\tpostfix/smtpd[12]:\t hello  world \n".to_vec()
        );
    }

    #[test]
    fn empty_fields() {
        assert_eq!(row(b"    "), b"\\N\t\\N\t\t\t\n".to_vec());
        let u = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            row(format!("{u} t h  m").as_bytes()),
            format!("{u}\tt\th\t\tm\n").into_bytes()
        );
    }

    #[test]
    fn uid_tokens_become_stable_uuids() {
        let uuid = b"0123456789abcdefABCDEF0123456789 t h g m";
        assert!(row(uuid).starts_with(b"0123456789abcdefABCDEF0123456789\t"));
        let dashed = b"01234567-89ab-cdef-0123-456789abcdef t h g m";
        assert!(row(dashed).starts_with(b"01234567-89ab-cdef-0123-456789abcdef\t"));
        let a = row(b"1a2b3c:17 t h g m");
        let b = row(b"1a2b3c:17 t h g m");
        let c = row(b"1a2b3c:18 t h g m");
        assert_eq!(a, b);
        assert_ne!(a[..32], c[..32]);
        assert!(a[..32].iter().all(u8::is_ascii_hexdigit) && a[32] == b'\t');
        assert_eq!(a[12], b'8', "version 8");
        // Not hex, or the wrong length: derived, never passed through.
        assert_ne!(
            row(b"0123456789abcdefABCDEF012345678g t h g m")[..32],
            *b"0123456789abcdefABCDEF012345678g"
        );
        assert_ne!(
            row(b"01234567-89ab-cdef-0123-4567-9abcdef t h g m")[..9],
            *b"01234567-"
        );
    }

    #[test]
    fn foreign_layout_goes_to_msg() {
        assert_eq!(
            row(b"just a\tline"),
            b"\\N\t\\N\t\\N\t\\N\tjust a\\tline\n".to_vec()
        );
    }

    #[test]
    fn copy_specials_are_escaped() {
        assert_eq!(field(b"a\\b\tc\nd\re"), b"a\\\\b\\tc\\nd\\re".to_vec());
        // The end-of-data marker cannot appear: its backslash is doubled.
        assert_eq!(field(b"\\."), b"\\\\.".to_vec());
        assert_eq!(
            field(b"'; DROP TABLE x; --\""),
            b"'; DROP TABLE x; --\"".to_vec()
        );
    }

    #[test]
    fn nul_and_invalid_utf8_become_hex_text() {
        assert_eq!(field(b"a\0b"), b"a\\\\x00b".to_vec());
        assert_eq!(field(b"\xff\xfe"), b"\\\\xff\\\\xfe".to_vec());
        // Truncated 3-byte sequence: each of its bytes is escaped.
        assert_eq!(field(b"x\xe2\x82y"), b"x\\\\xe2\\\\x82y".to_vec());
        // Valid multibyte text passes unchanged.
        assert_eq!(field("grüße €".as_bytes()), "grüße €".as_bytes().to_vec());
        // Other control bytes are legal in COPY text and kept raw.
        assert_eq!(field(b"\x01\x1b\x7f"), b"\x01\x1b\x7f".to_vec());
    }

    #[test]
    fn long_line() {
        let line = vec![b'a'; 65536];
        assert_eq!(field(&line).len(), 65536);
    }
}
