//! The insert path: `INSERT` and `COPY FROM` into a distributed hypertable.
//!
//! Every row is routed to its chunk on the access node (time slice × hash slice, the chunk made if
//! missing), encoded once in binary COPY form, and buffered per chunk. When a data node has
//! `hyperdist.max_insert_batch_size` rows waiting (and at the end of the statement), every buffer
//! is shipped: one `COPY chunk FROM STDIN (FORMAT binary)` per chunk and replica, all data nodes at
//! once. Rows go straight into the chunk tables; data nodes never route again. Errors a data node
//! raises (a constraint violation, say) fail the statement as `[node]: ...`.
//!
//! PostgreSQL counts the rows and builds RETURNING from the slot we hand back, so the command tag
//! and RETURNING are exact although rows travel later.

use bytes::Bytes;
use futures_util::SinkExt;
use futures_util::future::join_all;
use hyperdist_core::copy_binary::CopyWriter;
use hyperdist_core::partition;
use pgrx::{PgMemoryContexts, PgSqlErrorCode, pg_sys};

use crate::catalog::hypertable::{self, Hypertable};
use crate::ddl::chunk::{self, Chunk};
use crate::error::Report;
use crate::guc;
use crate::node;
use crate::quote;
use crate::remote::codec::{self, ColumnCodec, DatabaseEncoding};
use crate::remote::{RemoteError, runtime};
use crate::txn;

pub struct InsertState {
    hypertable: Hypertable,
    columns: Vec<ColumnCodec>,
    time_index: usize,
    space_index: Option<usize>,
    /// `(col, col, ...)` for the COPY statements.
    column_list: String,
    /// Chunks seen in this statement, most recently used first.
    chunks: Vec<RoutedChunk>,
    /// Data nodes the statement writes to; chunks refer to them by position.
    nodes: Vec<String>,
    /// Rows waiting for each of `nodes`.
    rows_per_node: Vec<usize>,
    batch_size: usize,
    /// The row being encoded, before its chunk is known.
    scratch: CopyWriter,
    /// Reset for every row; a child of the query's memory, which frees it.
    row_memory: pg_sys::MemoryContext,
}

struct RoutedChunk {
    chunk: Chunk,
    /// Positions of the chunk's replicas in `InsertState::nodes`.
    nodes: Vec<usize>,
    /// Rows waiting to be shipped (a binary COPY stream), if any.
    rows: Option<CopyWriter>,
}

