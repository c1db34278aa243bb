//! RFC 7208 §7 macro strings: parsed (and so syntax-checked) with the record,
//! expanded per lookup with the facts of the check.
use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Lit(String),
    Macro {
        letter: u8,
        /// Upper-case letter: URL-escape the value (§7.3).
        escape: bool,
        /// Keep this many right-hand parts (never 0).
        keep: Option<usize>,
        reverse: bool,
        delims: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacroString {
    tokens: Vec<Token>,
}

/// Where a macro string stands: c, r and t are for explanations only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Domain,
    Explanation,
}

/// The values macros expand to.
pub struct Vars<'a> {
    pub local: &'a str,
    pub sender_domain: &'a str,
    pub domain: &'a str,
    pub ip: IpAddr,
    pub helo: &'a str,
    /// The validated PTR name (`%{p}`), when the string uses it.
    pub ptr: Option<&'a str>,
    pub receiver: &'a str,
}

impl MacroString {
    pub fn parse(s: &str, ctx: Context) -> Result<MacroString, String> {
        let b = s.as_bytes();
        let mut tokens = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c != b'%' {
                // macro-literal: visible ASCII but '%'; explanations allow spaces.
                let visible = (0x21..=0x7e).contains(&c);
                if !(visible || ctx == Context::Explanation && c == b' ') {
                    return Err(format!("invalid character 0x{c:02x} in {s:?}"));
                }
                lit.push(c as char);
                i += 1;
                continue;
            }
            let simple = match b.get(i + 1) {
                Some(b'%') => Some("%"),
                Some(b'_') => Some(" "),
                Some(b'-') => Some("%20"),
                Some(b'{') => None,
                _ => {
                    return Err(format!(
                        "'%' not followed by '{{', '%', '_' or '-' in {s:?}"
                    ))
                }
            };
            if !lit.is_empty() {
                tokens.push(Token::Lit(std::mem::take(&mut lit)));
            }
            if let Some(t) = simple {
                // Kept apart from literals: a domain-spec may end in one (domain-end).
                tokens.push(Token::Lit(t.to_owned()));
                tokens.push(Token::Lit(String::new()));
                i += 2;
                continue;
            }
            let end = s[i..]
                .find('}')
                .map(|e| i + e)
                .ok_or_else(|| format!("unterminated macro in {s:?}"))?;
            tokens.push(parse_expand(&b[i + 2..end], ctx, s)?);
            i = end + 1;
        }
        if !lit.is_empty() {
            tokens.push(Token::Lit(lit));
        }
        Ok(MacroString { tokens })
    }

    /// A domain-spec (§4.6.1, §7.1): ends in a macro or in "." toplabel ["."].
    pub fn domain_spec(s: &str) -> Result<MacroString, String> {
        if s.is_empty() {
            return Err("empty domain-spec".into());
        }
        let m = MacroString::parse(s, Context::Domain)?;
        match m.tokens.last() {
            // An empty Lit marks a %%, %_ or %- just before: a macro-expand.
            Some(Token::Macro { .. }) => Ok(m),
            Some(Token::Lit(t)) if t.is_empty() => Ok(m),
            Some(Token::Lit(t)) => {
                let t = t.strip_suffix('.').unwrap_or(t);
                match t.rsplit_once('.') {
                    Some((_, top)) if toplabel(top) => Ok(m),
                    _ => Err(format!("{s:?} does not end in a valid top label")),
                }
            }
            None => Err("empty domain-spec".into()),
        }
    }

    pub fn uses_ptr(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Macro { letter: b'p', .. }))
    }

    pub fn expand(&self, v: &Vars) -> String {
        let mut out = String::new();
        for t in &self.tokens {
            match t {
                Token::Lit(l) => out.push_str(l),
                Token::Macro {
                    letter,
                    escape,
                    keep,
                    reverse,
                    delims,
                } => {
                    let raw = value(*letter, v);
                    let delims: &[u8] = if delims.is_empty() { b"." } else { delims };
                    let mut parts: Vec<&str> = raw
                        .split(|c: char| c.is_ascii() && delims.contains(&(c as u8)))
                        .collect();
                    if *reverse {
                        parts.reverse();
                    }
                    if let Some(n) = keep {
                        let skip = parts.len().saturating_sub(*n);
                        parts.drain(..skip);
                    }
                    let joined = parts.join(".");
                    if *escape {
                        out.push_str(&url_escape(&joined));
                    } else {
                        out.push_str(&joined);
                    }
                }
            }
        }
        out
    }
}

fn parse_expand(body: &[u8], ctx: Context, s: &str) -> Result<Token, String> {
    let bad = || format!("invalid macro in {s:?}");
    let (&first, rest) = body.split_first().ok_or_else(bad)?;
    let letter = first.to_ascii_lowercase();
    let allowed: &[u8] = match ctx {
        Context::Domain => b"slodiphv",
        Context::Explanation => b"slodiphvcrt",
    };
    if !allowed.contains(&letter) {
        return Err(format!(
            "macro letter {:?} not allowed in {s:?}",
            first as char
        ));
    }
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    let keep = if digits > 0 {
        let n: usize = std::str::from_utf8(&rest[..digits])
            .unwrap()
            .parse()
            .unwrap_or(usize::MAX);
        if n == 0 {
            return Err(format!("macro keeps 0 parts in {s:?}"));
        }
        Some(n)
    } else {
        None
    };
    let mut rest = &rest[digits..];
    let reverse = matches!(rest.first(), Some(b'r' | b'R'));
    if reverse {
        rest = &rest[1..];
    }
    if !rest.iter().all(|c| b".-+,/_=".contains(c)) {
        return Err(bad());
    }
    Ok(Token::Macro {
        letter,
        escape: first.is_ascii_uppercase(),
        keep,
        reverse,
        delims: rest.to_vec(),
    })
}

