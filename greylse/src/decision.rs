//! From what the database and SPF said to the answer Postfix gets and the
//! words the decision line logs. Pure: no I/O, every branch tested here.
use crate::config::{Config, SpfAction};

/// greylse.decide()'s verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A blacklist entry (its kind=value).
    Black(String),
    /// A whitelist entry.
    White(String),
    /// Auto-whitelisted client network and sender domain.
    Awl,
    /// First attempt: defer for this many seconds.
    New(u32),
    /// Retried too early: this many seconds left.
    Early(u32),
    /// First retry after the delay.
    Passed,
    /// A triplet that passed before.
    Known,
}

impl Verdict {
    pub fn from_row(verdict: &str, detail: &str, remaining: i32) -> Option<Verdict> {
        let rem = remaining.max(0) as u32;
        let entry = || detail.replacen(' ', "=", 1);
        Some(match verdict {
            "black" => Verdict::Black(entry()),
            "white" => Verdict::White(entry()),
            "awl" => Verdict::Awl,
            "new" => Verdict::New(rem),
            "early" => Verdict::Early(rem),
            "passed" => Verdict::Passed,
            "known" => Verdict::Known,
            _ => return None,
        })
    }

    /// The triplet state in the decision line.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Black(_) => "black",
            Verdict::White(_) => "white",
            Verdict::Awl => "awl",
            Verdict::New(_) => "new",
            Verdict::Early(_) => "early",
            Verdict::Passed => "passed",
            Verdict::Known => "known",
        }
    }
}

/// RFC 7208 results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpfResult {
    Pass,
    Fail,
    SoftFail,
    Neutral,
    None,
    TempError,
    PermError,
}

impl SpfResult {
    pub fn word(self) -> &'static str {
        match self {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::None => "none",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }
}

/// What SPF gave for this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spf {
    /// Not checked (disabled, or no client address).
    Off,
    Done {
        result: SpfResult,
        /// `mailfrom` or `helo`.
        identity: &'static str,
        /// What went wrong, for permerror and temperror (the header's problem=).
        problem: Option<String>,
    },
    /// No answer within the budget: fail open.
    OverBudget,
}

/// The facts of the request a decision line and header need.
pub struct Facts<'a> {
    pub client: &'a str,
    pub helo: &'a str,
    pub sender: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The Postfix action (after `action=`).
    pub action: String,
    /// accepted, greylisted, rejected, deferred or dunno (fail-open).
    pub word: &'static str,
    /// Why, one token: blacklist:client=192.0.2.0/24, spf-fail, new, awl, failopen-db, ...
    pub reason: String,
    /// Seconds left before a retry is accepted (greylisted only).
    pub remaining: u32,
}

fn decision(action: impl Into<String>, word: &'static str, reason: impl Into<String>) -> Decision {
    Decision {
        action: action.into(),
        word,
        reason: reason.into(),
        remaining: 0,
    }
}

/// Combine. `db` is None when the database did not answer in time
/// (greylisting and lists are then unknown: fail open).
pub fn decide(db: Option<&Verdict>, spf: &Spf, cfg: &Config, facts: &Facts) -> Decision {
    let Some(verdict) = db else {
        return decision("DUNNO", "dunno", "failopen-db");
    };
    match verdict {
        Verdict::Black(entry) => {
            return decision(
                cfg.lists.blacklist_action.clone(),
                "rejected",
                format!("blacklist:{entry}"),
            )
        }
        Verdict::White(entry) => {
            return decision("DUNNO", "accepted", format!("whitelist:{entry}"))
        }
        _ => {}
    }
    let mut header = None;
    match spf {
        Spf::Off => {}
        Spf::OverBudget => return decision("DUNNO", "dunno", "failopen-dns"),
        Spf::Done {
            result,
            identity,
            problem,
        } => {
            let s = &cfg.spf;
            let act = match result {
                SpfResult::Pass => s.pass,
                SpfResult::Fail => s.fail,
                SpfResult::SoftFail => s.softfail,
                SpfResult::Neutral => s.neutral,
                SpfResult::None => s.none,
                SpfResult::TempError => s.temperror,
                SpfResult::PermError => s.permerror,
            };
            let reason = format!("spf-{}", result.word());
            match act {
                SpfAction::Reject => {
                    let (code, dsn) = if *result == SpfResult::PermError {
                        ("550", "5.7.24")
                    } else {
                        ("550", "5.7.23")
                    };
                    return decision(
                        format!(
                            "{code} {dsn} SPF {} for {}",
                            result.word(),
                            identity_value(facts, identity)
                        ),
                        "rejected",
                        reason,
                    );
                }
                SpfAction::Defer => {
                    return decision(
                        format!("451 4.7.24 SPF {}: please try again later", result.word()),
                        "deferred",
                        reason,
                    )
                }
                SpfAction::Prepend => {
                    header = Some(received_spf(
                        *result,
                        identity,
                        problem.as_deref(),
                        cfg,
                        facts,
                    ))
                }
                SpfAction::Dunno => {}
            }
        }
    }
    let accept = |reason: &str| {
        let action = header
            .clone()
            .map_or("DUNNO".to_owned(), |h| format!("PREPEND {h}"));
        decision(action, "accepted", reason)
    };
    match verdict {
        Verdict::New(rem) | Verdict::Early(rem) => Decision {
            action: format!(
                "DEFER_IF_PERMIT 4.7.1 {}",
                cfg.greylist.reply.replace("{remaining}", &rem.to_string())
            ),
            word: "greylisted",
            reason: verdict.word().to_owned(),
            remaining: *rem,
        },
        _ => accept(verdict.word()),
    }
}

