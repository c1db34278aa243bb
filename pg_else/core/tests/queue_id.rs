//! Postfix queue IDs, built from their definition (src/global/mail_queue.h):
//! short IDs are microseconds (5 hex digits) + inode number in hex; long IDs
//! (`enable_long_queue_ids`) are seconds (base 52, at least 6 characters) +
//! microseconds (base 52, exactly 4) + `z` + inode number (base 51).
mod common;

use maillog_core::parse::{is_queue_id, parse_line, parse_message, Kind};

/// Digits and letters without vowels; `z` comes last so that the first 51
/// characters are the inode alphabet.
const ALPHABET: &[u8; 52] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

/// `v` in base `base` over [`ALPHABET`], left-padded with `0` to `width`.
fn encode(mut v: u128, base: u128, width: usize) -> String {
    let mut out = Vec::new();
    while v > 0 || out.is_empty() {
        out.push(ALPHABET[(v % base) as usize]);
        v /= base;
    }
    while out.len() < width {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

fn long_id(secs: u128, usecs: u128, inode: u128) -> String {
    assert!(usecs < 1_000_000);
    format!(
        "{}{}z{}",
        encode(secs, 52, 6),
        encode(usecs, 52, 4),
        encode(inode, 51, 1)
    )
}

fn short_id(usecs: u64, inode: u64) -> String {
    format!("{usecs:05X}{inode:X}")
}

#[test]
fn encoder_matches_the_definition() {
    assert_eq!(encode(0, 52, 4), "0000");
    assert_eq!(encode(51, 52, 4), "000z");
    assert_eq!(encode(52, 52, 1), "10");
    assert_eq!(encode(50, 51, 1), "y");
    // 2^64 - 1 needs 12 base-51 characters.
    assert_eq!(encode(u128::from(u64::MAX), 51, 1).len(), 12);
}

#[test]
fn long_ids_with_inode_parts_of_1_to_12_characters() {
    let secs = 1_764_324_001; // 2025-11-28: 6 characters of seconds
    for len in 1..=12u32 {
        for inode in [51u128.pow(len - 1), 51u128.pow(len) - 1] {
            if len == 1 && inode == 1 {
                continue;
            }
            let id = long_id(secs, 123_456, inode);
            assert_eq!(id.len(), 10 + 1 + len as usize, "{id}");
            assert!(is_queue_id(&id), "{id}");
        }
    }
    // Inode 0 is one character too.
    assert!(is_queue_id(&long_id(secs, 0, 0)));
}

#[test]
fn long_ids_whose_time_part_contains_z() {
    // Microseconds 51 end in `z`; seconds ending in digit 51 contain one too.
    for (secs, usecs) in [
        (1_764_324_001, 51),
        (52 * 33_929_307 + 51, 7),
        (1_764_324_001, 51 * 52 + 51),
    ] {
        let id = long_id(secs, usecs, 12_345);
        assert!(id[..10].contains('z'), "{id}");
        assert!(is_queue_id(&id), "{id}");
    }
    // Real IDs: two z's, then one.
    assert!(is_queue_id("3p7RMT0zrYz20p"));
    assert!(is_queue_id("4DRH1S0cfLz9vFD"));
}

#[test]
fn long_ids_with_an_11_character_time_part() {
    // Seconds from 52^6 on (the year 2596) take 7 characters.
    let secs = 52u128.pow(6);
    let id = long_id(secs, 999_999, 1);
    assert_eq!(id.find('z'), Some(11));
    assert!(is_queue_id(&id), "{id}");
    // ... and with the largest 64-bit inode number: the 24-character maximum.
    let id = long_id(secs, 999_999, u128::from(u64::MAX));
    assert_eq!(id.len(), 24);
    assert!(is_queue_id(&id), "{id}");
}

#[test]
fn short_ids() {
    for (usecs, inode) in [
        (0, 0),
        (999_999, 0xF),
        (12_345, 0xABCDE),
        (1, u64::from(u32::MAX)),
    ] {
        let id = short_id(usecs, inode);
        assert!(is_queue_id(&id), "{id}");
    }
    assert!(is_queue_id("8B22B43C3"));
}

#[test]
fn not_queue_ids() {
    for s in [
        "",
        "NOQUEUE",
        "warning",
        "statistics",
        "3p7RMT0arYz20p",   // vowel in the time part
        "3p7RMT0zrYz20e",   // vowel in the inode part
        "3p7RMT0crYx20p",   // no z
        "3p7RMT0zrY20p",    // its only z leaves 7 characters of time
        "4DRH1S0cfz9vFD",   // 9 characters of time
        "4DRH1S0cz9vFDxyw", // 8 characters of time
        "4DRH1S0cfLz9vFz",  // z last: empty inode part
        "4DRH1S0cfLz9vF-",  // not alphanumeric
        "4DRH1S0cfLz9vFé",
        "4DRH1S0cfLz9vFDbcdfghjklmn", // 26 characters
    ] {
        assert!(!is_queue_id(s), "{s}");
    }
}

#[test]
fn long_id_with_two_zs_through_a_whole_line() {
    let line = "Nov 28 10:00:01 mx1 postfix/submission/smtpd[4711]: 3p7RMT0zrYz20p: \
                client=c.example[192.0.2.3], sasl_method=PLAIN, sasl_username=alice";
    let p = parse_line(line, &common::CTX);
    assert_eq!(p.header.program, Some("postfix/submission/smtpd"));
    assert_eq!(p.header.pid, Some(4711));
    assert_eq!(p.event.kind, Kind::Client);
    assert_eq!(p.event.queue_id, Some("3p7RMT0zrYz20p"));
    assert_eq!(p.event.fields.client_ip, Some("192.0.2.3"));
    assert_eq!(p.event.fields.sasl_username, Some("alice"));

    let e = parse_message("postfix/qmgr", "3p7RMT0zrYz20p: removed");
    assert_eq!(
        (e.kind, e.queue_id),
        (Kind::Removed, Some("3p7RMT0zrYz20p"))
    );
    // The longest ID still fits the `QID: ` prefix scan.
    let id = long_id(52u128.pow(6), 999_999, u128::from(u64::MAX));
    let msg = format!("{id}: removed");
    let e = parse_message("postfix/qmgr", &msg);
    assert_eq!((e.kind, e.queue_id), (Kind::Removed, Some(id.as_str())));
}
