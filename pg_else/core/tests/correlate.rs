//! Correlation over the shared corpus: one reviewed expected-answer file per case
//! (`tests/expected-correlate/<case>.out`, see `REVIEW.md` there), plus order
//! independence (shuffled and reversed input must give the same outcomes).
//!
//! Regenerate with `UPDATE_EXPECTED=1 cargo test -p maillog-core --test correlate`,
//! then review the diff against the raw logs: the files are reviewed expectations,
//! not a snapshot.
mod common;

use common::{corpus_dir, fmt_time};
use maillog_core::correlate::{correlate, trace, Line, Outcome};
use maillog_core::parse::{parse_header, parse_message, Context, Time};
use std::path::PathBuf;

/// 2021-12-31 00:00:00 local: every month of the year-less samples lands in 2021
/// (each file is small and within one year, only relative times matter).
const CTX: Context = Context {
    reference_local: 1_640_908_800_000_000,
};

/// One input line, owned, with its position (`label` + 1-based line number).
struct Raw {
    label: String,
    at: i64,
    host: String,
    program: String,
    queue_id: Option<String>,
    message: String,
}

/// A case: one or more corpus files loaded together.
struct Case {
    name: String,
    files: Vec<String>,
    raws: Vec<Raw>,
}

fn load(name: &str, files: &[&str]) -> Case {
    let dir = corpus_dir();
    let mut raws = Vec::new();
    let many = files.len() > 1;
    for (n, f) in files.iter().enumerate() {
        let path = dir.join(f);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let text = String::from_utf8_lossy(&bytes);
        for (i, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let h = parse_header(l, &CTX);
            let (Some(t), Some(program)) = (h.time, h.program) else {
                continue;
            };
            let at = match t {
                Time::Utc(m) | Time::Local(m) => m,
            };
            let ev = parse_message(program, h.message);
            raws.push(Raw {
                label: if many {
                    format!("f{}:{}", n + 1, i + 1)
                } else {
                    format!("{}", i + 1)
                },
                at,
                host: h.host.unwrap_or("-").to_string(),
                program: program.to_string(),
                queue_id: ev.queue_id.map(str::to_string),
                message: h.message.to_string(),
            });
        }
    }
    Case {
        name: name.to_string(),
        files: files.iter().map(|s| s.to_string()).collect(),
        raws,
    }
}

fn cases() -> Vec<Case> {
    let dir = corpus_dir();
    let mut out = Vec::new();
    let mut lm: Vec<String> =
        std::fs::read_dir(dir.join("lightmeter-controlcenter/individual_files"))
            .expect("lightmeter-controlcenter/individual_files in the corpus")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".log"))
            .collect();
    lm.sort();
    for n in &lm {
        let stem = n.trim_end_matches(".log");
        out.push(load(
            &format!("lightmeter__{stem}"),
            &[&format!("lightmeter-controlcenter/individual_files/{n}")],
        ));
    }
    let mut pmg: Vec<String> = std::fs::read_dir(dir.join("pmg-log-tracker"))
        .expect("pmg-log-tracker in the corpus")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("test_input_"))
        .collect();
    pmg.sort();
    for n in &pmg {
        out.push(load(
            &format!("pmg__{n}"),
            &[&format!("pmg-log-tracker/{n}")],
        ));
    }
    out.push(load(
        "derived__multi_host_relay_interleaved",
        &["derived/multi_host_relay_interleaved.log"],
    ));
    out.push(load(
        "lightmeter__29_inbound_relayed_message_both_servers",
        &[
            "lightmeter-controlcenter/individual_files/29_inbound_relayed_message_server_1.log",
            "lightmeter-controlcenter/individual_files/29_inbound_relayed_message_server_2.log",
        ],
    ));
    out
}

fn lines_of<'a>(raws: &[&'a Raw]) -> Vec<Line<'a>> {
    raws.iter()
        .map(|r| Line {
            at: r.at,
            host: &r.host,
            program: &r.program,
            queue_id: r.queue_id.as_deref(),
            message: &r.message,
        })
        .collect()
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

fn render_outcome(o: &Outcome) -> String {
    format!(
        "{} {}:{} from=<{}> to=<{}> orig_to=<{}> {} dsn={} relay={} path=[{}] notification={} notification_of={}",
        fmt_time(Time::Utc(o.received_at)).trim_end_matches('Z'),
        o.host,
        opt(&o.queue_id),
        opt(&o.sender),
        opt(&o.recipient),
        opt(&o.orig_recipient),
        o.status.as_str(),
        opt(&o.dsn),
        opt(&o.relay),
        o.path.join(" "),
        opt(&o.notification),
        opt(&o.notification_of),
    )
}

