//! Tests that run inside a real PostgreSQL backend (`cargo pgrx test`).
use pgrx::prelude::*;

#[pg_test]
fn inbox_stores_unknown_lines_once() {
    Spi::run("INSERT INTO maillog.inbox (line) VALUES ('garbage that no parser knows'), ('garbage that no parser knows')").unwrap();
    let n = Spi::get_one::<i64>("SELECT count(*) FROM maillog.line WHERE kind = 'other'").unwrap();
    assert_eq!(n, Some(1), "the same line twice is stored once");
    let staged = Spi::get_one::<i64>("SELECT count(*) FROM maillog.inbox").unwrap();
    assert_eq!(staged, Some(0), "the inbox is emptied by its trigger");
}

#[pg_test]
fn omelse_fields_are_accepted() {
    Spi::run(
        "INSERT INTO maillog.inbox (at, host, tag, msg) VALUES \
         ('2026-11-28 10:00:00+00', 'mx1', 'postfix/qmgr[12]:', ' 3F1A2B4C5D: removed')",
    )
    .unwrap();
    let row =
        Spi::get_two::<String, i32>("SELECT program, pid FROM maillog.line WHERE host = 'mx1'")
            .unwrap();
    assert_eq!(row, (Some("postfix/qmgr".to_owned()), Some(12)));
    let msg = Spi::get_one::<String>("SELECT msg FROM maillog.line WHERE host = 'mx1'").unwrap();
    assert_eq!(
        msg.as_deref(),
        Some("3F1A2B4C5D: removed"),
        "rsyslog's leading space is dropped"
    );
}
