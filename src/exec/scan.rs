//! The read path: the chunks the plan cannot exclude, each read from one available replica, one
//! remote query per data node (`COPY (SELECT ... UNION ALL ...) TO STDOUT (FORMAT binary,
//! hyperdist_batches)`, which the data node answers in `row_batches`, or
//! the grouped query around it when the data nodes aggregate), all data nodes queried at once and
//! their rows taken as they arrive, decoded with the types' `recv` functions.

use futures_util::future::join_all;
use hyperdist_core::copy_binary::{CopyReader, FieldSpans};
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, PgSqlErrorCode, pg_sys};
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::catalog::hypertable::{self, Hypertable};
use crate::error::Report;
use crate::exec::runtime_values::RuntimeValues;
use crate::guc;
use crate::node;
use crate::plan::ScanPlan;
use crate::plan::order::order_by_clause;
use crate::quote;
use crate::remote::codec::{self, ColumnCodec, DatabaseEncoding};
use crate::remote::stream::{Batch, SharedStream};
use crate::remote::{NodeConnection, RemoteError, runtime};
use crate::txn;

/// How much received data a scan takes from one data node at a time (when that much has arrived).
const BATCH_BYTES: usize = 256 * 1024;

/// One data node's remote query while it streams.
struct NodeStream {
    name: String,
    session: Rc<NodeConnection>,
    stream: SharedStream,
    reader: CopyReader,
    done: bool,
    /// Rows read since launch (added to the scan's `stats` when the stream finishes).
    rows: u64,
    /// When merging sorted streams: the node's next row (its fields in the reader's buffer),
    /// and its sort keys decoded in `key_memory`.
    head: Option<FieldSpans>,
    keys: Vec<(pg_sys::Datum, bool)>,
    key_memory: pg_sys::MemoryContext,
}

/// A sort key of merged streams: the fetched column it reads and how it compares.
struct MergeKey {
    column: usize,
    support: Box<pg_sys::SortSupportData>,
}

impl MergeKey {
    /// As PostgreSQL's ApplySortComparator.
    fn compare(&self, a: (pg_sys::Datum, bool), b: (pg_sys::Datum, bool)) -> i32 {
        let support = &*self.support;
        match (a.1, b.1) {
            (true, true) => 0,
            (true, false) => {
                if support.ssup_nulls_first {
                    -1
                } else {
                    1
                }
            }
            (false, true) => {
                if support.ssup_nulls_first {
                    1
                } else {
                    -1
                }
            }
            (false, false) => {
                let comparator = support.comparator.expect("sort support has a comparator");
                let support_ptr = (support as *const pg_sys::SortSupportData).cast_mut();
                // SAFETY: the comparator PostgreSQL prepared for these values' type; an ERROR
                // it raises is caught by the boundary and re-raised as a Rust panic.
                #[allow(ffi_unwind_calls)]
                let order = unsafe {
                    pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
                        comparator(a.0, b.0, support_ptr)
                    })
                };
                if support.ssup_reverse {
                    order.saturating_neg()
                } else {
                    order
                }
            }
        }
    }
}

struct ScanState {
    hypertable: Hypertable,
    /// The plan as planned; each (re)scan evaluates its runtime values into a copy.
    plan: ScanPlan,
    runtime: Option<RuntimeValues>,
    columns: Vec<ColumnCodec>,
    /// Whether decoding a row calls `recv` functions (then under the database encoding).
    calls_recv: bool,
    /// The remote queries, started together at the first row wanted.
    streams: Vec<NodeStream>,
    launched: bool,
    /// The stream whose buffered bytes may hold more rows.
    current: Option<usize>,
    /// Where the next wait for data starts looking, so no node is starved.
    next_poll: usize,
    spans: FieldSpans,
    receive_buffer: pg_sys::StringInfo,
    row_memory: pg_sys::MemoryContext,
    query_memory: pg_sys::MemoryContext,
    /// Every data node's remote query (made at launch; for EXPLAIN too).
    queries: Vec<(String, String)>,
    /// Rows and time per data node, for EXPLAIN ANALYZE.
    stats: BTreeMap<String, (u64, std::time::Duration)>,
    started: std::time::Instant,
    /// The data nodes sort; their streams are merged by these keys.
    merge: Vec<MergeKey>,
    /// Memory for the decoded sort keys of each stream's head row, kept across rescans.
    key_memory: Vec<pg_sys::MemoryContext>,
}

