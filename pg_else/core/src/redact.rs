//! Masking of mail addresses in raw text, for what a scoped analyst receives
//! (README "Groups"): every address in a line that the caller may not see is
//! replaced by [`MASK`], wherever it stands — `to=<...>`, `orig_to=<...>`,
//! amavis and Exchange recipient lists, header warnings, DSN and reply texts,
//! Dovecot user names. Pure and allocation-free when nothing is masked; the
//! query pipeline's scope step decides which addresses are kept.
use std::borrow::Cow;

/// What an address becomes: the whole address, its angle brackets included,
/// so neither the local part nor the domain (another customer's name) shows.
pub const MASK: &str = "<redacted>";

/// Bytes an address token may hold on either side of its `@`: RFC 5321's
/// atext and dot, domain letters, address literals, and any non-ASCII byte
/// (SMTPUTF8). Separators in log lines (`<>,;()"` and white space, `:`) end it.
fn addr_byte(b: u8) -> bool {
    b >= 0x80
        || b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'.' | b'-'
                | b'_'
                | b'+'
                | b'='
                | b'!'
                | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'/'
                | b'?'
                | b'^'
                | b'`'
                | b'{'
                | b'|'
                | b'}'
                | b'~'
                | b'['
                | b']'
        )
}

/// The addresses in `text`, as byte ranges: maximal runs of address bytes
/// around an `@` with something on both sides; a local part in double quotes
/// (`"a b"@x`) is taken whole. A trailing dot (end of a sentence) is not part
/// of the domain.
pub fn addresses(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'@', &b[from..]).map(|i| from + i) {
        let mut start = i;
        if start > from && b[start - 1] == b'"' {
            // A quoted local part: back to its opening quote (not into the
            // previous address).
            if let Some(q) = memchr::memrchr(b'"', &b[from..start - 1]) {
                start = from + q;
            }
        } else {
            while start > from && addr_byte(b[start - 1]) {
                start -= 1;
            }
        }
        // (`a@b@c` is one token: source routes and typos are masked whole.)
        let mut end = i + 1;
        while end < b.len() && (addr_byte(b[end]) || b[end] == b'@') && b[end] != b'=' {
            end += 1;
        }
        while end > i + 1 && b[end - 1] == b'.' {
            end -= 1;
        }
        if start < i && end > i + 1 {
            // An `x=` before a bare address is a field name, not the address.
            let local = &text[start..i];
            if let Some(eq) = local.rfind('=') {
                if eq + 1 < local.len() && !local.starts_with('"') {
                    start += eq + 1;
                }
            }
            out.push((start, end));
            from = end;
        } else {
            // Not an address here; a later `@` may still start one.
            from = i + 1;
        }
    }
    out
}