fn value(letter: u8, v: &Vars) -> String {
    match letter {
        b's' => format!("{}@{}", v.local, v.sender_domain),
        b'l' => v.local.to_owned(),
        b'o' => v.sender_domain.to_owned(),
        b'd' => v.domain.to_owned(),
        b'i' => dotted(v.ip),
        b'p' => v.ptr.unwrap_or("unknown").to_owned(),
        b'v' => match v.ip {
            IpAddr::V4(_) => "in-addr".into(),
            IpAddr::V6(_) => "ip6".into(),
        },
        b'h' => v.helo.to_owned(),
        b'c' => v.ip.to_string(),
        b'r' => v.receiver.to_owned(),
        b't' => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string(),
        _ => String::new(),
    }
}

/// `%{i}`: dotted quad, or for IPv6 the 32 nibbles dot-separated (§7.3).
pub fn dotted(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => {
            let mut s = String::with_capacity(63);
            for b in a.octets() {
                for n in [b >> 4, b & 15] {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push(char::from_digit(n.into(), 16).unwrap());
                }
            }
            s
        }
    }
}

/// The PTR query name of `ip` (in-addr.arpa / ip6.arpa).
pub fn reverse_name(ip: IpAddr) -> String {
    let d = dotted(ip);
    let mut parts: Vec<&str> = d.split('.').collect();
    parts.reverse();
    let zone = match ip {
        IpAddr::V4(_) => "in-addr.arpa",
        IpAddr::V6(_) => "ip6.arpa",
    };
    format!("{}.{zone}", parts.join("."))
}

fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ):
/// letters, digits and inner dashes, not all digits.
pub fn toplabel(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().any(|c| !c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(ip: &str) -> Vars<'static> {
        Vars {
            local: "strong-bad",
            sender_domain: "email.example.com",
            domain: "email.example.com",
            ip: ip.parse().unwrap(),
            helo: "mx.example.org",
            ptr: None,
            receiver: "gw.example",
        }
    }

    fn exp(s: &str, ip: &str) -> String {
        MacroString::parse(s, Context::Explanation)
            .unwrap()
            .expand(&vars(ip))
    }

    #[test]
    fn rfc7208_examples() {
        // §7.4's examples.
        let v4 = "192.0.2.3";
        assert_eq!(exp("%{s}", v4), "strong-bad@email.example.com");
        assert_eq!(exp("%{o}", v4), "email.example.com");
        assert_eq!(exp("%{d4}", v4), "email.example.com");
        assert_eq!(exp("%{d3}", v4), "email.example.com");
        assert_eq!(exp("%{d2}", v4), "example.com");
        assert_eq!(exp("%{d1}", v4), "com");
        assert_eq!(exp("%{dr}", v4), "com.example.email");
        assert_eq!(exp("%{d2r}", v4), "example.email");
        assert_eq!(exp("%{l}", v4), "strong-bad");
        assert_eq!(exp("%{l-}", v4), "strong.bad");
        assert_eq!(exp("%{lr}", v4), "strong-bad");
        assert_eq!(exp("%{lr-}", v4), "bad.strong");
        assert_eq!(exp("%{l1r-}", v4), "strong");
        assert_eq!(
            exp("%{ir}.%{v}._spf.%{d2}", v4),
            "3.2.0.192.in-addr._spf.example.com"
        );
        assert_eq!(
            exp("%{lr-}.lp._spf.%{d2}", v4),
            "bad.strong.lp._spf.example.com"
        );
        let v6 = "2001:db8::cb01";
        assert_eq!(
            exp("%{ir}.%{v}._spf.%{d2}", v6),
            "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
        );
        assert_eq!(exp("%%%_%-", v4), "% %20");
        assert_eq!(exp("%{S}", v4), "strong-bad%40email.example.com");
        assert_eq!(exp("%{c}", v6), "2001:db8::cb01");
        assert_eq!(exp("%{p}", v4), "unknown");
    }

    #[test]
    fn syntax_errors() {
        for bad in [
            "%(ir)", "foo%", "%{a}", "%{d0}", "%{dx}", "%{d", "a\u{0}b", "a b",
        ] {
            assert!(MacroString::parse(bad, Context::Domain).is_err(), "{bad}");
        }
        // c, r and t only in explanations.
        assert!(MacroString::parse("%{r}", Context::Domain).is_err());
        assert!(MacroString::parse("%{r} %{c} %{t}", Context::Explanation).is_ok());
    }

    #[test]
    fn domain_specs() {
        for good in [
            "example.com",
            "example.com.",
            "foo:bar/baz.example.com",
            "foo.example.xn--zckzah",
            "%{d}",
            "%{i}.x.%{d2}",
            "macro%%percent%-",
            "a.1-2",
        ] {
            assert!(MacroString::domain_spec(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "museum",
            "museum.",
            "abc.123",
            "111.222.33.44",
            "example.com:8080",
            "example.-com",
            "foo-bar",
            "-all",
            "ip5.example.com/24",
            "foo.example.com\0",
        ] {
            assert!(MacroString::domain_spec(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.1".parse().unwrap()),
            "1.2.0.192.in-addr.arpa"
        );
        assert!(reverse_name("2001:db8::1".parse().unwrap()).starts_with(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        ));
    }
}
