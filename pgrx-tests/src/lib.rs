//! In-database tests of hyperdist, run by `cargo pgrx test` in a throwaway server that preloads the
//! installed hyperdist library. This crate is a tiny extension of its own that `requires` hyperdist,
//! so the framework's `CREATE EXTENSION ... CASCADE` installs hyperdist exactly as a user would, and
//! the tests see it from the outside, through SQL.
//!
//! Each `#[pg_test]` runs in a transaction that is rolled back: commit paths (two-phase commit,
//! data nodes) are tested by the multi-node suites under `tests/` instead.

pgrx::pg_module_magic!();

#[cfg(any(test, feature = "pg_test"))]
mod bucket_groups;
#[cfg(any(test, feature = "pg_test"))]
mod extension;
#[cfg(any(test, feature = "pg_test"))]
mod time_bucket;

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![
            "shared_preload_libraries = 'hyperdist'",
            "max_prepared_transactions = 16",
        ]
    }
}