/// `text` with every address for which `keep` is false replaced by [`MASK`]
/// (angle brackets directly around it are replaced with it). `keep` gets the
/// address as written.
///
/// ```
/// use maillog_core::redact::redact;
/// let mine = |a: &str| a.to_lowercase().ends_with("@a.example");
/// let line = "(04000-01) Passed CLEAN {RelayedInbound}, [192.0.2.50]:41000 [192.0.2.50] \
///             <s@far.example> -> <secret@b.example>,<Ann@A.example>, Queue-ID: 7A7A7A7A01";
/// assert_eq!(
///     redact(line, |a| mine(a) || a == "s@far.example"),
///     "(04000-01) Passed CLEAN {RelayedInbound}, [192.0.2.50]:41000 [192.0.2.50] \
///      <s@far.example> -> <redacted>,<Ann@A.example>, Queue-ID: 7A7A7A7A01"
/// );
/// assert_eq!(redact("to=bob@b.example, x", mine), "to=<redacted>, x");
/// assert!(matches!(redact("no address here", mine), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn redact<'a>(text: &'a str, keep: impl Fn(&str) -> bool) -> Cow<'a, str> {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    for (s, e) in addresses(text) {
        if keep(&text[s..e]) {
            continue;
        }
        let bracketed = s > 0 && b[s - 1] == b'<' && b.get(e) == Some(&b'>');
        let (s, e) = if bracketed { (s - 1, e + 1) } else { (s, e) };
        if out.is_empty() {
            out.reserve(text.len());
        }
        out.push_str(&text[copied..s]);
        out.push_str(MASK);
        copied = e;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn every_form_a_mail_log_writes() {
        for (line, want) in [
            (
                "3F1A2B4C5D: to=<ann@a.example>, orig_to=<alias@b.example>, relay=local, status=sent",
                "3F1A2B4C5D: to=<redacted>, orig_to=<redacted>, relay=local, status=sent",
            ),
            (
                "3F1A2B4C5D: warning: header Subject: hi from x[192.0.2.1]; from=<s@far.example> to=<bob@b.example> proto=ESMTP helo=<x>",
                "3F1A2B4C5D: warning: header Subject: hi from x[192.0.2.1]; from=<redacted> to=<redacted> proto=ESMTP helo=<x>",
            ),
            (
                "2024-01-25T15:16:09.949Z,10.0.0.2,ex,10.0.0.1,ex,ctx,conn,SMTP,DELIVER,7091,<m@x>,nid,b@y.example;c@y.example,,7229,2",
                "2024-01-25T15:16:09.949Z,10.0.0.2,ex,10.0.0.1,ex,ctx,conn,SMTP,DELIVER,7091,<redacted>,nid,<redacted>;<redacted>,,7229,2",
            ),
            (
                "lmtp(bob.secret@b.example)<15080><pPC9MGVc>: msgid=<m@x>: saved mail to INBOX",
                "lmtp(<redacted>)<15080><pPC9MGVc>: msgid=<redacted>: saved mail to INBOX",
            ),
            (
                "status=bounced (host mx[192.0.2.9] said: 550 5.1.1 \"bob smith\"@b.example... User unknown.)",
                "status=bounced (host mx[192.0.2.9] said: 550 5.1.1 <redacted>... User unknown.)",
            ),
            ("mail to user@[192.0.2.7].", "mail to <redacted>."),
            ("Grüße an jörg@bü.example", "Grüße an <redacted>"),
            ("a@ b @c @ x@", "a@ b @c @ x@"),
        ] {
            assert_eq!(redact(line, none), want, "in {line:?}");
        }
    }

    #[test]
    fn kept_addresses_stay_byte_for_byte() {
        let line = "NOQUEUE: reject: RCPT from x[192.0.2.1]: 550 5.7.1 <Bob@B.example>: no; from=<s@far.example> to=<Bob@B.example>";
        assert_eq!(redact(line, |a| a.contains("example")), line);
        assert_eq!(
            redact(line, |a| a == "s@far.example"),
            "NOQUEUE: reject: RCPT from x[192.0.2.1]: 550 5.7.1 <redacted>: no; from=<s@far.example> to=<redacted>"
        );
    }

    proptest! {
        /// Whatever surrounds an address, it is gone from the masked text,
        /// and text without an `@` is never touched.
        #[test]
        fn no_masked_address_survives(
            before in "[ -~]{0,30}",
            local in "[a-z0-9._+-]{1,20}",
            domain in "[a-z0-9-]{1,12}\\.example",
            after in "[ -~]{0,30}",
        ) {
            let addr = format!("{local}@{domain}");
            let text = format!("{before}{addr}{after}");
            let out = redact(&text, none);
            prop_assert!(!out.contains(&addr), "{text:?} -> {out:?}");
            prop_assert!(!out.contains(&format!("@{domain}")), "{text:?} -> {out:?}");
            let plain = text.replace('@', " ");
            prop_assert_eq!(redact(&plain, none), plain.as_str());
        }

        /// Keeping everything is the identity, on any text.
        #[test]
        fn keeping_all_changes_nothing(text in "\\PC{0,80}") {
            prop_assert_eq!(redact(&text, |_| true), text.as_str());
        }
    }
}
