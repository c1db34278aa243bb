//! Shared by the corpus tests and the `kinds` example: reading the corpus (kept
//! outside the repository for licence reasons) and printing parsed lines compactly.
#![allow(dead_code)]

use maillog_core::parse::{parse_line, parse_message, Context, Event, Parsed, Time};
use std::path::{Path, PathBuf};

/// 2021-02-15 00:00:00 local: the lightmeter sample is from January 2021.
pub const CTX: Context = Context {
    reference_local: 1_613_347_200_000_000,
};

pub fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    assert!(
        dir.is_dir(),
        "corpus missing: expected {} (the shared mail-log corpus, not part of the repository)",
        dir.display()
    );
    dir
}

/// Every corpus file (recursively, sorted) except the SOURCES.md documentation.
pub fn corpus_files() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if !p.ends_with("SOURCES.md") {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&corpus_dir(), &mut v);
    v.sort();
    v
}

/// One input: either a raw log line, or a message body with a program hint
/// (postfix-grok-patterns, which has no syslog header).
pub struct Input {
    pub program: Option<String>,
    pub text: String,
}

impl Input {
    pub fn parse(&self) -> Parsed<'_> {
        match &self.program {
            None => parse_line(&self.text, &CTX),
            Some(p) => {
                let mut parsed = parse_line("", &CTX);
                parsed.header.program = Some(p.as_str());
                parsed.header.message = &self.text;
                parsed.event = parse_message(p, &self.text);
                parsed
            }
        }
    }
}

fn hint_program(hint: &str) -> String {
    match hint {
        "script" => "postfix/postfix-script".into(),
        h => format!("postfix/{h}"),
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(o) => out.push(o),
            None => out.push('\\'),
        }
    }
    out
}

/// The inputs of a corpus file, by format (read lossily: corpus lines are not all UTF-8).
pub fn inputs(path: &Path) -> Vec<Input> {
    let bytes = std::fs::read(path).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let name = path.file_name().unwrap().to_string_lossy();
    if name.ends_with(".yaml") {
        // grok test case: `data: "body"` (YAML double-quoted) or `data: body`.
        let hint = name.split('_').next().unwrap_or("").to_string();
        let hint = if name.starts_with("trivial_rewrite") {
            "trivial-rewrite".to_string()
        } else {
            hint
        };
        return text
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| {
                let d = d.trim();
                let body = match d.strip_prefix('"').and_then(|d| d.strip_suffix('"')) {
                    Some(q) => unescape(q),
                    None => d
                        .strip_prefix('\'')
                        .and_then(|d| d.strip_suffix('\''))
                        .unwrap_or(d)
                        .to_string(),
                };
                Input {
                    program: Some(hint_program(&hint)),
                    text: body,
                }
            })
            .collect();
    }
    if name.ends_with(".tsv") {
        return text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .map(|(h, b)| Input {
                program: Some(hint_program(h)),
                text: unescape(b),
            })
            .collect();
    }
    // fail2ban files interleave `# failJSON`/comment lines with the log lines.
    let fail2ban = path.parent().is_some_and(|d| d.ends_with("fail2ban"));
    text.lines()
        .filter(|l| !l.is_empty() && (!fail2ban || !l.starts_with('#')))
        .map(|l| Input {
            program: None,
            text: l.to_string(),
        })
        .collect()
}

pub fn fmt_time(t: Time) -> String {
    let (m, z) = match t {
        Time::Utc(m) => (m, "Z"),
        Time::Local(m) => (m, "L"),
    };
    let (y, mo, d) = maillog_core::parse::civil_from_days(m.div_euclid(86_400_000_000));
    let s = m.rem_euclid(86_400_000_000);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:06}{z}",
        s / 3_600_000_000,
        s / 60_000_000 % 60,
        s / 1_000_000 % 60,
        s % 1_000_000
    )
}

/// Compact one-line rendering: kind, queue ID, then every set field.
pub fn render_event(e: &Event<'_>) -> String {
    let mut out = e.kind.as_str().to_string();
    if let Some(q) = e.queue_id {
        out.push_str(&format!(" q={q}"));
    }
    let f = &e.fields;
    let strs: [(&str, Option<&str>); 20] = [
        ("client_name", f.client_name),
        ("client_ip", f.client_ip),
        ("sender", f.sender),
        ("recipient", f.recipient),
        ("orig_recipient", f.orig_recipient),
        ("relay", f.relay),
        ("delays", f.delays),
        ("dsn", f.dsn),
        ("status", f.status),
        ("message_id", f.message_id),
        ("next_queue_id", f.next_queue_id),
        ("action", f.action),
        ("stage", f.stage),
        ("helo", f.helo),
        ("proto", f.proto),
        ("sasl_method", f.sasl_method),
        ("sasl_username", f.sasl_username),
        ("content", f.content),
        ("mail_id", f.mail_id),
        ("subject", f.subject),
    ];
    for (k, v) in strs {
        if let Some(v) = v {
            out.push_str(&format!(" {k}={v:?}"));
        }
    }
    if let Some(v) = f.delay {
        out.push_str(&format!(" delay={v}"));
    }
    if let Some(v) = f.size {
        out.push_str(&format!(" size={v}"));
    }
    if let Some(v) = f.nrcpt {
        out.push_str(&format!(" nrcpt={v}"));
    }
    if let Some(v) = f.hits {
        out.push_str(&format!(" hits={v}"));
    }
    if let Some(t) = f.event_time {
        out.push_str(&format!(" event_time={}", fmt_time(t)));
    }
    if let Some(v) = f.response {
        out.push_str(&format!(" response={v:?}"));
    }
    out
}

pub fn render(p: &Parsed<'_>) -> String {
    let h = &p.header;
    let mut out = String::new();
    match h.time {
        Some(t) => out.push_str(&fmt_time(t)),
        None => out.push('-'),
    }
    out.push_str(&format!(
        " {} {}[{}] | ",
        h.host.unwrap_or("-"),
        h.program.unwrap_or("-"),
        h.pid.map_or("-".to_string(), |p| p.to_string())
    ));
    out.push_str(&render_event(&p.event));
    out
}

/// The report key of a program: postfix daemons as `postfix/<daemon>`.
pub fn program_key(program: Option<&str>) -> String {
    match program {
        None => "(none)".into(),
        Some(p) if p.starts_with("postfix") => {
            format!("postfix/{}", p.rsplit('/').next().unwrap_or(p))
        }
        Some(p) => p.to_string(),
    }
}
