//! pg_else: mail-log parsing and correlation inside PostgreSQL.
use pgrx::prelude::*;

::pgrx::pg_module_magic!(name, version);

/// Required by `cargo pgrx test`; must sit at the crate root.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
