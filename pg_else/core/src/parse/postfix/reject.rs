//! The policy-action line shared by smtpd, postscreen and cleanup:
//! `ACTION: STAGE from host[ip]: REPLY; from=<s> to=<r> proto=P helo=<h>` and the
//! header/body check form `ACTION: header NAME: VALUE from host[ip]; from=<s> ...: TEXT`.
use super::event;
use crate::parse::scan::{client, dsn, find, rfind, skip_port, unbracket, Kv};
use crate::parse::{Event, Fields, Kind};

/// Actions Postfix logs in this shape (`warning` is how header/body `WARN` is
/// logged; it is reported as `warn`). `proxy-reject`/`proxy-accept` are the verdicts
/// of a before-queue content filter (`END-OF-MESSAGE: reply; from=...`, no client).
const ACTIONS: [&str; 16] = [
    "proxy-reject",
    "proxy-accept",
    "reject",
    "reject_warning",
    "warn",
    "hold",
    "discard",
    "filter",
    "redirect",
    "milter-reject",
    "milter-hold",
    "milter-discard",
    "replace",
    "prepend",
    "info",
    "bcc",
];

/// Header/body check stages (cleanup); anything else is an SMTP stage.
const CHECK_STAGES: [&str; 4] = ["header", "body", "mime-header", "nested-header"];

/// Parse `action: ...`; `checks_only` restricts to header/body checks (used for
/// `QID: warning: header ...`, which otherwise is an ordinary warning).
pub fn parse<'a>(qid: Option<&'a str>, body: &'a str, checks_only: bool) -> Option<Event<'a>> {
    let colon = body.find(": ")?;
    let raw_action = &body[..colon];
    let action = match raw_action {
        "warning" => "warn",
        a if ACTIONS.contains(&a) => a,
        _ => return None,
    };
    let rest = &body[colon + 2..];
    let stage_end = rest.find(' ').unwrap_or(rest.len());
    let stage = &rest[..stage_end];
    let is_check = CHECK_STAGES.contains(&stage);
    if (checks_only || raw_action == "warning") && !is_check {
        return None;
    }
    let mut e = event(Kind::Reject, qid);
    let f = &mut e.fields;
    f.action = Some(action);
    f.stage = Some(stage);
    let after_stage = &rest[stage_end..];
    let kv_at = kv_start(after_stage);
    let head = &after_stage[..kv_at.unwrap_or(after_stage.len())];
    if is_check {
        if let Some(i) = rfind(head, " from ") {
            if let Some((name, ip, _)) = client(&head[i + 6..]) {
                set_client(f, name, ip);
            }
        }
        if let Some(k) = kv_at {
            let tail = kv(f, &after_stage[k..]);
            f.response = tail.strip_prefix(": ").filter(|s| !s.is_empty());
        }
    } else {
        let reply = match head.strip_prefix(" from ") {
            Some(h) => {
                let (name, ip, tail) = client(h)?;
                set_client(f, name, ip);
                skip_port(tail).strip_prefix(": ").unwrap_or("")
            }
            None if stage.ends_with(':') => {
                f.stage = Some(&stage[..stage.len() - 1]);
                head.trim_start()
            }
            None => return None,
        };
        f.response = Some(reply);
        if let Some(k) = kv_at {
            kv(f, &after_stage[k..]);
        }
    }
    f.dsn = f.response.and_then(dsn);
    Some(e)
}

fn set_client<'a>(f: &mut Fields<'a>, name: &'a str, ip: &'a str) {
    if !name.is_empty() {
        f.client_name = Some(name);
    }
    f.client_ip = Some(ip);
}

/// Where `; from=<` (or, without a sender, `; to=<`/`; proto=`/`; helo=<`) starts.
fn kv_start(s: &str) -> Option<usize> {
    ["; from=<", "; to=<", "; proto=", "; helo=<"]
        .iter()
        .find_map(|k| rfind(s, k))
}

/// Read `from= to= proto= helo=` into `f`; returns the text after them.
fn kv<'a>(f: &mut Fields<'a>, s: &'a str) -> &'a str {
    let mut it = Kv::new(s);
    for (k, v) in it.by_ref() {
        match k {
            "from" => f.sender = Some(unbracket(v)),
            "to" => f.recipient = Some(unbracket(v)),
            "proto" => f.proto = Some(v),
            "helo" => f.helo = Some(unbracket(v)),
            _ => {}
        }
    }
    let rest = it.rest();
    // Kv stops before a `:` that follows `helo=<...>`.
    match find(rest, ": ") {
        Some(0) => rest,
        _ => rest.trim_start_matches([' ', ',']),
    }
}
