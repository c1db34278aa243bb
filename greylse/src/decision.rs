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
        Spf::Done { result, identity } => {
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
                SpfAction::Prepend => header = Some(received_spf(*result, identity, cfg, facts)),
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

/// RFC 7208 section 9.1.
fn received_spf(result: SpfResult, identity: &str, cfg: &Config, f: &Facts) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_control() || c == ';' || c == '"' {
                    '?'
                } else {
                    c
                }
            })
            .collect()
    };
    format!(
        "Received-SPF: {} ({}: {} of {} {} {}) client-ip={}; envelope-from=\"{}\"; helo={}; receiver={}; identity={};",
        match result {
            SpfResult::Pass => "Pass",
            SpfResult::Fail => "Fail",
            SpfResult::SoftFail => "SoftFail",
            SpfResult::Neutral => "Neutral",
            SpfResult::None => "None",
            SpfResult::TempError => "TempError",
            SpfResult::PermError => "PermError",
        },
        clean(&cfg.spf.receiver),
        if identity == "helo" { "helo" } else { "domain" },
        clean(identity_value(f, identity)),
        match result {
            SpfResult::Pass => "designates",
            _ => "does not designate",
        },
        format_args!("{} as permitted sender", clean(f.client)),
        clean(f.client),
        clean(f.sender),
        clean(f.helo),
        clean(&cfg.spf.receiver),
        identity,
    )
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
    fn verdict_rows() {
        assert_eq!(
            Verdict::from_row("black", "client 10.0.0.0/8", 0),
            Some(Verdict::Black("client=10.0.0.0/8".into()))
        );
        assert_eq!(Verdict::from_row("early", "", -5), Some(Verdict::Early(0)));
        assert_eq!(Verdict::from_row("bogus", "", 0), None);
    }
}
