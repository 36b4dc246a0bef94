//! Live state of every data node for `timescaledb_information.data_nodes`: is it up, and how
//! much hyperdist data it holds. All nodes are asked at once; a node that does not answer within
//! `hyperdist.ping_timeout` is down, and the view still answers.

use std::time::Duration;

use futures_util::future::join_all;
use pgrx::prelude::*;

use crate::guc;
use crate::node;
use crate::remote::connection::connect;
use crate::remote::{ConnectionTarget, NodeConnection, cache, runtime};

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    #[pg_extern(volatile)]
    fn data_node_status() -> TableIterator<
        'static,
        (
            name!(node_name, String),
            name!(node_up, bool),
            name!(total_size, Option<i64>),
        ),
    > {
        TableIterator::new(super::status())
    }
}

pgrx::extension_sql_file!(
    "../../sql/views.sql",
    name = "views",
    requires = ["catalog", _hyperdist_internal::data_node_status]
);

fn status() -> Vec<(String, bool, Option<i64>)> {
    let nodes = node::all();
    // Credentials and cached sessions are looked up here, on the backend's thread, before any
    // waiting starts.
    let probes: Vec<_> = nodes
        .iter()
        .map(|n| {
            (
                n.name.clone(),
                n.cache_key(),
                n.target(),
                cache::take(n.cache_key()),
            )
        })
        .collect();
    let timeout = guc::ping_timeout();
    let answers = runtime::block_on(join_all(probes.into_iter().map(
        |(name, key, target, cached)| async move {
            let answer =
                tokio::time::timeout(timeout, probe(&name, &target, cached, timeout)).await;
            (key, answer.ok().flatten())
        },
    )))
    .unwrap_or_else(|_interrupted| runtime::raise_pending_interrupt());

    let rows: Vec<_> = nodes
        .into_iter()
        .zip(answers)
        .map(|(node, (key, answer))| match answer {
            Some((connection, size)) => {
                cache::put(key, connection);
                (node.name, true, size)
            }
            None => (node.name, false, None),
        })
        .collect();
    rows
}

/// Asks one node for its size, on the cached session if it still works, else on a new one (which
/// is then cached). `None` when the node cannot be reached.
async fn probe(
    name: &str,
    target: &ConnectionTarget,
    cached: Option<NodeConnection>,
    timeout: Duration,
) -> Option<(NodeConnection, Option<i64>)> {
    const SIZE: &str = "SELECT _hyperdist_internal.data_node_size()";
    if let Some(connection) = cached
        && let Ok(row) = connection.client().query_one(SIZE, &[]).await
    {
        return Some((connection, row.get(0)));
    }
    let client = connect(target, timeout).await.ok()?;
    let size = client.query_one(SIZE, &[]).await.ok().map(|row| row.get(0));
    Some((NodeConnection::from_client(name, client), size))
}