fn identity_value<'a>(facts: &Facts<'a>, identity: &str) -> &'a str {
    if identity == "helo" || facts.sender.is_empty() {
        facts.helo
    } else {
        facts.sender
    }
}

/// RFC 7208 section 9.1: the result, a comment for people, then key=value
/// pairs. One line: Postfix takes it as a PREPEND action.
fn received_spf(
    result: SpfResult,
    identity: &str,
    problem: Option<&str>,
    cfg: &Config,
    f: &Facts,
) -> String {
    let receiver = comment_text(&cfg.spf.receiver);
    let who = comment_text(identity_value(f, identity));
    let ip = comment_text(f.client);
    let comment = match result {
        SpfResult::Pass => format!("domain of {who} designates {ip} as permitted sender"),
        SpfResult::Fail => {
            format!("domain of {who} does not designate {ip} as permitted sender")
        }
        SpfResult::SoftFail => {
            format!("transitioning domain of {who} does not designate {ip} as permitted sender")
        }
        SpfResult::Neutral => format!("{ip} is neither permitted nor denied by domain of {who}"),
        SpfResult::None => format!("domain of {who} does not designate permitted sender hosts"),
        SpfResult::TempError => format!("temporary error checking domain of {who}"),
        SpfResult::PermError => format!("permanent error in the SPF record of domain of {who}"),
    };
    let mut h = format!(
        "Received-SPF: {} ({receiver}: {comment}) client-ip={}; envelope-from={}; helo={}; receiver={}; identity={};",
        match result {
            SpfResult::Pass => "Pass",
            SpfResult::Fail => "Fail",
            SpfResult::SoftFail => "SoftFail",
            SpfResult::Neutral => "Neutral",
            SpfResult::None => "None",
            SpfResult::TempError => "TempError",
            SpfResult::PermError => "PermError",
        },
        value(f.client),
        quoted(f.sender),
        value(f.helo),
        value(&cfg.spf.receiver),
        identity,
    );
    if let (SpfResult::PermError | SpfResult::TempError, Some(p)) = (result, problem) {
        h.push_str(&format!(" problem={};", quoted(p)));
    }
    h
}

/// Printable ASCII only (a header is one line), '?' for the rest.
fn printable(c: char) -> char {
    if c.is_ascii_graphic() || c == ' ' {
        c
    } else {
        '?'
    }
}

