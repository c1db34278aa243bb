//! pg_else: mail-log parsing and correlation inside PostgreSQL, schema `maillog`.
//!
//! The pipeline: rows COPYed into `maillog.inbox` → taken by its row trigger
//! (inbox.rs) → statement trigger (sql/schema.sql) → `_ingest` (ingest.rs:
//! parse + identity) → `maillog.line`.
//! Analysts query through sql/api.sql, thin wrappers over the query pipeline
//! (query/: lookup → gather → correlate → scope → answer), which reads lines
//! only through sql/lookup.sql (day partitions and compacted days, keys from
//! keys_fn.rs).
use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

mod greylse_fn;
mod held;
mod inbox;
mod ingest;
mod keys_fn;
mod parse_fn;
mod query;
mod time;

extension_sql_file!(
    "../sql/schema.sql",
    name = "schema",
    requires = [
        ingest::_ingest,
        inbox::_inbox_take,
        inbox::_inbox_taken,
        inbox::_inbox_clear,
        keys_fn::_archive_keys,
        keys_fn::_recipient_keys,
        keys_fn::_recipient_archive_keys
    ]
);
extension_sql_file!(
    "../sql/lookup.sql",
    name = "lookup",
    requires = ["schema", keys_fn::_probe,]
);
extension_sql_file!(
    "../sql/api.sql",
    name = "api",
    requires = ["lookup", query::search::_search, query::trace::_trace]
);
extension_sql_file!(
    "../sql/greylse.sql",
    name = "greylse",
    requires = ["api", greylse_fn::_domain_suffixes]
);
extension_sql_file!("../sql/web.sql", name = "web", requires = ["api"]);
extension_sql_file!(
    "../sql/maintenance.sql",
    name = "maintenance",
    requires = ["api"]
);
extension_sql_file!("../sql/access.sql", name = "access", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

/// Required by `cargo pgrx test`; must sit at the crate root.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
