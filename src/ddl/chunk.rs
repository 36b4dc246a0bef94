//! Chunks: finding the chunk a row belongs to, and creating it (catalog rows on the access node, a
//! table on each replica data node) when it does not exist yet.

use hyperdist_core::partition::{self, Range};
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::hypertable::Hypertable;
use crate::catalog::{spi, spi_optional};
use crate::error::{Report, SqlState};
use crate::guc;
use crate::node;
use crate::quote;
use crate::remote::{NodeConnection, RemoteError};
use crate::txn;

#[derive(Clone, Debug)]
pub struct Chunk {
    /// `schema.table`, quoted.
    pub qualified_name: String,
    pub time: Range,
    pub space: Range,
    /// The data nodes holding a replica.
    pub data_nodes: Vec<String>,
}

impl Chunk {
    pub fn contains(&self, time: i64, hash: i64) -> bool {
        self.time.contains(time) && self.space.contains(hash)
    }

    /// The error of a read that needs this chunk when none of its replicas is available.
    pub fn no_available_replica(&self) -> ! {
        let node = self.data_nodes.first().cloned().unwrap_or_default();
        Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
            format!("data node \"{node}\" is not available"),
        )
        .detail(format!(
            "Chunk {} has no replica on an available data node.",
            self.qualified_name
        ))
        .hint("Mark the data node available again with alter_data_node(..., available => true).")
        .raise()
    }
}

const CHUNK_COLUMNS: &str = "c.schema_name::text, c.table_name::text, c.time_start, c.time_end,
     c.space_start, c.space_end,
     ARRAY(SELECT node_name::text FROM _hyperdist_catalog.chunk_data_node d
            WHERE d.chunk_id = c.id ORDER BY node_name)";

