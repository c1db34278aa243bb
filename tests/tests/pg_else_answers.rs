//! The query side's answers, recorded: every lookup an analyst or the web UI
//! makes (search by each filter, trace, summary, per_hour, top, kinds), as an
//! admin and as two scoped analysts, over the corpus' real server log, every
//! individual corpus case (relay between two hosts, bounces, queue-ID reuse,
//! expiry, rejects), a generated two-host log and greylisting decisions;
//! before and after `maillog.compact()`.
//!
//! `expected/answers.xxh3` holds one 64-bit hash per answer row (the corpus'
//! licence keeps its text out of the repository), recorded from the query side
//! as it stood before issue 15 rebuilt it. A rewrite that changes one row fails
//! here and prints the rows that differ. To record again after an intended
//! change: `ELSE_RECORD_ANSWERS=1` (and say why in the commit).
use else_tests::answers::{read_lines, KEEP_CORPUS_DAYS, REFERENCE};
use else_tests::pg::Cluster;
use else_tests::recorded::{everything, load_all, GROUPS};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use xxhash_rust::xxh3::xxh3_64;

fn expected_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("expected/answers.xxh3")
}

fn digest(rows: &[String]) -> Vec<String> {
    let mut h: Vec<String> = rows
        .iter()
        .map(|r| format!("{:016x}", xxh3_64(r.as_bytes())))
        .collect();
    h.sort();
    h
}

/// Compare with the recorded hashes; on a difference, show the rows whose
/// hash was not recorded and how many recorded ones are missing.
fn check(stage: &str, rows: &[String]) {
    let got = digest(rows);
    let file = expected_file();
    if std::env::var_os("ELSE_RECORD_ANSWERS").is_some() && stage == "day partitions" {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, got.join("\n") + "\n").unwrap();
        eprintln!("recorded {} answer rows in {}", got.len(), file.display());
        return;
    }
    let want = read_lines(&file);
    if got == want {
        return;
    }
    let mut count = BTreeMap::<&str, i64>::new();
    for h in &want {
        *count.entry(h).or_default() += 1;
    }
    let mut extra = Vec::new();
    for r in rows {
        let h = format!("{:016x}", xxh3_64(r.as_bytes()));
        match count.get_mut(h.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => extra.push(r.as_str()),
        }
    }
    let missing: Vec<&str> = count
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(h, _)| *h)
        .collect();
    panic!(
        "{stage}: {} answer rows, {} recorded; {} recorded rows are missing ({}) and these {} are new:\n{}",
        got.len(),
        want.len(),
        missing.len(),
        missing.iter().take(20).copied().collect::<Vec<_>>().join(" "),
        extra.len(),
        extra.iter().take(60).copied().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn every_answer_equals_the_recorded_one_before_and_after_compaction() {
    let c = Cluster::start_with(&["timezone = 'UTC'", REFERENCE]);
    let mut db = c.connect();
    db.batch_execute(KEEP_CORPUS_DAYS).unwrap();
    load_all(&mut db);
    db.batch_execute(GROUPS).unwrap();
    let before = everything(&mut db);
    assert!(
        before.len() > 20_000,
        "the lookups give rows: {}",
        before.len()
    );
    check("day partitions", &before);
    let packed: i64 = db
        .query_one(
            "SELECT count(*) FROM maillog.compact(after => '0 days')",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        packed >= 3,
        "the corpus' and the generated days are compacted: {packed}"
    );
    let left: i64 = db
        .query_one("SELECT count(*) FROM ONLY maillog.line_outside", &[])
        .unwrap()
        .get(0);
    let after = everything(&mut db);
    check(
        &format!("compacted ({left} lines outside the day partitions)"),
        &after,
    );
}
