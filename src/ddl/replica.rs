//! Repairing and moving chunk replicas: `copy_chunk` adds a replica of a chunk on another data
//! node, `move_chunk` moves one. Each is a single distributed transaction: the rows stream from the
//! source replica to the destination with binary COPY, and the destination's table, the catalog
//! row and (for a move) the source replica's removal commit together through two-phase commit, or
//! not at all. TimescaleDB did this in stages over logical replication, with a cleanup procedure
//! for failed operations; one transaction leaves nothing to clean up.
//!
//! Writers are kept out while the rows are copied: the hypertable is locked in SHARE mode on the
//! access node (every INSERT or COPY holds ROW EXCLUSIVE on it), and the source chunk table in
//! SHARE mode on its data node, which also waits for a transaction still prepared there.

use std::ffi::CStr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, pg_sys};

use crate::catalog::hypertable::{self, Hypertable};
use crate::catalog::{spi, spi_optional};
use crate::ddl::chunk;
use crate::error::{Report, invalid_argument, prevent_if_read_only, prevent_in_transaction_block};
use crate::guc;
use crate::node;
use crate::quote;
use crate::remote::{RemoteError, runtime};
use crate::txn::{self, Access};

/// A chunk as a copy or move sees it, read with its catalog row locked.
struct ReplicatedChunk {
    id: i32,
    hypertable_id: i32,
    qualified_name: String,
    replicas: Vec<String>,
}

/// The chunk called `name` (`schema.table`, or just the table), its row locked `FOR UPDATE` when
/// `lock` is set so that two operations on one chunk run one after the other.
fn find_chunk(name: &str, lock: bool) -> Option<ReplicatedChunk> {
    let sql = format!(
        "WITH n AS (SELECT pg_catalog.parse_ident($1) AS parts)
         SELECT c.id, c.hypertable_id, format('%I.%I', c.schema_name, c.table_name),
                ARRAY(SELECT d.node_name::text FROM _hyperdist_catalog.chunk_data_node d
                       WHERE d.chunk_id = c.id ORDER BY d.node_name)
           FROM _hyperdist_catalog.chunk c, n
          WHERE CASE cardinality(n.parts)
                    WHEN 1 THEN c.table_name = n.parts[1]
                    WHEN 2 THEN c.schema_name = n.parts[1] AND c.table_name = n.parts[2]
                    ELSE false
                END
          {}",
        if lock { "FOR UPDATE OF c" } else { "" }
    );
    let rows = Spi::connect_mut(|client| {
        client
            .update(&sql, None, &[name.into()])?
            .map(|row| {
                Ok(ReplicatedChunk {
                    id: row.get::<i32>(1)?.unwrap_or_default(),
                    hypertable_id: row.get::<i32>(2)?.unwrap_or_default(),
                    qualified_name: row.get::<String>(3)?.unwrap_or_default(),
                    replicas: row.get::<Vec<String>>(4)?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    });
    let mut rows = spi(rows);
    if rows.len() > 1 {
        invalid_argument(
            format!("chunk name \"{name}\" is ambiguous"),
            "Qualify the chunk with its schema (see timescaledb_information.chunks).",
        );
    }
    rows.pop()
}

fn not_a_remote_chunk(name: &str) -> ! {
    Report::new(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        format!("\"{name}\" is not a valid remote chunk"),
    )
    .hint("See timescaledb_information.chunks for the chunks of distributed hypertables.")
    .raise()
}

fn check_operation_id(operation_id: Option<&str>) {
    let Some(id) = operation_id else { return };
    let valid = !id.is_empty()
        && id.len() < pg_sys::NAMEDATALEN as usize
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        Report::new(
            PgSqlErrorCode::ERRCODE_INVALID_NAME,
            format!("operation_id name \"{id}\" is not valid"),
        )
        .hint("Operation IDs may only contain lower-case letters, numbers, and the underscore character.")
        .raise();
    }
}

/// Locks the hypertable in SHARE mode on the access node: new writes wait for the copy, and the
/// copy waits for writes in progress.
fn lock_out_writers(hypertable: &Hypertable) {
    // SAFETY: takes a heavyweight lock held to the end of the transaction.
    unsafe { pg_sys::LockRelationOid(hypertable.relid, pg_sys::ShareLock as pg_sys::LOCKMODE) };
}

fn check_privilege(hypertable: &Hypertable, operation: &str) {
    let allowed = spi_optional(Spi::get_one_with_args::<bool>(
        "SELECT r.rolsuper OR r.rolreplication OR pg_catalog.pg_has_role(c.relowner, 'USAGE')
           FROM pg_catalog.pg_roles r, pg_catalog.pg_class c
          WHERE r.rolname = current_user AND c.oid = $1",
        &[hypertable.relid.into()],
    ))
    .unwrap_or(false);
    if !allowed {
        Report::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "must be superuser, replication role, or hypertable owner to {operation} chunk to data node"
            ),
        )
        .detail(format!("Hypertable \"{}\" is owned by another role.", hypertable.table))
        .raise();
    }
}

/// Checks the two nodes against the chunk's replicas and the hypertable's data nodes.
fn check_nodes(hypertable: &Hypertable, chunk: &ReplicatedChunk, source: &str, destination: &str) {
    if source == destination {
        Report::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            "source and destination data node match",
        )
        .hint("Give a destination data node that does not hold the chunk yet.")
        .raise();
    }
    if !chunk.replicas.iter().any(|n| n == source) {
        Report::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!(
                "chunk \"{}\" does not exist on source data node \"{source}\"",
                chunk.qualified_name
            ),
        )
        .hint(format!(
            "The chunk's replicas are on: {}.",
            chunk.replicas.join(", ")
        ))
        .raise();
    }
    if chunk.replicas.iter().any(|n| n == destination) {
        Report::new(
            PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            format!(
                "chunk \"{}\" already exists on destination data node \"{destination}\"",
                chunk.qualified_name
            ),
        )
        .raise();
    }
    if !hypertable.data_nodes.iter().any(|n| n == destination) {
        Report::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "data node \"{destination}\" is not attached to hypertable \"{}\"",
                hypertable.table
            ),
        )
        .hint("Attach it first with attach_data_node().")
        .raise();
    }
    if !node::get(destination).available {
        Report::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("data node \"{destination}\" is not available"),
        )
        .hint("Mark it available again with alter_data_node(available => true).")
        .raise();
    }
}