fn sorted_outcomes(lines: &[Line]) -> Vec<String> {
    let mut v: Vec<String> = correlate(lines).iter().map(render_outcome).collect();
    v.sort();
    v
}

/// The queue ID to trace: the start of the journey with the longest path (then a
/// notification, then the earliest), so hops and notifications get exercised.
fn interesting(outcomes: &[Outcome]) -> Option<String> {
    outcomes
        .iter()
        .filter(|o| o.queue_id.is_some())
        .max_by_key(|o| {
            (
                o.path.len(),
                o.notification.is_some() || o.notification_of.is_some(),
                std::cmp::Reverse((o.received_at, o.queue_id.clone())),
            )
        })
        .and_then(|o| o.queue_id.clone())
}

fn render_case(c: &Case) -> String {
    let refs: Vec<&Raw> = c.raws.iter().collect();
    let lines = lines_of(&refs);
    let outcomes = correlate(&lines);
    let mut out = format!("# case {}\n", c.name);
    for (n, f) in c.files.iter().enumerate() {
        if c.files.len() > 1 {
            out.push_str(&format!("# f{}: {f}\n", n + 1));
        } else {
            out.push_str(&format!("# file: {f}\n"));
        }
    }
    out.push_str(&format!(
        "# {} lines, {} outcomes (review notes: REVIEW.md)\n",
        lines.len(),
        outcomes.len()
    ));
    for o in sorted_outcomes(&lines) {
        out.push_str(&o);
        out.push('\n');
    }
    if let Some(q) = interesting(&outcomes) {
        out.push_str(&format!("\n# trace {q}: line, program, queue ID\n"));
        for i in trace(&lines, &q) {
            let r = &c.raws[i];
            out.push_str(&format!(
                "{} {} {} {}\n",
                r.label,
                r.host,
                r.program,
                r.queue_id.as_deref().unwrap_or("-")
            ));
        }
    }
    out
}

fn expected_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/expected-correlate"
    ))
}

#[test]
fn corpus_correlation_matches_reviewed_expectations() {
    let update = std::env::var_os("UPDATE_EXPECTED").is_some();
    if update {
        std::fs::create_dir_all(expected_dir()).unwrap();
    }
    let mut failures = Vec::new();
    for c in cases() {
        let actual = render_case(&c);
        let path = expected_dir().join(format!("{}.out", c.name));
        if update {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(e) if e == actual => {}
            Ok(e) => failures.push(format!(
                "{}: differs\n--- expected\n{e}\n--- actual\n{actual}",
                path.display()
            )),
            Err(e) => failures.push(format!(
                "{}: {e} (run with UPDATE_EXPECTED=1 and review)",
                path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// xorshift64*: tiny deterministic PRNG for shuffling.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = Rng(seed | 1);
    for i in (1..v.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

#[test]
fn correlation_does_not_depend_on_line_order() {
    for c in cases() {
        let refs: Vec<&Raw> = c.raws.iter().collect();
        let want = sorted_outcomes(&lines_of(&refs));
        let mut rev = refs.clone();
        rev.reverse();
        assert_eq!(
            sorted_outcomes(&lines_of(&rev)),
            want,
            "{}: reversed",
            c.name
        );
        for seed in [1u64, 7, 42, 0xDEAD_BEEF, 123_456_789] {
            let mut sh = refs.clone();
            shuffle(&mut sh, seed);
            assert_eq!(
                sorted_outcomes(&lines_of(&sh)),
                want,
                "{}: shuffled, seed {seed}",
                c.name
            );
        }
    }
}

#[test]
fn trace_does_not_depend_on_line_order() {
    for c in cases() {
        let refs: Vec<&Raw> = c.raws.iter().collect();
        let lines = lines_of(&refs);
        let Some(q) = interesting(&correlate(&lines)) else {
            continue;
        };
        let labels = |rs: &[&Raw]| {
            let mut v: Vec<String> = trace(&lines_of(rs), &q)
                .into_iter()
                .map(|i| rs[i].label.clone())
                .collect();
            v.sort();
            v
        };
        let want = labels(&refs);
        let mut sh = refs.clone();
        shuffle(&mut sh, 99);
        assert_eq!(labels(&sh), want, "{}: trace {q} shuffled", c.name);
    }
}
