//! The cluster harness of hyperdist's multi-node tests, and of `scripts/cluster`.
//!
//! ```no_run
//! let cluster = hyperdist_tests::Cluster::start(3); // an access node and 3 data nodes
//! cluster.create_extension().unwrap();
//! let mut an = cluster.access_node().connect();
//! ```

mod cluster;
pub mod corpus;
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
/// `local` (a plain table with the same rows) and asserts the results have the same column types
/// and the same rows in the same order: values equal as text, except floating-point values, which
/// may differ by 1e-12 relative (data nodes add them up in another order). The local result must
/// not be empty (an empty pair proves nothing).
pub fn assert_same_results(
    client: &mut postgres::Client,
    query: &str,
    distributed: &str,
    local: &str,
) {
    type Rows = Vec<Vec<Option<String>>>;
    let mut run = |table: &str| -> (Vec<postgres::types::Type>, Rows) {
        let sql = query.replace("{t}", table);
        let fail = |e: postgres::Error| -> ! { panic!("{query} on {table}: {e}") };
        let statement = client.prepare(&sql).unwrap_or_else(|e| fail(e));
        let types = statement
            .columns()
            .iter()
            .map(|c| c.type_().clone())
            .collect();
        let rows = client
            .simple_query(&sql)
            .unwrap_or_else(|e| fail(e))
            .into_iter()
            .filter_map(|message| match message {
                postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect();
        (types, rows)
    };
    let (distributed_types, on_distributed) = run(distributed);
    let (local_types, on_local) = run(local);
    assert!(!on_local.is_empty(), "query: {query}");
    assert_eq!(distributed_types, local_types, "column types of: {query}");
    assert_eq!(
        on_distributed.len(),
        on_local.len(),
        "row count of: {query}"
    );
    let is_float: Vec<bool> = local_types
        .iter()
        .map(|t| *t == postgres::types::Type::FLOAT8 || *t == postgres::types::Type::FLOAT4)
        .collect();
    for (n, (d, l)) in on_distributed.iter().zip(&on_local).enumerate() {
        let same = d
            .iter()
            .zip(l)
            .zip(&is_float)
            .all(|((d, l), float)| match (d, l) {
                (Some(d), Some(l)) if *float && d != l => close(d, l),
                _ => d == l,
            });
        assert!(
            same,
            "row {n} of: {query}\n distributed: {d:?}\n       local: {l:?}"
        );
    }
}

fn close(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
        _ => false,
    }
}