/// The hypertable's columns, as a COPY column list, so both replicas agree on the order.
fn column_list(relid: pg_sys::Oid) -> String {
    spi_optional(Spi::get_one_with_args::<String>(
        "SELECT '(' || string_agg(quote_ident(attname), ', ' ORDER BY attnum) || ')'
           FROM pg_catalog.pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
        &[relid.into()],
    ))
    .unwrap_or_default()
}

/// Streams the chunk's rows from `source` to `destination`; returns how many were copied.
fn stream_rows(
    table: &str,
    columns: &str,
    (source, source_session): (&str, &crate::remote::NodeConnection),
    (destination, destination_session): (&str, &crate::remote::NodeConnection),
) -> u64 {
    let out_sql = format!("COPY {table} {columns} TO STDOUT (FORMAT binary)");
    let in_sql = format!("COPY {table} {columns} FROM STDIN (FORMAT binary)");
    if guc::log_remote_commands() {
        pgrx::log!("[{source}]: {out_sql}");
        pgrx::log!("[{destination}]: {in_sql}");
    }
    let from_source = |e| RemoteError::from_postgres(source, e);
    let from_destination = |e| RemoteError::from_postgres(destination, e);
    let copy = async {
        let rows = source_session
            .client()
            .copy_out(&out_sql)
            .await
            .map_err(from_source)?;
        let sink = destination_session
            .client()
            .copy_in::<_, Bytes>(&in_sql)
            .await
            .map_err(from_destination)?;
        let mut rows = std::pin::pin!(rows);
        let mut sink = std::pin::pin!(sink);
        while let Some(data) = rows.next().await {
            sink.send(data.map_err(from_source)?)
                .await
                .map_err(from_destination)?;
        }
        sink.finish().await.map_err(from_destination)
    };
    match runtime::block_on(copy) {
        Ok(result) => result.unwrap_or_else(|e| e.raise()),
        Err(_interrupted) => {
            source_session.cancel();
            destination_session.cancel();
            runtime::raise_pending_interrupt()
        }
    }
}

