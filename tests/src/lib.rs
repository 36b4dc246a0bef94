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