/// The remote query of each data node. With `probe`, each chunk is read from its first replica
/// that can be reached now; without (EXPLAIN), from its first available replica.
fn plan_queries(
    hypertable: &Hypertable,
    columns: &[ColumnCodec],
    plan: &ScanPlan,
    probe: bool,
) -> Vec<(String, String)> {
    let available: Vec<String> = node::available_names();
    let select_list = match &plan.grouping {
        Some(grouping) => grouping.input_columns.join(", "),
        None => columns
            .iter()
            .map(|c| quote::ident(&c.name))
            .collect::<Vec<_>>()
            .join(", "),
    };
    // Whether each data node can be reached (its session in this transaction opened), asked once.
    let mut reachable: BTreeMap<String, Result<(), RemoteError>> = BTreeMap::new();
    let mut per_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut assigned = Vec::new();
    let filter = plan
        .shipped_filter
        .as_ref()
        .map(|sql| format!(" WHERE {sql}"))
        .unwrap_or_default();
    for chunk in plan.chunks_to_read(hypertable) {
        let candidates: Vec<&String> = chunk
            .data_nodes
            .iter()
            .filter(|n| available.contains(n))
            .collect();
        if candidates.is_empty() {
            chunk.no_available_replica();
        }
        let mut chosen = None;
        for name in &candidates {
            let state = reachable.entry((*name).clone()).or_insert_with(|| {
                if probe {
                    txn::try_session(&node::get(name), txn::Access::Read).map(drop)
                } else {
                    Ok(())
                }
            });
            if state.is_ok() {
                chosen = Some((*name).clone());
                break;
            }
        }
        let Some(replica) = chosen else {
            // Every replica is down: report why the first could not be reached.
            let first = candidates[0];
            match reachable.remove(first) {
                Some(Err(err)) => err.raise(),
                _ => unreachable!("an unreachable replica has its error recorded"),
            }
        };
        assigned.push((chunk.space, replica.clone()));
        per_node.entry(replica).or_default().push(format!(
            "SELECT {select_list} FROM ONLY {}{filter}",
            chunk.qualified_name
        ));
    }
    let Some(grouping) = &plan.grouping else {
        let mut tail = order_by_clause(&plan.order);
        if let Some(limit) = plan.limit {
            tail.push_str(&format!(" LIMIT {limit}"));
        }
        return per_node
            .into_iter()
            .map(|(node, selects)| {
                let union = selects.join(" UNION ALL ");
                let query = if tail.is_empty() {
                    union
                } else {
                    format!("SELECT * FROM ({union}) t{tail}")
                };
                (node, copy_out(&query))
            })
            .collect();
    };
    if !grouping.groups_stay_whole(&assigned) {
        Report::new(
            PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
            "chunk placement changed since the query was planned",
        )
        .detail("The data nodes cannot aggregate whole groups with the replicas they would read now.")
        .hint("Retry the query; it is planned again. SET hyperdist.enable_aggregate_pushdown = off avoids this.")
        .raise();
    }
    if per_node.is_empty()
        && grouping.group_by.is_empty()
        && grouping.distinct.is_none()
        && !grouping.partial
    {
        // An aggregate without GROUP BY has one row even over no rows: a data node computes it
        // over the hypertable's (empty) parent table.
        if let Some(name) = hypertable.data_nodes.iter().find(|n| available.contains(n)) {
            per_node.insert(
                name.clone(),
                vec![format!(
                    "SELECT {select_list} FROM ONLY {} WHERE false",
                    hypertable.qualified_name()
                )],
            );
        }
    }
    per_node
        .into_iter()
        .map(|(node, selects)| {
            (
                node,
                copy_out(&grouping.remote_query(&selects, &plan.order)),
            )
        })
        .collect()
}