fn chunks(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Vec<Chunk> {
    let rows = Spi::connect(|client| {
        client
            .select(sql, None, args)?
            .map(|row| {
                let schema = row.get::<String>(1)?.unwrap_or_default();
                let table = row.get::<String>(2)?.unwrap_or_default();
                Ok(Chunk {
                    qualified_name: format!("{}.{}", quote::ident(&schema), quote::ident(&table)),
                    time: Range::new(
                        row.get::<i64>(3)?.unwrap_or_default(),
                        row.get::<i64>(4)?.unwrap_or_default(),
                    ),
                    space: Range::new(
                        row.get::<i64>(5)?.unwrap_or_default(),
                        row.get::<i64>(6)?.unwrap_or_default(),
                    ),
                    data_nodes: row.get::<Vec<String>>(7)?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    });
    spi(rows)
}

/// Every chunk of the hypertable, in time order.
pub fn all(hypertable: &Hypertable) -> std::rc::Rc<Vec<Chunk>> {
    crate::catalog::cache::chunks(hypertable.id, || load_all(hypertable))
}

fn load_all(hypertable: &Hypertable) -> Vec<Chunk> {
    chunks(
        &format!(
            "SELECT {CHUNK_COLUMNS} FROM _hyperdist_catalog.chunk c
              WHERE c.hypertable_id = $1 ORDER BY c.time_start, c.space_start"
        ),
        &[hypertable.id.into()],
    )
}

fn find(hypertable: &Hypertable, time: i64, hash: i64) -> Option<Chunk> {
    chunks(
        &format!(
            "SELECT {CHUNK_COLUMNS} FROM _hyperdist_catalog.chunk c
              WHERE c.hypertable_id = $1
                AND c.time_start <= $2 AND (c.time_end > $2 OR c.time_end = 9223372036854775807)
                AND c.space_start <= $3 AND (c.space_end > $3 OR c.space_end = 9223372036854775807)"
        ),
        &[hypertable.id.into(), time.into(), hash.into()],
    )
    .into_iter()
    .next()
}

/// The chunk that holds a row at `time` (internal form) with space hash `hash` (0 without a space
/// dimension), creating it if needed.
pub fn find_or_create(hypertable: &Hypertable, time: i64, hash: i64) -> Chunk {
    if let Some(chunk) = find(hypertable, time, hash) {
        return chunk;
    }
    // One transaction at a time creates chunks of a hypertable, and holds the right until it ends.
    // Creators that waited for each other's uncommitted chunks (on the access node) and for each
    // other's chunk tables (on data nodes, where the access node's deadlock detector cannot see)
    // could otherwise deadlock, or hang.
    // SAFETY: takes a heavyweight lock held to the end of the transaction.
    unsafe {
        pg_sys::LockRelationOid(
            hypertable.relid,
            pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE,
        )
    };
    if let Some(chunk) = find(hypertable, time, hash) {
        return chunk;
    }
    let (time_range, space_range) = new_slices(hypertable, time, hash);
    let created = spi_optional(Spi::get_one_with_args::<i32>(
        "WITH id AS (SELECT nextval('_hyperdist_catalog.chunk_id_seq')::int AS id)
         INSERT INTO _hyperdist_catalog.chunk
             (id, hypertable_id, schema_name, table_name, time_start, time_end, space_start, space_end)
         SELECT id.id, $1, $2, format('%s_%s_chunk', $3, id.id), $4, $5, $6, $7 FROM id
         ON CONFLICT (hypertable_id, time_start, space_start) DO NOTHING
         RETURNING id",
        &[
            hypertable.id.into(),
            hypertable.associated_schema.as_str().into(),
            hypertable.associated_prefix.as_str().into(),
            time_range.start.into(),
            time_range.end.into(),
            space_range.start.into(),
            space_range.end.into(),
        ],
    ));
    let Some(id) = created else {
        // Another session made this chunk while we waited for it to commit.
        return find(hypertable, time, hash).unwrap_or_else(|| {
            Report::new(
                pgrx::PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                "could not create a chunk another transaction was creating at the same time",
            )
            .hint("Retry the transaction.")
            .raise()
        });
    };
    hypertable.invalidate_plans();
    let data_nodes = place(hypertable, time, hash);
    for name in &data_nodes {
        spi(Spi::run_with_args(
            "INSERT INTO _hyperdist_catalog.chunk_data_node (chunk_id, node_name) VALUES ($1, $2)",
            &[id.into(), name.as_str().into()],
        ));
    }
    let chunk = Chunk {
        qualified_name: format!(
            "{}.{}",
            quote::ident(&hypertable.associated_schema),
            quote::ident(&format!("{}_{id}_chunk", hypertable.associated_prefix))
        ),
        time: time_range,
        space: space_range,
        data_nodes,
    };
    // The chunk's tables are committed on the data nodes at once, on a session of their own,
    // before the catalog row can be seen: another transaction sees the row as soon as this one
    // commits here, which is before COMMIT PREPARED reaches the data nodes, and must find the
    // table there. If this transaction rolls back, the tables stay behind empty and unused (no
    // chunk names them; copy_chunk replaces such a table). A hypertable created in this very
    // transaction has no committed table to inherit from yet (and no other transaction can see
    // it): its chunks are made in the transaction, as is any chunk whose creation fails on its
    // own session (in the transaction, a real problem is reported).
    let ddl = table_ddl(hypertable, &chunk.qualified_name);
    for name in &chunk.data_nodes {
        let node = node::get(name);
        let committed = NodeConnection::open(&node.target(), guc::connect_timeout())
            .and_then(|session| session.batch_execute(&ddl));
        match committed {
            Ok(()) => {}
            // What the table needs (its parent, schema, types) may be this transaction's own.
            Err(RemoteError::Server { .. }) => {
                txn::session(&node, txn::Access::Write)
                    .batch_execute(&ddl)
                    .unwrap_or_else(|e| e.raise());
            }
            Err(err) => err.raise(),
        }
    }
    chunk
}

/// What makes a chunk's table on a data node: a child of the hypertable's table there (so later
/// column and CHECK changes reach it by inheritance), with its indexes and privileges.
pub fn table_ddl(hypertable: &Hypertable, qualified_name: &str) -> String {
    let parent = hypertable.qualified_name();
    format!(
        "CREATE TABLE {qualified_name} () INHERITS ({parent}); \
         SELECT _hyperdist_internal.sync_chunks({}::regclass, {}::regclass)",
        quote::literal(&parent),
        quote::literal(qualified_name)
    )
}

/// The slices of a new chunk around (time, hash): aligned to the dimensions' current settings, and
/// cut so as not to overlap chunks made under earlier settings.
fn new_slices(hypertable: &Hypertable, time: i64, hash: i64) -> (Range, Range) {
    let ranges = |sql: &str, args: &[pgrx::datum::DatumWithOid]| -> Vec<Range> {
        let rows = Spi::connect(|client| {
            client
                .select(sql, None, args)?
                .map(|row| {
                    Ok(Range::new(
                        row.get::<i64>(1)?.unwrap_or_default(),
                        row.get::<i64>(2)?.unwrap_or_default(),
                    ))
                })
                .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        });
        spi(rows)
    };
    let aligned = partition::time_slice(time, hypertable.time.interval);
    let neighbours_in_time = ranges(
        "SELECT time_start, time_end FROM _hyperdist_catalog.chunk
          WHERE hypertable_id = $1 AND space_start <= $2 AND (space_end > $2 OR space_end = 9223372036854775807)
            AND time_start < $4 AND time_end > $3",
        &[hypertable.id.into(), hash.into(), aligned.start.into(), aligned.end.into()],
    );
    let time_range = partition::cut_to_fit(aligned, time, &neighbours_in_time);
    let space_range = match &hypertable.space {
        None => Range::new(i64::MIN, i64::MAX),
        Some(space) => {
            let slices = partition::closed_slices(space.partitions);
            let aligned = slices[partition::closed_slice_index(hash, space.partitions)];
            let neighbours_in_space = ranges(
                "SELECT space_start, space_end FROM _hyperdist_catalog.chunk
                  WHERE hypertable_id = $1 AND time_start < $3 AND time_end > $2",
                &[
                    hypertable.id.into(),
                    time_range.start.into(),
                    time_range.end.into(),
                ],
            );
            partition::cut_to_fit(aligned, hash, &neighbours_in_space)
        }
    };
    (time_range, space_range)
}

/// The data nodes a new chunk goes to: the space slice's (or, without a space dimension, the time
/// slice's) turn in the hypertable's node list, `replication_factor` available nodes from there.
fn place(hypertable: &Hypertable, time: i64, hash: i64) -> Vec<String> {
    let available: Vec<bool> = {
        let known = node::all();
        hypertable
            .data_nodes
            .iter()
            .map(|name| known.iter().any(|n| &n.name == name && n.available))
            .collect()
    };
    let first = match &hypertable.space {
        Some(space) => partition::closed_slice_index(hash, space.partitions) as u64,
        None => partition::time_slice_ordinal(time, hypertable.time.interval) as u64,
    };
    let wanted = hypertable.replication_factor as usize;
    let chosen = partition::place(first, &available, wanted);
    if chosen.is_empty() {
        Report::new(
            SqlState::INSUFFICIENT_NUM_DATA_NODES,
            "insufficient number of data nodes",
        )
        .hint(format!(
            "Increase the number of available data nodes on hypertable \"{}\".",
            hypertable.table
        ))
        .raise();
    }
    if chosen.len() < wanted {
        Report::new(
            SqlState::INSUFFICIENT_NUM_DATA_NODES,
            "insufficient number of data nodes",
        )
        .detail(format!(
            "Reducing the replication factor of a new chunk of hypertable \"{}\" to {}.",
            hypertable.table,
            chosen.len()
        ))
        .hint(format!(
            "Attach {wanted} or more data nodes to hypertable \"{}\".",
            hypertable.table
        ))
        .warn();
    }
    chosen
        .into_iter()
        .map(|i| hypertable.data_nodes[i].clone())
        .collect()
}

/// Writes skip replicas on data nodes marked unavailable: those replicas stop being replicas (they
/// would miss the new rows), which `timescaledb_information.chunks` then shows as fewer data
/// nodes. A chunk with no available replica left cannot be written to.
pub fn drop_unavailable_replicas(hypertable: &Hypertable, chunk: &mut Chunk) {
    let available: Vec<String> = node::available_names();
    let (keep, stale): (Vec<String>, Vec<String>) = chunk
        .data_nodes
        .drain(..)
        .partition(|n| available.contains(n));
    chunk.data_nodes = keep;
    if stale.is_empty() {
        return;
    }
    hypertable.invalidate_plans();
    if chunk.data_nodes.is_empty() {
        Report::new(
            SqlState::INSUFFICIENT_NUM_DATA_NODES,
            "insufficient number of available data nodes",
        )
        .detail(format!(
            "Chunk {} has replicas only on unavailable data nodes ({}).",
            chunk.qualified_name,
            stale.join(", ")
        ))
        .hint(format!(
            "Increase the number of available data nodes on hypertable \"{}\".",
            hypertable.table
        ))
        .raise();
    }
    spi(Spi::run_with_args(
        "DELETE FROM _hyperdist_catalog.chunk_data_node d
          USING _hyperdist_catalog.chunk c
          WHERE d.chunk_id = c.id AND c.hypertable_id = $1
            AND format('%I.%I', c.schema_name, c.table_name) = $2 AND d.node_name = ANY($3)",
        &[
            hypertable.id.into(),
            chunk.qualified_name.as_str().into(),
            stale.clone().into(),
        ],
    ));
    Report::new(
        SqlState::INSUFFICIENT_NUM_DATA_NODES,
        format!("chunk {} is under-replicated", chunk.qualified_name),
    )
    .detail(format!(
        "Its replica on unavailable data node(s) {} no longer receives writes and was dropped from the chunk.",
        stale.join(", ")
    ))
    .hint("Re-create the replica once the node is back: CALL timescaledb_experimental.copy_chunk(chunk, source_node, destination_node).")
    .warn();
}