/// Sets up routing for `relation` (the hypertable's foreign table).
///
/// # Safety
/// `relation` must be an open relation; `query_memory` must outlive the state.
pub unsafe fn begin(
    relation: pg_sys::Relation,
    query_memory: pg_sys::MemoryContext,
) -> *mut InsertState {
    let relid = unsafe { (*relation).rd_id };
    let hypertable = hypertable::require(relid);
    let columns = unsafe { codec::columns((*relation).rd_att, query_memory) };
    let position = |name: &str| columns.iter().position(|c| c.name == name);
    let time_index = position(&hypertable.time.column)
        .unwrap_or_else(|| missing_column(&hypertable.time.column));
    let space_index = hypertable
        .space
        .as_ref()
        .map(|s| position(&s.column).unwrap_or_else(|| missing_column(&s.column)));
    let column_list = format!(
        "({})",
        columns
            .iter()
            .map(|c| quote::ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // SAFETY: a child of the query's memory context, freed with it.
    let row_memory = unsafe {
        pg_sys::AllocSetContextCreateInternal(
            query_memory,
            c"hyperdist insert row".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        )
    };
    let state = InsertState {
        hypertable,
        columns,
        time_index,
        space_index,
        column_list,
        chunks: Vec::new(),
        nodes: Vec::new(),
        rows_per_node: Vec::new(),
        batch_size: guc::max_insert_batch_size(),
        scratch: CopyWriter::rows_only(),
        row_memory,
    };
    // Dropped with the query's memory, also when the statement fails.
    PgMemoryContexts::For(query_memory).leak_and_drop_on_delete(state)
}

fn missing_column(name: &str) -> ! {
    Report::new(
        PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
        format!("dimension column \"{name}\" of the hypertable does not exist"),
    )
    .raise()
}

impl InsertState {
    /// Routes and buffers one row.
    ///
    /// # Safety
    /// `slot` must be a valid slot of the hypertable's row type.
    pub unsafe fn insert(&mut self, slot: *mut pg_sys::TupleTableSlot) {
        let natts = unsafe { (*(*slot).tts_tupleDescriptor).natts };
        if unsafe { ((*slot).tts_nvalid as i32) < natts } {
            unsafe { pg_sys::slot_getsomeattrs_int(slot, natts) };
        }
        let values = unsafe { std::slice::from_raw_parts((*slot).tts_values, natts as usize) };
        let nulls = unsafe { std::slice::from_raw_parts((*slot).tts_isnull, natts as usize) };

        let time_column = &self.columns[self.time_index];
        if nulls[time_column.index] {
            Report::new(
                PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    time_column.name, self.hypertable.table
                ),
            )
            .raise();
        }
        let time = self.hypertable.time.internal(values[time_column.index]);

        let mut hash = 0;
        let columns = &mut self.columns;
        let space_index = self.space_index;
        let row = &mut self.scratch;
        row.buffer().clear();
        let _encoding = DatabaseEncoding::enter();
        let mut row_memory = PgMemoryContexts::For(self.row_memory);
        unsafe {
            row_memory.reset();
            row_memory.switch_to(|_| {
                row.begin_row(columns.len() as u16);
                for (position, column) in columns.iter_mut().enumerate() {
                    let index = column.index;
                    if nulls[index] {
                        row.field(None);
                        continue;
                    }
                    let bytes = column.send(values[index]);
                    if Some(position) == space_index {
                        hash = partition::space_hash(bytes);
                    }
                    row.field(Some(bytes));
                }
            });
        }
        let routed = self.route(time, hash);
        let chunk = &mut self.chunks[routed];
        chunk
            .rows
            .get_or_insert_with(CopyWriter::new)
            .buffer()
            .extend_from_slice(self.scratch.buffer());
        let mut full = false;
        for &node in &chunk.nodes {
            self.rows_per_node[node] += 1;
            full |= self.rows_per_node[node] >= self.batch_size;
        }
        if full {
            self.flush();
        }
    }

    /// The position in `chunks` of the chunk for (time, hash), moved to the front.
    fn route(&mut self, time: i64, hash: i64) -> usize {
        if self
            .chunks
            .first()
            .is_some_and(|c| c.chunk.contains(time, hash))
        {
            return 0;
        }
        if let Some(at) = self
            .chunks
            .iter()
            .position(|c| c.chunk.contains(time, hash))
        {
            self.chunks.swap(0, at);
            return 0;
        }
        let mut chunk = chunk::find_or_create(&self.hypertable, time, hash);
        chunk::drop_unavailable_replicas(&self.hypertable, &mut chunk);
        let nodes = chunk
            .data_nodes
            .iter()
            .map(|name| match self.nodes.iter().position(|n| n == name) {
                Some(at) => at,
                None => {
                    self.nodes.push(name.clone());
                    self.rows_per_node.push(0);
                    self.nodes.len() - 1
                }
            })
            .collect();
        self.chunks.insert(
            0,
            RoutedChunk {
                chunk,
                nodes,
                rows: None,
            },
        );
        0
    }

    /// Ships every buffered row to its chunk's replicas, all data nodes at once.
    pub fn flush(&mut self) {
        let mut per_node: Vec<Vec<(String, Bytes)>> = vec![Vec::new(); self.nodes.len()];
        for routed in &mut self.chunks {
            let Some(mut rows) = routed.rows.take() else {
                continue;
            };
            rows.finish();
            let bytes = Bytes::from(rows.take());
            for &node in &routed.nodes {
                per_node[node].push((routed.chunk.qualified_name.clone(), bytes.clone()));
            }
        }
        self.rows_per_node.fill(0);
        let nodes: Vec<(String, Vec<(String, Bytes)>)> = self
            .nodes
            .iter()
            .cloned()
            .zip(per_node)
            .filter(|(_, jobs)| !jobs.is_empty())
            .collect();
        if nodes.is_empty() {
            return;
        }
        let sessions: Vec<_> = nodes
            .iter()
            .map(|(name, _)| txn::session(&node::get(name), txn::Access::Write))
            .collect();
        let log = guc::log_remote_commands();
        let column_list = &self.column_list;
        let copies = nodes
            .iter()
            .zip(&sessions)
            .map(|((name, jobs), session)| async move {
                for (table, bytes) in jobs {
                    let sql = format!("COPY {table} {column_list} FROM STDIN (FORMAT binary)");
                    let shipped = async {
                        let sink = session.client().copy_in::<_, Bytes>(&sql).await?;
                        let mut sink = std::pin::pin!(sink);
                        sink.send(bytes.clone()).await?;
                        sink.finish().await
                    };
                    if let Err(err) = shipped.await {
                        return Err((name.clone(), sql, err));
                    }
                }
                Ok(())
            });
        if log {
            for (name, jobs) in &nodes {
                for (table, _) in jobs {
                    pgrx::log!(
                        "[{name}]: COPY {table} {} FROM STDIN (FORMAT binary)",
                        self.column_list
                    );
                }
            }
        }
        let results = match runtime::block_on(join_all(copies)) {
            Ok(results) => results,
            Err(_) => {
                sessions.iter().for_each(|s| s.cancel());
                runtime::raise_pending_interrupt()
            }
        };
        if let Some(Err((name, _sql, err))) = results.into_iter().find(|r| r.is_err()) {
            RemoteError::from_postgres(&name, err).raise();
        }
    }
}
