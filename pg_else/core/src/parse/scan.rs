//! Small zero-copy scanning helpers shared by the program parsers.
//!
//! Every function cuts `&str` only at the position of an ASCII byte it found (or
//! at the ends), which is always a char boundary, so none of them can panic.

/// Position of `needle` in `hay`.
#[inline]
pub fn find(hay: &str, needle: &str) -> Option<usize> {
    memchr::memmem::find(hay.as_bytes(), needle.as_bytes())
}

/// Last position of `needle` in `hay`.
#[inline]
pub fn rfind(hay: &str, needle: &str) -> Option<usize> {
    memchr::memmem::rfind(hay.as_bytes(), needle.as_bytes())
}

/// Text after the first `needle`.
#[inline]
pub fn after<'a>(hay: &'a str, needle: &str) -> Option<&'a str> {
    find(hay, needle).map(|i| &hay[i + needle.len()..])
}

/// Is `s` a Postfix queue ID? Short IDs are upper-case hex; upper-case
/// alphanumerics with a digit are accepted too so that synthetic test logs
/// still correlate. Long IDs (`enable_long_queue_ids`) are the time, `z` and
/// the inode number in digits and letters without vowels.
///
/// ```
/// use maillog_core::parse::is_queue_id;
/// assert!(is_queue_id("3F1A2B4C5D"));
/// assert!(is_queue_id("4DRH1S0cfLz9vFD"));
/// // The time part may itself contain `z`: the separator is the last one.
/// assert!(is_queue_id("3p7RMT0zrYz20p"));
/// assert!(!is_queue_id("NOQUEUE"));
/// assert!(!is_queue_id("warning"));
/// ```
pub fn is_queue_id(s: &str) -> bool {
    let b = s.as_bytes();
    // The longest long ID is 24 characters: 7 characters of seconds (from the
    // year 2596 on) + 4 of microseconds + `z` + 12 of a 64-bit inode number in
    // base 51. Short IDs are far shorter.
    if !(5..=24).contains(&b.len()) {
        return false;
    }
    let hex = b
        .iter()
        .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c));
    let short = hex
        || (b
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            && b.iter().any(u8::is_ascii_digit));
    short || is_long_queue_id(b)
}

/// Postfix's long queue ID: seconds (at least 6 characters) and microseconds
/// (exactly 4) in a 52-character alphabet of digits and consonants, then `z`,
/// then the inode number in base 51, the same alphabet without `z`. As `z` is a
/// digit of the time part, only the last `z` can be the separator.
fn is_long_queue_id(b: &[u8]) -> bool {
    const MIN_TIME: usize = 6 + 4;
    let Some(sep) = b.iter().rposition(|c| *c == b'z') else {
        return false;
    };
    sep >= MIN_TIME
        && sep + 1 < b.len()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() && !b"AEIOUaeiou".contains(c))
}

/// `QID: rest` → (QID, rest). `NOQUEUE: rest` → (None, rest).
pub fn queue_prefix(msg: &str) -> Option<(Option<&str>, &str)> {
    let b = msg.as_bytes();
    let end = memchr::memchr(b':', &b[..b.len().min(26)])?;
    if b.get(end + 1) != Some(&b' ') {
        return None;
    }
    let id = &msg[..end];
    let rest = &msg[end + 2..];
    if id == "NOQUEUE" {
        Some((None, rest))
    } else if is_queue_id(id) {
        Some((Some(id), rest))
    } else {
        None
    }
}

/// `name[ip]` at the start of `s` → (name, ip, text after `]`).
/// The name may be empty (postscreen logs `[ip]:port`).
pub fn client(s: &str) -> Option<(&str, &str, &str)> {
    let b = s.as_bytes();
    let open = memchr::memchr(b'[', b)?;
    if b[..open].contains(&b' ') {
        return None;
    }
    let close = memchr::memchr(b']', &b[open..])? + open;
    Some((&s[..open], &s[open + 1..close], &s[close + 1..]))
}

/// Skip `:port` after a client or relay.
pub fn skip_port(s: &str) -> &str {
    match s.strip_prefix(':') {
        Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => {
            r.trim_start_matches(|c: char| c.is_ascii_digit())
        }
        _ => s,
    }
}

/// Strip one pair of angle brackets if present.
pub fn unbracket(s: &str) -> &str {
    s.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s)
}

