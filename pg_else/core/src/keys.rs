//! Search keys: the values stored lines are found by (queue ID, next queue ID,
//! addresses, Message-ID, client). PostgreSQL cannot index a value longer than
//! about 2.7 kB (btree and GIN entries alike), while a hostile client can make
//! Postfix log a Message-ID or an address of many kilobytes; one such value
//! would fail the whole batch it arrives in. A key longer than [`MAX_KEY`]
//! bytes is therefore kept in a bounded form: `~`, a 64-bit hash of the whole
//! value in hex, `~`, and the value's last [`KEPT_TAIL`] bytes (an address ends
//! in its domain, so a whole-domain search still finds it). Searches put the
//! value asked for through the same function; the line itself is stored whole.
use std::borrow::Cow;
use xxhash_rust::xxh3::xxh3_64;

/// Longest key kept as it is, in bytes.
pub const MAX_KEY: usize = 1000;
/// Bytes of a longer value's end kept in its bounded form.
pub const KEPT_TAIL: usize = 900;

/// The key stored (and searched) for `value`.
///
/// ```
/// use maillog_core::keys::{search_key, MAX_KEY};
/// assert_eq!(search_key("3F1A2B4C5D"), "3F1A2B4C5D");
/// let long = format!("{}@example.org", "x".repeat(3000));
/// let key = search_key(&long);
/// assert!(key.len() < MAX_KEY && key.starts_with('~') && key.ends_with("x@example.org"));
/// assert_eq!(search_key(&long), key, "the same value, the same key");
/// assert_ne!(search_key(&format!("y{long}")), key, "another value, another key");
/// ```
pub fn search_key(value: &str) -> Cow<'_, str> {
    if value.len() <= MAX_KEY {
        return Cow::Borrowed(value);
    }
    let mut start = value.len() - KEPT_TAIL;
    while !value.is_char_boundary(start) {
        start += 1;
    }
    Cow::Owned(format!(
        "~{:016x}~{}",
        xxh3_64(value.as_bytes()),
        &value[start..]
    ))
}

/// A host or domain name and every name above it, lower-case (what a list
/// entry for a domain matches: the domain and its sub-domains).
///
/// ```
/// use maillog_core::keys::domain_suffixes;
/// assert_eq!(domain_suffixes("A.b.Example"), ["a.b.example", "b.example", "example"]);
/// assert!(domain_suffixes("").is_empty());
/// ```
pub fn domain_suffixes(name: &str) -> Vec<String> {
    let name = name.to_lowercase();
    let mut out = Vec::new();
    let mut rest = name.as_str();
    while !rest.is_empty() {
        out.push(rest.to_owned());
        rest = rest.split_once('.').map_or("", |(_, r)| r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        let at = "a".repeat(MAX_KEY);
        assert_eq!(search_key(&at), at.as_str());
        let over = "a".repeat(MAX_KEY + 1);
        let k = search_key(&over);
        assert_eq!(k.len(), 1 + 16 + 1 + KEPT_TAIL);
    }

    #[test]
    fn multibyte_tail_is_cut_on_a_char_boundary() {
        let v = "é".repeat(MAX_KEY);
        let k = search_key(&v);
        assert!(k.ends_with('é'));
        assert!(k.len() <= 1 + 16 + 1 + KEPT_TAIL + 1);
    }
}
