//! Harness for ELSE's end-to-end tests: private PostgreSQL clusters and private
//! rsyslogd instances, each in its own temporary folder on a free loopback port,
//! stopped by PID / pg_ctl on drop (also when a test panics).

pub mod answers;
pub mod dns;
pub mod greylse;
pub mod omelse;
pub mod pflogsumm;
pub mod pg;
pub mod postfix;
pub mod recorded;
pub mod rng;
pub mod rsyslog;
pub mod sys;
pub mod wui;

/// Path of the shared test corpus (`../shared/corpus` beside the checkout).
pub fn corpus_dir() -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    assert!(
        p.is_dir(),
        "the test corpus is missing: expected {} (the shared folder beside the project)",
        p.display()
    );
    p
}