/// The enhanced status code of a reply: `554 5.7.1 text` or `5.7.1 text` → `5.7.1`.
pub fn dsn(reply: &str) -> Option<&str> {
    let b = reply.as_bytes();
    let start =
        if b.len() > 4 && b[..3].iter().all(u8::is_ascii_digit) && matches!(b[3], b' ' | b'-') {
            4
        } else {
            0
        };
    let tok_end = b[start..]
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == b'.'))
        .map_or(b.len(), |i| i + start);
    let tok = &reply[start..tok_end];
    let tb = tok.as_bytes();
    let ok = tb.len() >= 5
        && matches!(tb[0], b'2' | b'4' | b'5')
        && tb[1] == b'.'
        && tok.split('.').count() == 3
        && tok.split('.').all(|p| !p.is_empty() && p.len() <= 3);
    ok.then_some(tok)
}

/// The next hop's queue ID in a reply: `... queued as X`, `forwarded as X`, Exim `OK id=X`,
/// Exchange `250 2.6.0 <msgid> [InternalId=N, Hostname=H] Queued mail for delivery`
/// (N is the internal-message-id of H's message tracking log).
///
/// ```
/// use maillog_core::parse::parse_message;
/// let e = parse_message("postfix/smtp", "3F1A2B4C5D: to=<u@ex.example.org>, relay=ex[192.0.2.9]:25, delay=0.1, \
///     delays=0/0/0/0.1, dsn=2.6.0, status=sent (250 2.6.0 <m@example.org> [InternalId=7091, \
///     Hostname=EXCH1.ex.example.org] Queued mail for delivery)");
/// assert_eq!(e.fields.next_queue_id, Some("7091"));
/// ```
pub fn next_queue_id(reply: &str) -> Option<&str> {
    for key in ["queued as ", "forwarded as ", " id=", "[InternalId="] {
        if let Some(rest) = after(reply, key) {
            let end = rest
                .bytes()
                .position(|c| !(c.is_ascii_alphanumeric() || c == b'-'))
                .unwrap_or(rest.len());
            let id = &rest[..end];
            // ` id=` is Exim's `OK id=1pXyZ3-0001AB-Cd` (two dashes); amavis'
            // `discarded, id=12345-01` names no next queue entry, and one such
            // id shared by thousands of lines must not become a hop.
            if end > 0 && (key != " id=" || id.matches('-').count() >= 2) {
                return Some(id);
            }
        }
    }
    None
}

/// Iterator over `key=value` pairs separated by `, `, `,`, `;` or spaces, as in
/// `to=<a>, relay=x, delay=1` or `from=<a> to=<b> proto=ESMTP helo=<h>`.
/// Values in angle brackets end at a `>` followed by a separator or the end, so
/// addresses with spaces or commas survive. Stops at the first token that is
/// not `key=`.
pub struct Kv<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Kv<'a> {
    pub fn new(s: &'a str) -> Self {
        Kv { s, pos: 0 }
    }

    /// Text not consumed yet.
    pub fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    /// The raw value of the status key: the word, then skips to the remainder.
    pub fn take_word(&mut self) -> &'a str {
        let b = self.s.as_bytes();
        let start = self.pos;
        while self.pos < b.len() && b[self.pos] != b' ' {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }
}

impl<'a> Iterator for Kv<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        let mut p = self.pos;
        while p < b.len() && matches!(b[p], b' ' | b',' | b';') {
            p += 1;
        }
        let ks = p;
        while p < b.len() && (b[p].is_ascii_alphanumeric() || b[p] == b'_' || b[p] == b'-') {
            p += 1;
        }
        if p == ks || b.get(p) != Some(&b'=') {
            return None;
        }
        let key = &self.s[ks..p];
        p += 1;
        self.pos = p;
        if key == "status" {
            // The caller reads the word and the reply itself.
            return Some((key, ""));
        }
        let vs = p;
        if b.get(p) == Some(&b'<') {
            let mut q = p + 1;
            loop {
                match memchr::memchr(b'>', &b[q..]) {
                    Some(i) => {
                        q += i + 1;
                        if q >= b.len() || matches!(b[q], b' ' | b',' | b';' | b':') {
                            break;
                        }
                    }
                    None => {
                        q = b.len();
                        break;
                    }
                }
            }
            p = q;
        } else {
            while p < b.len() && !matches!(b[p], b' ' | b',') {
                p += 1;
            }
        }
        self.pos = p;
        Some((key, &self.s[vs..p]))
    }
}