/// Text for inside the comment's parentheses (RFC 5322 ctext, quoted-pair).
fn comment_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(printable) {
        if matches!(c, '(' | ')' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A key=value value: dot-atom as it is, anything else a quoted-string.
fn value(s: &str) -> String {
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(atext));
    if dot_atom {
        s.to_owned()
    } else {
        quoted(s)
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars().map(printable) {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts<'static> {
        Facts {
            client: "192.0.2.1",
            helo: "mail.a.example",
            sender: "alice@a.example",
        }
    }
    fn done(result: SpfResult) -> Spf {
        Spf::Done {
            result,
            identity: "mailfrom",
            problem: None,
        }
    }

    #[test]
    fn greylisting_defers_with_the_remaining_time() {
        let c = Config::default();
        let d = decide(Some(&Verdict::New(300)), &Spf::Off, &c, &facts());
        assert_eq!(
            d.action,
            "DEFER_IF_PERMIT 4.7.1 Greylisted, please try again in 300 seconds"
        );
        assert_eq!(
            (d.word, d.reason.as_str(), d.remaining),
            ("greylisted", "new", 300)
        );
        let d = decide(Some(&Verdict::Early(42)), &Spf::Off, &c, &facts());
        assert!(d.action.contains("in 42 seconds"));
        let d = decide(Some(&Verdict::Passed), &Spf::Off, &c, &facts());
        assert_eq!((d.action.as_str(), d.word), ("DUNNO", "accepted"));
    }

    #[test]
    fn lists_come_first_and_fail_open_says_dunno() {
        let c = Config::default();
        let d = decide(
            Some(&Verdict::Black("sender=spam.example".into())),
            &done(SpfResult::Pass),
            &c,
            &facts(),
        );
        assert_eq!(
            (d.action.as_str(), d.word),
            ("554 5.7.1 Rejected by local policy", "rejected")
        );
        assert_eq!(d.reason, "blacklist:sender=spam.example");
        let d = decide(
            Some(&Verdict::White("client=192.0.2.0/24".into())),
            &done(SpfResult::Fail),
            &c,
            &facts(),
        );
        assert_eq!(
            (d.action.as_str(), d.word),
            ("DUNNO", "accepted"),
            "a whitelist skips SPF too"
        );
        let d = decide(None, &done(SpfResult::Fail), &c, &facts());
        assert_eq!(
            (d.action.as_str(), d.reason.as_str()),
            ("DUNNO", "failopen-db")
        );
        let d = decide(Some(&Verdict::New(300)), &Spf::OverBudget, &c, &facts());
        assert_eq!(
            (d.action.as_str(), d.reason.as_str()),
            ("DUNNO", "failopen-dns")
        );
    }

    #[test]
    fn spf_results_map_to_the_configured_actions() {
        let c = Config::default();
        let d = decide(Some(&Verdict::Known), &done(SpfResult::Fail), &c, &facts());
        assert_eq!(d.action, "550 5.7.23 SPF fail for alice@a.example");
        assert_eq!((d.word, d.reason.as_str()), ("rejected", "spf-fail"));
        let d = decide(
            Some(&Verdict::New(300)),
            &done(SpfResult::TempError),
            &c,
            &facts(),
        );
        assert_eq!(
            (d.word, d.action.starts_with("451 4.7.24")),
            ("deferred", true)
        );
        let d = decide(Some(&Verdict::Known), &done(SpfResult::Pass), &c, &facts());
        assert!(
            d.action.starts_with("PREPEND Received-SPF: Pass ("),
            "{}",
            d.action
        );
        assert!(d
            .action
            .contains("client-ip=192.0.2.1; envelope-from=\"alice@a.example\""));
        // Pass but greylisted: the deferral wins, no header yet.
        let d = decide(
            Some(&Verdict::New(300)),
            &done(SpfResult::Pass),
            &c,
            &facts(),
        );
        assert_eq!(d.word, "greylisted");
        let d = decide(Some(&Verdict::Known), &done(SpfResult::None), &c, &facts());
        assert_eq!(d.action, "DUNNO");
        let mut c2 = Config::default();
        c2.spf.softfail = SpfAction::Reject;
        let d = decide(
            Some(&Verdict::Known),
            &done(SpfResult::SoftFail),
            &c2,
            &facts(),
        );
        assert_eq!(d.word, "rejected");
        let d = decide(
            Some(&Verdict::Known),
            &done(SpfResult::PermError),
            &c2,
            &facts(),
        );
        assert!(
            d.action.starts_with("PREPEND"),
            "permerror prepends by default"
        );
    }

    #[test]
    fn received_spf_follows_rfc7208_9_1() {
        let mut c = Config::default();
        c.spf.receiver = "gw.example".into();
        let h = received_spf(SpfResult::Pass, "mailfrom", None, &c, &facts());
        assert_eq!(
            h,
            "Received-SPF: Pass (gw.example: domain of alice@a.example designates 192.0.2.1 as permitted sender) \
             client-ip=192.0.2.1; envelope-from=\"alice@a.example\"; helo=mail.a.example; receiver=gw.example; identity=mailfrom;"
        );
        // permerror says what is wrong; an IPv6 address and odd HELO names
        // are not dot-atoms: quoted; comments escaped.
        let f = Facts {
            client: "2001:db8::1",
            helo: "JUMPIN' \"JUPITER\"",
            sender: "",
        };
        let h = received_spf(
            SpfResult::PermError,
            "helo",
            Some("x.example: more than one SPF record"),
            &c,
            &f,
        );
        assert_eq!(
            h,
            "Received-SPF: PermError (gw.example: permanent error in the SPF record of domain of JUMPIN' \"JUPITER\") \
             client-ip=\"2001:db8::1\"; envelope-from=\"\"; helo=\"JUMPIN' \\\"JUPITER\\\"\"; receiver=gw.example; \
             identity=helo; problem=\"x.example: more than one SPF record\";"
        );
        let f = Facts {
            client: "192.0.2.1",
            helo: "a(b)\nc",
            sender: "x@y.example",
        };
        let h = received_spf(SpfResult::Neutral, "helo", None, &c, &f);
        assert!(
            h.contains(
                "(gw.example: 192.0.2.1 is neither permitted nor denied by domain of a\\(b\\)?c)"
            ),
            "{h}"
        );
        assert!(!h.contains("problem="));
        assert!(h.contains("helo=\"a(b)?c\";"), "{h}");
    }

    #[test]
    fn verdict_rows() {
        assert_eq!(
            Verdict::from_row("black", "client 10.0.0.0/8", 0),
            Some(Verdict::Black("client=10.0.0.0/8".into()))
        );
        assert_eq!(Verdict::from_row("early", "", -5), Some(Verdict::Early(0)));
        assert_eq!(Verdict::from_row("bogus", "", 0), None);
    }
}
