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

/// The fields stored lines are found by: one indexed column each in the day
/// partitions, and one tagged string each in a compacted block's key array
/// ([`Field::archive_key`]). Ingest fills the columns, compaction writes the
/// tagged keys and the lookup (`pg_else/sql/lookup.sql`) asks for them; SQL
/// names a field by [`Field::name`], never by its tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    QueueId,
    /// The next queue ID a line names (`queued as`, a notification's ID).
    Link,
    Sender,
    Recipient,
    OrigRecipient,
    MessageId,
    Client,
    ClientName,
    Status,
}

impl Field {
    const ALL: [Field; 9] = [
        Field::QueueId,
        Field::Link,
        Field::Sender,
        Field::Recipient,
        Field::OrigRecipient,
        Field::MessageId,
        Field::Client,
        Field::ClientName,
        Field::Status,
    ];

    /// The name SQL uses (the lookup's argument, the API's vocabulary).
    pub fn name(self) -> &'static str {
        match self {
            Field::QueueId => "queue_id",
            Field::Link => "link",
            Field::Sender => "sender",
            Field::Recipient => "recipient",
            Field::OrigRecipient => "orig_recipient",
            Field::MessageId => "message_id",
            Field::Client => "client",
            Field::ClientName => "client_name",
            Field::Status => "status",
        }
    }

    /// ```
    /// use maillog_core::keys::Field;
    /// assert_eq!(Field::from_name("orig_recipient"), Some(Field::OrigRecipient));
    /// assert_eq!(Field::from_name("r"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The one-letter tag of the compacted form (private to this file: every
    /// reader and writer goes through [`Field::archive_key`]).
    fn tag(self) -> char {
        match self {
            Field::QueueId => 'q',
            Field::Link => 'l',
            Field::Sender => 's',
            Field::Recipient => 'r',
            Field::OrigRecipient => 'o',
            Field::MessageId => 'm',
            Field::Client => 'c',
            Field::ClientName => 'n',
            Field::Status => 't',
        }
    }

    /// Addresses are matched case-blind and also by their whole domain.
    pub fn is_address(self) -> bool {
        matches!(
            self,
            Field::Sender | Field::Recipient | Field::OrigRecipient
        )
    }

    /// The key of a stored value in a compacted block's key array.
    ///
    /// ```
    /// use maillog_core::keys::Field;
    /// assert_eq!(Field::QueueId.archive_key("3F1A2B4C5D"), "q3F1A2B4C5D");
    /// ```
    pub fn archive_key(self, value: &str) -> String {
        let mut k = String::with_capacity(value.len() + 1);
        k.push(self.tag());
        k.push_str(value);
        k
    }

    /// Every key a stored value is found by: the value, and for an address
    /// also its `@domain` (the form a whole-domain search asks for).
    ///
    /// ```
    /// use maillog_core::keys::Field;
    /// let mut keys = Vec::new();
    /// Field::Sender.archive_keys(Some("a@b.example"), &mut keys);
    /// assert_eq!(keys, ["sa@b.example", "s@b.example"]);
    /// ```
    pub fn archive_keys(self, value: Option<&str>, out: &mut Vec<String>) {
        let Some(v) = value else { return };
        out.push(self.archive_key(v));
        if self.is_address() {
            if let Some(at) = v.rfind('@') {
                out.push(self.archive_key(&v[at..]));
            }
        }
    }

    /// Where, around a journey's time [since, until], the lines found by this
    /// field may be logged, as whole days (before since, after until). A
    /// journey's lines end at most a queue lifetime after it was received
    /// (Postfix's maximal_queue_lifetime, 5 days by default, plus a day); its
    /// sender is logged when it is received (a day covers a late hop); a client
    /// is looked up where it connected; a status is logged after receipt.
    /// Every lookup and the gathering of hops use these windows.
    pub fn window_days(self) -> (i32, i32) {
        const LIFETIME: i32 = 6;
        match self {
            Field::QueueId
            | Field::Link
            | Field::Recipient
            | Field::OrigRecipient
            | Field::MessageId => (LIFETIME, LIFETIME),
            Field::Sender => (0, 1),
            Field::Client | Field::ClientName => (0, 0),
            Field::Status => (0, LIFETIME),
        }
    }
}

/// The keys a line naming several recipients (amavis, Exchange: `Fields::
/// recipient_list`) is also found by: each address lower-cased and bounded as
/// stored, and its `@domain`, distinct. The stored line keeps one recipient
/// column; these keys are an index over the line's text (schema.sql
/// `_index_partition`, compacted blocks as recipient keys).
///
/// ```
/// use maillog_core::keys::list_keys;
/// assert_eq!(list_keys(["A@x.example", "b@x.example"].into_iter()),
///            ["a@x.example", "@x.example", "b@x.example"]);
/// ```
pub fn list_keys<'a>(recipients: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in recipients {
        let r = r.to_lowercase();
        let at = r.rfind('@');
        for k in [Some(r.as_str()), at.map(|at| &r[at..])]
            .into_iter()
            .flatten()
        {
            let k = search_key(k);
            if !out.iter().any(|o| *o == k) {
                out.push(k.into_owned());
            }
        }
    }
    out
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
    fn every_field_has_its_own_tag_and_name() {
        let tags: std::collections::HashSet<char> = Field::ALL.iter().map(|f| f.tag()).collect();
        assert_eq!(tags.len(), Field::ALL.len());
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.name()), Some(f));
        }
    }

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