/// `copy_chunk` (`delete_source = false`) and `move_chunk` (`true`).
fn replicate(
    function: &CStr,
    chunk_name: Option<&str>,
    source: Option<String>,
    destination: Option<String>,
    operation_id: Option<&str>,
    delete_source: bool,
) {
    let operation = if delete_source { "move" } else { "copy" };
    prevent_if_read_only(function);
    prevent_in_transaction_block(function);
    let Some(chunk_name) = chunk_name else {
        invalid_argument("invalid chunk", "Give the chunk as schema.table.")
    };
    let (Some(source), Some(destination)) = (source, destination) else {
        invalid_argument(
            "invalid source or destination node",
            "Give both the data node that holds the chunk and the one to copy it to.",
        )
    };
    check_operation_id(operation_id);

    let unlocked = find_chunk(chunk_name, false).unwrap_or_else(|| not_a_remote_chunk(chunk_name));
    let hypertable =
        hypertable::by_id(unlocked.hypertable_id).unwrap_or_else(|| not_a_remote_chunk(chunk_name));
    lock_out_writers(&hypertable);
    check_privilege(&hypertable, operation);
    // Read again under the locks: a write or an operation that finished meanwhile is seen now.
    let chunk = find_chunk(chunk_name, true).unwrap_or_else(|| not_a_remote_chunk(chunk_name));
    check_nodes(&hypertable, &chunk, &source, &destination);

    let table = &chunk.qualified_name;
    let source_session = txn::session(
        &node::get(&source),
        if delete_source {
            Access::Write
        } else {
            Access::Read
        },
    );
    source_session
        .batch_execute(&format!("LOCK TABLE {table} IN SHARE MODE"))
        .unwrap_or_else(|e| e.raise());
    // A table of that name on the destination is not a replica (the catalog says so): it is what
    // a replica dropped while its node was unavailable left behind.
    let destination_session = txn::session(&node::get(&destination), Access::Write);
    destination_session
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; DROP TABLE IF EXISTS {table}; {create}",
            schema = quote::ident(&hypertable.associated_schema),
            create = chunk::table_ddl(&hypertable, table)
        ))
        .unwrap_or_else(|e| e.raise());
    stream_rows(
        table,
        &column_list(hypertable.relid),
        (&source, &source_session),
        (&destination, &destination_session),
    );
    hypertable.invalidate_plans();
    spi(Spi::run_with_args(
        "INSERT INTO _hyperdist_catalog.chunk_data_node (chunk_id, node_name) VALUES ($1, $2)",
        &[chunk.id.into(), destination.as_str().into()],
    ));
    if delete_source {
        source_session
            .batch_execute(&format!("DROP TABLE {table}"))
            .unwrap_or_else(|e| e.raise());
        spi(Spi::run_with_args(
            "DELETE FROM _hyperdist_catalog.chunk_data_node WHERE chunk_id = $1 AND node_name = $2",
            &[chunk.id.into(), source.as_str().into()],
        ));
    }
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    /// The body of the `copy_chunk` and `move_chunk` procedures.
    #[pg_extern(volatile)]
    fn replicate_chunk(
        chunk: Option<&str>,
        source_node: Option<String>,
        destination_node: Option<String>,
        operation_id: Option<&str>,
        delete_source: bool,
    ) {
        let function = if delete_source {
            c"move_chunk"
        } else {
            c"copy_chunk"
        };
        replicate(
            function,
            chunk,
            source_node,
            destination_node,
            operation_id,
            delete_source,
        );
    }
}

pgrx::extension_sql_file!(
    "../../sql/chunk_replicas.sql",
    name = "chunk_replicas",
    requires = [_hyperdist_internal::replicate_chunk, "catalog"]
);