fn copy_out(query: &str) -> String {
    format!(
        "COPY ({query}) TO STDOUT (FORMAT binary, {})",
        crate::exec::row_batches::OPTION
    )
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin(node: *mut pg_sys::ForeignScanState, eflags: i32) {
    let explain_only = eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0;
    unsafe {
        let estate = (*node).ss.ps.state;
        let query_memory = (*estate).es_query_cxt;
        let relation = (*node).ss.ss_currentRelation;
        let scan = (*node).ss.ps.plan.cast::<pg_sys::ForeignScan>();
        let plan: ScanPlan = crate::plan::from_private((*scan).fdw_private);
        let hypertable = hypertable::require(pg_sys::Oid::from(plan.relid));
        // A grouped scan has no relation: its rows are its scan tuple's (the grouped target).
        let mut columns = if relation.is_null() {
            let slot = (*node).ss.ss_ScanTupleSlot;
            codec::columns((*slot).tts_tupleDescriptor, query_memory)
        } else {
            codec::columns((*relation).rd_att, query_memory)
        };
        if let (Some(wanted), None) = (&plan.columns, &plan.grouping) {
            columns.retain(|c| wanted.contains(&(c.index as i16 + 1)));
        }
        // Queries are made when the first row is wanted: only then do parameters set by an
        // outer query have values. EXPLAIN without ANALYZE shows them as planned.
        let runtime = (!explain_only).then(|| RuntimeValues::new(node, scan));
        let queries = if explain_only {
            plan_queries(&hypertable, &columns, &plan, false)
        } else {
            Vec::new()
        };
        let (receive_buffer, row_memory) = PgMemoryContexts::For(query_memory).switch_to(|_| {
            (
                pg_sys::makeStringInfo(),
                pg_sys::AllocSetContextCreateInternal(
                    query_memory,
                    c"hyperdist scan row".as_ptr(),
                    pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
                    pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
                    pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
                ),
            )
        });
        let merge = plan
            .order
            .iter()
            .map(|key| {
                // Planning only sorts by fetched columns; merging without one would be wrong.
                let column = columns
                    .iter()
                    .position(|c| c.index as i16 + 1 == key.attno)
                    .unwrap_or_else(|| {
                        Report::new(
                            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                            format!("sort key {} of the remote scan is not fetched", key.column),
                        )
                        .raise()
                    });
                let mut support: Box<pg_sys::SortSupportData> = Box::new(std::mem::zeroed());
                support.ssup_cxt = query_memory;
                support.ssup_collation = pg_sys::Oid::from(key.collation);
                support.ssup_nulls_first = key.nulls_first;
                pg_sys::PrepareSortSupportFromOrderingOp(
                    pg_sys::Oid::from(key.sortop),
                    &mut *support,
                );
                MergeKey { column, support }
            })
            .collect();
        let state = ScanState {
            merge,
            hypertable,
            plan,
            runtime,
            calls_recv: columns.iter().any(ColumnCodec::calls_recv),
            columns,
            streams: Vec::new(),
            launched: false,
            current: None,
            next_poll: 0,
            spans: FieldSpans::new(),
            receive_buffer,
            row_memory,
            query_memory,
            queries,
            stats: BTreeMap::new(),
            started: std::time::Instant::now(),
            key_memory: Vec::new(),
        };
        (*node).fdw_state = PgMemoryContexts::For(query_memory)
            .leak_and_drop_on_delete(state)
            .cast();
    }
}

impl ScanState {
    /// Sends every data node its query, all at once, so they work at the same time.
    fn launch(&mut self) {
        self.launched = true;
        self.started = std::time::Instant::now();
        if let Some(runtime) = &self.runtime {
            let plan = runtime.apply(&self.plan, &self.hypertable);
            self.queries = plan_queries(&self.hypertable, &self.columns, &plan, true);
        }
        let sessions: Vec<(String, Rc<NodeConnection>)> = self
            .queries
            .iter()
            .map(|(name, _)| {
                (
                    name.clone(),
                    txn::session(&node::get(name), txn::Access::Read),
                )
            })
            .collect();
        if guc::log_remote_commands() {
            for (name, sql) in &self.queries {
                pgrx::log!("[{name}]: {sql}");
            }
        }
        let started = join_all(
            sessions
                .iter()
                .zip(&self.queries)
                .map(|((_, session), (_, sql))| session.client().copy_out(sql.as_str())),
        );
        let results = match runtime::block_on(started) {
            Ok(results) => results,
            Err(_interrupted) => {
                sessions.iter().for_each(|(_, s)| s.cancel());
                runtime::raise_pending_interrupt();
            }
        };
        let mut failure = None;
        for (index, ((name, session), result)) in sessions.into_iter().zip(results).enumerate() {
            if self.key_memory.len() <= index {
                // SAFETY: a child of the query's memory, freed with it.
                self.key_memory.push(unsafe {
                    pg_sys::AllocSetContextCreateInternal(
                        self.query_memory,
                        c"hyperdist merge keys".as_ptr(),
                        pg_sys::ALLOCSET_SMALL_MINSIZE as usize,
                        pg_sys::ALLOCSET_SMALL_INITSIZE as usize,
                        pg_sys::ALLOCSET_SMALL_MAXSIZE as usize,
                    )
                });
            }
            match result {
                Ok(stream) => self.streams.push(NodeStream {
                    stream: {
                        let stream = SharedStream::new(stream);
                        session.streaming(&stream);
                        stream
                    },
                    name,
                    session,
                    reader: CopyReader::new(),
                    done: false,
                    rows: 0,
                    head: None,
                    keys: Vec::new(),
                    key_memory: self.key_memory[index],
                }),
                Err(err) => {
                    failure.get_or_insert(RemoteError::from_postgres(&name, err));
                }
            }
        }
        if let Some(err) = failure {
            err.raise();
        }
    }

    /// Waits for bytes from whichever unfinished data node sends first; `None` when all are done.
    fn receive(&mut self) -> Option<(usize, Batch)> {
        let count = self.streams.len();
        if self.streams.iter().all(|s| s.done) {
            return None;
        }
        let first = self.next_poll % count.max(1);
        let streams = &mut self.streams;
        let wait = std::future::poll_fn(|cx| {
            for step in 0..count {
                let i = (first + step) % count;
                let stream = &mut streams[i];
                if stream.done {
                    continue;
                }
                if let std::task::Poll::Ready(item) = stream.stream.poll_batch(cx, BATCH_BYTES) {
                    return std::task::Poll::Ready((i, item));
                }
            }
            std::task::Poll::Pending
        });
        match runtime::block_on(wait) {
            Ok((i, item)) => {
                self.next_poll = i + 1;
                Some((i, item))
            }
            Err(_interrupted) => self.interrupted(),
        }
    }

    /// A cancel or timeout came while waiting: the data nodes are told, then PostgreSQL raises it.
    fn interrupted(&self) -> ! {
        self.streams.iter().for_each(|s| s.session.cancel());
        runtime::raise_pending_interrupt()
    }

    /// Drops the streams (a rescan makes new ones), counting the rows unfinished ones gave.
    fn set_aside_streams(&mut self) {
        for stream in self.streams.drain(..) {
            self.stats.entry(stream.name).or_default().0 += stream.rows;
        }
    }

    /// Stream `i` has sent everything, which must end with a whole row.
    fn finish(&mut self, i: usize) {
        if let Err(err) = self.streams[i].reader.check_complete() {
            self.protocol_error(err.to_string());
        }
        let stream = &mut self.streams[i];
        stream.done = true;
        stream.head = None;
        let total = self.stats.entry(stream.name.clone()).or_default();
        total.0 += std::mem::take(&mut stream.rows);
        total.1 += self.started.elapsed();
    }

    /// Makes stream `i`'s next row its head, with its sort keys decoded; or marks it done.
    unsafe fn advance(&mut self, i: usize) {
        loop {
            let stream = &mut self.streams[i];
            let mut fields = stream.head.take().unwrap_or_default();
            match stream.reader.next_row(&mut fields) {
                Ok(true) => {
                    stream.head = Some(fields);
                    unsafe { self.decode_keys(i) };
                    return;
                }
                Ok(false) => stream.head = Some(fields),
                Err(err) => self.protocol_error(err.to_string()),
            }
            let source = self.streams[i].stream.clone();
            let item = match runtime::block_on(std::future::poll_fn(|cx| {
                source.poll_batch(cx, BATCH_BYTES)
            })) {
                Ok(item) => item,
                Err(_interrupted) => self.interrupted(),
            };
            let stream = &mut self.streams[i];
            match item {
                Some(Ok(pieces)) => stream.reader.feed(&pieces),
                Some(Err(err)) => RemoteError::from_postgres(&stream.name, err).raise(),
                None => {
                    self.finish(i);
                    return;
                }
            }
        }
    }

    unsafe fn decode_keys(&mut self, i: usize) {
        let stream = &mut self.streams[i];
        let fields = stream.head.as_ref().expect("a head row");
        let bytes = stream.reader.bytes();
        let buffer = self.receive_buffer;
        let mut memory = PgMemoryContexts::For(stream.key_memory);
        // SAFETY: the previous head's keys are no longer used.
        unsafe { memory.reset() };
        let _encoding = DatabaseEncoding::enter();
        let columns = &mut self.columns;
        stream.keys = self
            .merge
            .iter()
            .map(|key| match fields[key.column] {
                Some((start, end)) => (
                    // SAFETY: decoding in the stream's key memory, on the backend's thread.
                    unsafe {
                        memory
                            .switch_to(|_| columns[key.column].receive(&bytes[start..end], buffer))
                    },
                    false,
                ),
                None => (pg_sys::Datum::from(0), true),
            })
            .collect();
    }

    /// The next row of sorted streams: the smallest head.
    unsafe fn next_merged(&mut self, slot: *mut pg_sys::TupleTableSlot) -> bool {
        if !self.launched {
            self.launch();
            for i in 0..self.streams.len() {
                unsafe { self.advance(i) };
            }
        }
        let mut best: Option<usize> = None;
        for i in 0..self.streams.len() {
            if self.streams[i].head.is_none() {
                continue;
            }
            best = match best {
                Some(b) if self.head_order(b, i) != std::cmp::Ordering::Greater => Some(b),
                _ => Some(i),
            };
        }
        let Some(i) = best else {
            return false;
        };
        let fields = self.streams[i].head.take().expect("a head row");
        unsafe { self.store_fields(i, &fields, slot) };
        self.streams[i].head = Some(fields);
        self.streams[i].rows += 1;
        unsafe { self.advance(i) };
        true
    }

    fn head_order(&self, a: usize, b: usize) -> std::cmp::Ordering {
        for (k, key) in self.merge.iter().enumerate() {
            let order = key.compare(self.streams[a].keys[k], self.streams[b].keys[k]);
            if order != 0 {
                return order.cmp(&0);
            }
        }
        std::cmp::Ordering::Equal
    }

    /// Fills `slot` with the next row; false when every data node is done.
    unsafe fn next(&mut self, slot: *mut pg_sys::TupleTableSlot) -> bool {
        if !self.merge.is_empty() {
            return unsafe { self.next_merged(slot) };
        }
        if !self.launched {
            self.launch();
        }
        loop {
            if let Some(i) = self.current {
                match self.streams[i].reader.next_row(&mut self.spans) {
                    Ok(true) => {
                        unsafe { self.store(i, slot) };
                        self.streams[i].rows += 1;
                        return true;
                    }
                    Ok(false) => self.current = None,
                    Err(err) => self.protocol_error(err.to_string()),
                }
            }
            let (i, item) = match self.receive() {
                Some(received) => received,
                None => return false,
            };
            let stream = &mut self.streams[i];
            match item {
                Some(Ok(pieces)) => {
                    stream.reader.feed(&pieces);
                    self.current = Some(i);
                }
                Some(Err(err)) => RemoteError::from_postgres(&stream.name, err).raise(),
                None => self.finish(i),
            }
        }
    }

    fn protocol_error(&self, detail: String) -> ! {
        Report::new(
            PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
            "unexpected data from a data node",
        )
        .detail(detail)
        .raise()
    }

    unsafe fn store(&mut self, stream: usize, slot: *mut pg_sys::TupleTableSlot) {
        let fields = std::mem::take(&mut self.spans);
        unsafe { self.store_fields(stream, &fields, slot) };
        self.spans = fields;
    }

    unsafe fn store_fields(
        &mut self,
        stream: usize,
        fields: &FieldSpans,
        slot: *mut pg_sys::TupleTableSlot,
    ) {
        unsafe {
            pg_sys::ExecClearTuple(slot);
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            nulls.fill(true);
            let mut memory = PgMemoryContexts::For(self.row_memory);
            if !(*self.row_memory).isReset {
                memory.reset();
            }
            let bytes = self.streams[stream].reader.bytes();
            let buffer = self.receive_buffer;
            let _encoding = self.calls_recv.then(DatabaseEncoding::enter);
            memory.switch_to(|_| {
                for (column, span) in self.columns.iter_mut().zip(fields) {
                    if let Some((start, end)) = span {
                        values[column.index] = column.receive(&bytes[*start..*end], buffer);
                        nulls[column.index] = false;
                    }
                }
            });
            pg_sys::ExecStoreVirtualTuple(slot);
        }
    }
}

unsafe fn state<'a>(node: *mut pg_sys::ForeignScanState) -> Option<&'a mut ScanState> {
    unsafe { (*node).fdw_state.cast::<ScanState>().as_mut() }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn iterate(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    unsafe {
        let slot = (*node).ss.ss_ScanTupleSlot;
        match state(node) {
            Some(state) => {
                if state.next(slot) {
                    slot
                } else {
                    pg_sys::ExecClearTuple(slot)
                }
            }
            None => pg_sys::ExecClearTuple(slot),
        }
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn rescan(node: *mut pg_sys::ForeignScanState) {
    if let Some(state) = unsafe { state(node) } {
        state.set_aside_streams();
        state.current = None;
        // The queries are made again: parameters from an outer query may have changed.
        state.launched = false;
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end(node: *mut pg_sys::ForeignScanState) {
    // The state is dropped with the query's memory; stop reading now.
    if let Some(state) = unsafe { state(node) } {
        state.streams.clear();
        state.current = None;
    }
}

/// Adds `label: value` to the EXPLAIN output being built.
pub fn explain_property(es: *mut pg_sys::ExplainState, label: &str, value: &str) {
    let label = std::ffi::CString::new(label).unwrap_or_default();
    let value = std::ffi::CString::new(value).unwrap_or_default();
    // SAFETY: `es` is the ExplainState of the EXPLAIN running now.
    unsafe { pg_sys::ExplainPropertyText(label.as_ptr(), value.as_ptr(), es) };
}

/// EXPLAIN: per data node, how many chunks it reads; with VERBOSE the exact remote SQL; with
/// ANALYZE the rows it returned and the time its query took.
#[pg_guard]
pub unsafe extern "C-unwind" fn explain(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    let Some(state) = (unsafe { state(node) }) else {
        return;
    };
    let (verbose, analyze) = unsafe { ((*es).verbose, (*es).analyze) };
    if !state.launched && state.queries.is_empty() {
        // EXPLAIN ANALYZE of a scan that never ran: show it as planned.
        state.queries = plan_queries(&state.hypertable, &state.columns, &state.plan, false);
    }
    let property = |label: String, value: String| explain_property(es, &label, &value);
    if state.queries.is_empty() {
        property("Data nodes".into(), "none (no chunk can match)".into());
    }
    match state.plan.grouping.as_ref().map(|g| g.partial) {
        Some(false) => property(
            "Aggregation".into(),
            "on the data nodes (whole groups)".into(),
        ),
        Some(true) => property(
            "Aggregation".into(),
            "partial states from the data nodes".into(),
        ),
        None => {}
    }
    for (name, sql) in &state.queries {
        let chunks = sql.matches(" FROM ONLY ").count();
        let mut summary = format!("{chunks} chunk{}", if chunks == 1 { "" } else { "s" });
        if analyze {
            let (finished_rows, time) = state.stats.get(name).copied().unwrap_or_default();
            // A finished stream's rows are in `stats` already (its own count is back to 0).
            let mut streams = state.streams.iter().filter(|s| &s.name == name);
            let rows = finished_rows + streams.clone().map(|s| s.rows).sum::<u64>();
            if streams.any(|s| !s.done) {
                // A LIMIT above stopped reading: the remote query never finished.
                summary.push_str(&format!(", {rows} rows read before the scan stopped"));
            } else {
                summary.push_str(&format!(
                    ", {rows} rows in {:.3} ms",
                    time.as_secs_f64() * 1000.0
                ));
            }
        }
        property(format!("Data node {name}"), summary);
        if verbose {
            property(format!("Remote SQL {name}"), sql.clone());
        }
    }
}
