//! Expected-output tests over the shared corpus and our own cases, plus the
//! "no meaningful Postfix line left as other" check.
//!
//! Regenerate with `UPDATE_EXPECTED=1 cargo test -p maillog-core --test corpus`,
//! then review the diff: the files are reviewed expectations, not a snapshot.
mod common;

use common::{corpus_dir, corpus_files, inputs, program_key, render, Input};
use maillog_core::parse::Kind;
use std::path::{Path, PathBuf};

fn expected_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/expected"))
}

fn render_all(items: &[(String, Vec<Input>)]) -> String {
    let mut out = String::new();
    for (label, ins) in items {
        for (i, input) in ins.iter().enumerate() {
            out.push_str(&format!("{label}{}: {}\n", i + 1, render(&input.parse())));
        }
    }
    out
}

/// Compare `actual` with the stored expectation `name`, or rewrite it.
fn check(name: &str, actual: &str) -> Result<(), String> {
    let path = expected_dir().join(name);
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        std::fs::write(&path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "{}: {e} (run with UPDATE_EXPECTED=1 and review)",
            path.display()
        )
    })?;
    if expected == actual {
        return Ok(());
    }
    let diffs: Vec<String> = expected
        .lines()
        .zip(actual.lines())
        .filter(|(e, a)| e != a)
        .take(5)
        .map(|(e, a)| format!("  expected: {e}\n  actual:   {a}"))
        .collect();
    Err(format!(
        "{name}: output differs ({} vs {} lines)\n{}",
        expected.lines().count(),
        actual.lines().count(),
        diffs.join("\n")
    ))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(corpus_dir())
        .unwrap()
        .to_string_lossy()
        .replace('/', "__")
}

#[test]
fn corpus_expected_outputs() {
    let mut errors = Vec::new();
    let mut grok = Vec::new();
    let files = corpus_files();
    assert!(
        files.len() > 200,
        "corpus looks incomplete: {} files",
        files.len()
    );
    for f in &files {
        let name = rel(f);
        let ins = inputs(f);
        assert!(!ins.is_empty(), "{name}: no input lines read");
        if name.ends_with(".yaml") {
            // 191 one-case files: one expectation file for the directory.
            grok.push((
                format!("{}:", f.file_stem().unwrap().to_string_lossy()),
                ins,
            ));
            continue;
        }
        if let Err(e) = check(&format!("{name}.out"), &render_all(&[(String::new(), ins)])) {
            errors.push(e);
        }
    }
    if let Err(e) = check("postfix-grok-patterns__test.out", &render_all(&grok)) {
        errors.push(e);
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn own_cases_expected_outputs() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases"));
    let mut errors = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for f in names {
        let ins = inputs(&f);
        let name = format!("own__{}.out", f.file_name().unwrap().to_string_lossy());
        if let Err(e) = check(&name, &render_all(&[(String::new(), ins)])) {
            errors.push(e);
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Real Postfix logs: no line of the core daemons may stay `other` unless it is
/// on this reviewed list of messages that carry nothing a mail admin acts on.
#[test]
fn real_postfix_lines_are_understood() {
    const CORE: [&str; 9] = [
        "smtpd",
        "cleanup",
        "qmgr",
        "smtp",
        "lmtp",
        "bounce",
        "pickup",
        "postscreen",
        "local",
    ];
    const ALLOWED: [&str; 4] = [
        "discarding EHLO keywords", // smtp_discard_ehlo_keywords notice
        "cache btree:",             // postscreen cache housekeeping
        "using backwards-compatible default setting", // compatibility_level notice
        // pmg-log-tracker's deliberately foreign lines (`CLEANUP99:` etc.)
        "99:",
    ];
    let dir = corpus_dir();
    let real = [
        "lightmeter-controlcenter/logs_sample",
        "lightmeter-controlcenter/individual_files",
        "pmg-log-tracker",
        "fail2ban",
    ];
    let (mut seen, mut bad) = (0, Vec::new());
    for f in corpus_files()
        .into_iter()
        .filter(|f| real.iter().any(|r| f.starts_with(dir.join(r))))
    {
        for input in inputs(&f) {
            let p = input.parse();
            let key = program_key(p.header.program);
            let Some(daemon) = key.strip_prefix("postfix/") else {
                continue;
            };
            if !CORE.contains(&daemon) {
                continue;
            }
            seen += 1;
            if p.event.kind == Kind::Other
                && !ALLOWED.iter().any(|a| p.header.message.contains(a))
                && !p.header.message.ends_with("1:")
            {
                bad.push(format!("{}: {}", f.display(), input.text));
            }
        }
    }
    assert!(seen > 5000, "only {seen} core Postfix lines found");
    assert!(
        bad.is_empty(),
        "{} meaningful Postfix lines parsed as other:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The grok-patterns test cases state the fields they expect; ours must agree
/// wherever both extract the same field.
#[test]
fn agrees_with_grok_pattern_results() {
    let dir = corpus_dir().join("postfix-grok-patterns/test");
    let (mut compared, mut bad) = (0, Vec::new());
    for f in corpus_files().into_iter().filter(|f| f.starts_with(&dir)) {
        let text = std::fs::read_to_string(&f).unwrap();
        let ins = inputs(&f);
        let Some(input) = ins.first() else { continue };
        let p = input.parse();
        let e = &p.event;
        for line in text.lines().filter_map(|l| l.strip_prefix("    ")) {
            let Some((k, v)) = line.split_once(": ") else {
                continue;
            };
            let v = v.trim().trim_matches('"').trim_matches('\'');
            let ours = match k {
                "postfix_queueid" => e.queue_id,
                "postfix_client_ip" => e.fields.client_ip,
                "postfix_client_hostname" => e.fields.client_name,
                "postfix_from" => e.fields.sender,
                "postfix_to" => e.fields.recipient,
                "postfix_orig_to" => e.fields.orig_recipient,
                "postfix_status" => e.fields.status,
                "postfix_dsn" => e.fields.dsn,
                "postfix_message-id" => e.fields.message_id,
                "postfix_sasl_method" => e.fields.sasl_method,
                "postfix_sasl_username" => e.fields.sasl_username,
                "postfix_delays" => e.fields.delays,
                _ => continue,
            };
            compared += 1;
            // We report NOQUEUE as "no queue ID".
            if ours != Some(v) && !(k == "postfix_queueid" && v == "NOQUEUE" && ours.is_none()) {
                bad.push(format!(
                    "{}: {k}: grok {v:?}, ours {ours:?} ({})",
                    f.display(),
                    input.text
                ));
            }
        }
    }
    assert!(compared > 100, "only {compared} fields compared");
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
