//! The sender and recipient of a greylisting triplet. A mailing list or a
//! forwarder writes a new envelope sender for every message (VERP, SRS,
//! BATV, sub-addresses); folded, a retry of the "same" mail from the same
//! source finds its triplet again, as postgrey and sqlgrey do.

/// The sender as stored in a triplet, e.g.
/// ```
/// use greylse::normalize::sender;
/// assert_eq!(sender("<John.Doe+Lists@Example.ORG>"), "john.doe@example.org");
/// assert_eq!(sender("prvs=1234abcd5e=alice@example.org"), "alice@example.org");
/// assert_eq!(sender("SRS0=HHH=TT=orig.example=bob@forwarder.example"), "bob@orig.example");
/// assert_eq!(sender("SRS1=XXX=fwd1.example==HHH=TT=orig.example=bob@fwd2.example"), "bob@orig.example");
/// assert_eq!(sender("list-bounces-4711-carol=example.net@lists.example.com"), "list-bounces-#-carol=example.net@lists.example.com");
/// assert_eq!(sender("<>"), "");
/// ```
pub fn sender(raw: &str) -> String {
    let s = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase();
    let Some((local, domain)) = s.rsplit_once('@') else {
        return s;
    };
    let (mut local, mut domain) = (local.to_owned(), domain.to_owned());
    // SRS (Sender Rewriting Scheme): SRS0=hash=time=orig-domain=orig-local,
    // SRS1=hash=first-forwarder==hash=time=orig-domain=orig-local.
    let srs = local.strip_prefix("srs0=").or_else(|| {
        local
            .strip_prefix("srs1=")
            .and_then(|r| r.split_once("==").map(|(_, t)| t))
    });
    if let Some(rest) = srs {
        let parts: Vec<&str> = rest.splitn(4, '=').collect();
        if let [_, _, d, l] = parts[..] {
            if !d.is_empty() && !l.is_empty() {
                (local, domain) = (l.to_owned(), d.to_owned());
            }
        }
    }
    // BATV: prvs=tag=local (the tag changes per message).
    for prefix in ["prvs=", "msprvs1=", "btv1=="] {
        if let Some(rest) = local.strip_prefix(prefix) {
            if let Some((_, l)) = rest.rsplit_once('=') {
                if !l.is_empty() {
                    local = l.to_owned();
                }
            }
        }
    }
    // Sub-address (recipient_delimiter "+"): user+anything → user.
    if let Some((user, _)) = local.split_once('+') {
        if !user.is_empty() {
            local.truncate(user.len());
        }
    }
    // VERP and per-message numbers: each run of digits standing alone
    // between separators becomes '#'.
    format!("{}@{}", fold_numbers(&local), domain)
}

/// The recipient: lower case, without angle brackets (kept exact otherwise:
/// each mailbox is its own triplet).
pub fn recipient(raw: &str) -> String {
    raw.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase()
}

/// `bounce-4711-x` → `bounce-#-x`: digit runs between non-alphanumerics.
fn fold_numbers(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j == b.len() || !b[j].is_ascii_alphanumeric() {
                out.push('#');
                i = j;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_digits_inside_words_stay() {
        assert_eq!(sender("web2mail@example.org"), "web2mail@example.org");
        assert_eq!(sender("2fa-123@example.org"), "2fa-#@example.org");
        assert_eq!(sender("no-at-sign"), "no-at-sign");
        assert_eq!(sender("+x@example.org"), "+x@example.org");
        assert_eq!(sender("SRS0=broken@x.example"), "srs0=broken@x.example");
        assert_eq!(recipient(" <Bob@Example.NET> "), "bob@example.net");
        assert_eq!(sender("Ünï+tag@Exämple.org"), "ünï@exämple.org");
    }
}
