//! The cluster harness of hyperdist's multi-node tests, and of `scripts/cluster`.
//!
//! ```no_run
//! let cluster = hyperdist_tests::Cluster::start(3); // an access node and 3 data nodes
//! cluster.create_extension().unwrap();
//! let mut an = cluster.access_node().connect();
//! ```

mod cluster;
mod os;
mod server;

pub use cluster::{ACCESS_NODE, Cluster};
pub use server::{Notices, Server, StopMode};

/// The server-side error of a failed statement; panics if it failed some other way (or not at all).
pub fn db_error<T: std::fmt::Debug>(
    result: Result<T, postgres::Error>,
) -> postgres::error::DbError {
    let err = result.expect_err("the statement should have failed");
    err.as_db_error()
        .unwrap_or_else(|| panic!("expected an error from the server, got: {err}"))
        .clone()
}

/// Differential check: runs `query` (where `{t}` stands for the table) on `distributed` and on
/// `local` (a plain table with the same rows) and asserts the results are the same rows, in the
/// same order, compared as text. The local result must not be empty (an empty pair proves nothing).
pub fn assert_same_results(
    client: &mut postgres::Client,
    query: &str,
    distributed: &str,
    local: &str,
) {
    let mut rows = |table: &str| -> Vec<String> {
        client
            .query(
                &format!("SELECT x::text FROM ({}) x", query.replace("{t}", table)),
                &[],
            )
            .unwrap_or_else(|e| panic!("{query} on {table}: {e}"))
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    let (on_distributed, on_local) = (rows(distributed), rows(local));
    assert!(!on_local.is_empty(), "query: {query}");
    assert_eq!(on_distributed, on_local, "query: {query}");
}
