//! Resolving prepared transactions left in doubt on a data node (a node or the access node died
//! between PREPARE and COMMIT PREPARED): `remote_txn_heal_data_node`, and the healer that runs it
//! for every data node every `hyperdist.heal_interval`.
//!
//! For each prepared transaction of this access node database on the node: if the access-node
//! transaction committed, commit it; if it aborted, roll it back; if it is still running, leave it.
//! When the access node no longer knows the transaction (too old to look up), the commit log
//! (`_hyperdist_catalog.remote_txn`) decides: a row means committed (presumed abort).

use hyperdist_core::gid::Gid;
use pgrx::prelude::*;

use crate::catalog::{metadata, spi, spi_optional};
use crate::guc;
use crate::node::{self, DataNode};
use crate::remote::{NodeConnection, RemoteError};

/// Resolves the node's in-doubt transactions; returns how many it resolved, or why the node could
/// not be asked.
pub fn heal(node: &DataNode) -> Result<i32, RemoteError> {
    let cluster = metadata::uuid();
    let session = NodeConnection::open(&node.target(), guc::connect_timeout())?;
    let prepared: Vec<String> = session
        .query(
            "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)",
            &[&Gid::prefix_of(&cluster)],
        )?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut resolved = 0;
    let mut left = Vec::new();
    for gid in prepared {
        let Some(parsed) = Gid::parse(&gid) else {
            continue;
        };
        let command = match decide(&parsed, &gid) {
            Some(true) => format!("COMMIT PREPARED '{gid}'"),
            Some(false) => format!("ROLLBACK PREPARED '{gid}'"),
            None => {
                left.push(gid);
                continue;
            }
        };
        match session.batch_execute(&command) {
            Ok(()) => resolved += 1,
            Err(err) => {
                pgrx::warning!(
                    "could not resolve {gid} on data node \"{}\": {}",
                    node.name,
                    err.report_text()
                );
                left.push(gid);
            }
        }
    }
    // Log rows of transactions that are resolved everywhere are no longer needed.
    spi(Spi::run_with_args(
        "DELETE FROM _hyperdist_catalog.remote_txn
          WHERE node_name = $1 AND gid <> ALL($2)
            AND pg_xact_status(split_part(gid, '-', 7)::xid8) IS DISTINCT FROM 'in progress'",
        &[node.name.as_str().into(), left.into()],
    ));
    Ok(resolved)
}

/// Commit (true), roll back (false), or leave alone (None: the transaction is still running).
fn decide(gid: &Gid, text: &str) -> Option<bool> {
    let status = spi_optional(Spi::get_one_with_args::<String>(
        "SELECT pg_xact_status($1::text::xid8)",
        &[gid.xid.to_string().as_str().into()],
    ));
    match status.as_deref() {
        Some("in progress") => None,
        Some("committed") => Some(true),
        Some(_) => Some(false),
        // Too old for the commit log: presumed abort, unless the log row says it committed.
        None => Some(
            spi(Spi::get_one_with_args::<bool>(
                "SELECT EXISTS (SELECT FROM _hyperdist_catalog.remote_txn WHERE gid = $1)",
                &[text.into()],
            ))
            .unwrap_or(false),
        ),
    }
}

#[pg_extern(volatile)]
fn remote_txn_heal_data_node(node_name: Option<String>) -> i32 {
    heal(&node::get(&node::require_name(node_name))).unwrap_or_else(|e| e.raise())
}

/// What the background healer does in one database, each round: heal every data node it can
/// reach, and say which it could not.
pub fn heal_all() {
    for data_node in node::all() {
        if let Err(err) = heal(&data_node) {
            pgrx::log!(
                "hyperdist healer: skipping data node \"{}\": {}",
                data_node.name,
                err.report_text()
            );
        }
    }
}
