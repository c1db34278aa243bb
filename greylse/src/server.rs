//! Listening, one task per connection, and the decision for each request.
//!
//! Threading: a multi-threaded tokio runtime; connections are tasks, at most
//! `listen.max_connections` at once (more are closed at accept). The store's
//! connections and the SPF resolver are shared by all tasks.
use crate::config::Config;
use crate::decision::{self, Facts, Spf};
use crate::logline::{clean, clean_addr, Severity, Syslog};
use crate::normalize;
use crate::protocol::{answer, read_request, Limits, ReadError, Request};
use crate::spf::Checker;
use crate::store::{Query, Store};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;
use tokio_postgres_rustls::MakeRustlsConnect;

pub struct State {
    pub cfg: Config,
    pub store: Store,
    pub spf: Option<Checker>,
    pub log: Syslog,
    pub limits: Limits,
    pub slots: Arc<Semaphore>,
    db_down: AtomicBool,
    dns_down: AtomicBool,
}

impl State {
    pub fn new(cfg: Config, spf: Option<Checker>, tls: Option<MakeRustlsConnect>) -> State {
        let limits = Limits {
            idle: Duration::from_secs(cfg.listen.idle_timeout_s),
            request: Duration::from_secs(cfg.listen.request_timeout_s),
            ..Limits::default()
        };
        State {
            store: Store::new(&cfg, tls),
            log: Syslog::new(&cfg.log.socket),
            slots: Arc::new(Semaphore::new(cfg.listen.max_connections)),
            limits,
            spf,
            cfg,
            db_down: AtomicBool::new(false),
            dns_down: AtomicBool::new(false),
        }
    }

    /// Say it once when an outage starts and once when it ends.
    fn outage(&self, flag: &AtomicBool, down: bool, what: &str, why: &str) {
        if flag.swap(down, Ordering::Relaxed) != down {
            if down {
                self.log.send(
                    Severity::Warning,
                    &format!(
                        "warning: {what} unavailable ({why}): answering DUNNO until it is back"
                    ),
                );
            } else {
                self.log.send(Severity::Info, &format!("{what} is back"));
            }
        }
    }
}

/// Serve one connection until it closes or breaks a limit.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(state: Arc<State>, stream: S) {
    let (r, mut w) = tokio::io::split(stream);
    let mut r = BufReader::with_capacity(4096, r);
    // SPF per SMTP transaction: the same for each RCPT of one message.
    let mut spf_memo: Option<(String, String, Spf)> = None;
    loop {
        let req = match read_request(&mut r, &state.limits).await {
            Ok(req) => req,
            Err(ReadError::Closed | ReadError::Idle(_)) => return,
            Err(e) => {
                state.log.send(
                    Severity::Warning,
                    &format!("warning: closing a policy connection: {e}"),
                );
                return;
            }
        };
        let action = handle(&state, &req, &mut spf_memo).await;
        if w.write_all(&answer(&action)).await.is_err() {
            return;
        }
    }
}

/// The action for one request.
pub async fn handle(
    state: &State,
    req: &Request,
    memo: &mut Option<(String, String, Spf)>,
) -> String {
    if req.get("request") != "smtpd_access_policy"
        || !req.get("protocol_state").eq_ignore_ascii_case("RCPT")
    {
        return "DUNNO".into();
    }
    let Ok(ip) = req.get("client_address").parse::<IpAddr>() else {
        return "DUNNO".into();
    };
    let cfg = &state.cfg;
    let raw_sender = req.get("sender");
    let sender = normalize::sender(raw_sender);
    let rcpt = normalize::recipient(req.get("recipient"));
    let client_name = req.get("client_name").to_lowercase();
    let helo = req.get("helo_name");
    let instance = req.get("instance");
    let budget = Duration::from_millis(cfg.log.budget_ms);

    let db = async {
        let q = Query {
            client: ip,
            client_name: &client_name,
            sender: &sender,
            recipient: &rcpt,
        };
        state.store.decide(&q).await
    };
    // Same transaction, client and sender: the same SPF answer.
    let memo_key = (
        format!("{instance} {ip} {}", helo.to_lowercase()),
        raw_sender.to_lowercase(),
    );
    let cached = memo
        .as_ref()
        .filter(|(i, s, _)| !i.is_empty() && (i, s) == (&memo_key.0, &memo_key.1))
        .map(|(_, _, spf)| spf.clone());
    let spf = async {
        if let Some(s) = cached {
            return s;
        }
        let Some(checker) = &state.spf else {
            return Spf::Off;
        };
        let sender = raw_sender.trim_matches(|c| c == '<' || c == '>');
        match tokio::time::timeout(budget, checker.check(ip, helo, sender)).await {
            Ok(c) => Spf::Done {
                result: c.result,
                identity: c.identity,
                problem: c.problem,
            },
            Err(_) => Spf::OverBudget,
        }
    };
    let (db, spf) = tokio::join!(db, spf);
    if !matches!(spf, Spf::OverBudget) {
        *memo = Some((memo_key.0, memo_key.1, spf.clone()));
    }
    let verdict = match db {
        Ok(v) => {
            state.outage(&state.db_down, false, "database", "");
            Some(v)
        }
        Err(e) => {
            state.outage(&state.db_down, true, "database", &e.to_string());
            None
        }
    };
    if state.spf.is_some() {
        let over = matches!(spf, Spf::OverBudget);
        state.outage(
            &state.dns_down,
            over,
            "DNS for SPF",
            "no answer within the budget",
        );
    }
    let facts = Facts {
        client: req.get("client_address"),
        helo,
        sender: raw_sender,
    };
    let d = decision::decide(verdict.as_ref(), &spf, cfg, &facts);
    let spf_word = match &spf {
        Spf::Off => "-",
        Spf::OverBudget => "timeout",
        Spf::Done { result, .. } => result.word(),
    };
    state.log.send(
        Severity::Info,
        &format!(
            "decision: action={} reason={} client={} client_name={} helo={} sender=<{}> recipient=<{}> triplet={} spf={} delay={} instance={} greylse={}",
            d.word,
            clean(&d.reason),
            clean(req.get("client_address")),
            clean(&client_name),
            clean(helo),
            clean_addr(raw_sender),
            clean_addr(req.get("recipient")),
            verdict.as_ref().map_or("-", |v| v.word()),
            spf_word,
            d.remaining,
            clean(instance),
            clean(&cfg.log.instance),
        ),
    );
    d.action
}
