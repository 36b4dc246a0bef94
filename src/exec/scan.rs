//! The basic read path: every chunk of the hypertable, read from one available replica, one
//! remote query per data node (`COPY (SELECT ... UNION ALL ...) TO STDOUT (FORMAT binary)`),
//! decoded with the types' `recv` functions. WHERE clauses are applied on the access node.
//! Chunk exclusion and push-down come with the query planner work.

use futures_util::StreamExt;
use hyperdist_core::copy_binary::{CopyReader, FieldSpans};
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, PgSqlErrorCode, pg_sys};
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::catalog::hypertable;
use crate::ddl::chunk;
use crate::error::Report;
use crate::guc;
use crate::node;
use crate::plan::{ScanPlan, analyze};
use crate::quote;
use crate::remote::codec::{self, ColumnCodec, DatabaseEncoding};
use crate::remote::{NodeConnection, RemoteError, runtime};
use crate::txn;
use hyperdist_core::partition::Range;

/// Rows the planner assumes a hypertable has until statistics say otherwise.
const DEFAULT_ROWS: f64 = 1000.0;

#[pg_guard]
pub unsafe extern "C-unwind" fn get_rel_size(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _relid: pg_sys::Oid,
) {
    unsafe { (*baserel).rows = DEFAULT_ROWS };
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _relid: pg_sys::Oid,
) {
    unsafe {
        let rows = (*baserel).rows;
        let path = pg_sys::create_foreignscan_path(
            root,
            baserel,
            std::ptr::null_mut(),
            rows,
            100.0,
            100.0 + rows,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        pg_sys::add_path(baserel, path.cast());
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_plan(
    _root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
    _best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    scan_clauses: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    unsafe {
        let hypertable = hypertable::require(relid);
        let attnum_of = |name: &str| {
            let name = std::ffi::CString::new(name).ok()?;
            let attno = pg_sys::get_attnum(relid, name.as_ptr());
            (attno > 0).then_some(attno)
        };
        let mut runtime_exprs = Vec::new();
        let plan = crate::ddl::with_qualified_names(|| {
            analyze::plan(baserel, relid, &hypertable, attnum_of, &mut runtime_exprs)
        });
        let fdw_exprs = runtime_exprs
            .into_iter()
            .fold(std::ptr::null_mut(), |list, expr| {
                pg_sys::lappend(list, expr.cast())
            });
        let json =
            std::ffi::CString::new(serde_json::to_string(&plan).expect("a scan plan serializes"))
                .expect("JSON has no NUL");
        let private = pg_sys::lappend(
            std::ptr::null_mut(),
            pg_sys::makeString(pg_sys::pstrdup(json.as_ptr())).cast(),
        );
        // Every clause is also checked here: a shipped one only saves work, never changes results.
        let local_quals = pg_sys::extract_actual_clauses(scan_clauses, false);
        pg_sys::make_foreignscan(
            tlist,
            local_quals,
            (*baserel).relid,
            fdw_exprs,
            private,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            outer_plan,
        )
    }
}

/// Narrows the time bounds by the comparisons whose values are known only now (`now()`,
/// parameters).
unsafe fn bound_time_at_start(
    node: *mut pg_sys::ForeignScanState,
    scan: *mut pg_sys::ForeignScan,
    plan: &mut ScanPlan,
) {
    if plan.runtime_time_bounds.is_empty() {
        return;
    }
    unsafe {
        let hypertable = hypertable::require((*(*node).ss.ss_currentRelation).rd_id);
        let states = pgrx::PgList::<pg_sys::ExprState>::from_pg(pg_sys::ExecInitExprList(
            (*scan).fdw_exprs,
            node.cast(),
        ));
        let context = (*node).ss.ps.ps_ExprContext;
        for (op, index) in std::mem::take(&mut plan.runtime_time_bounds) {
            let Some(state) = states.get_ptr(index) else {
                continue;
            };
            let mut is_null = false;
            let value = pg_sys::ExecEvalExpr(state, context, &mut is_null);
            if is_null {
                plan.exclude_everything();
            } else {
                plan.narrow_time(&op, analyze::internal_time(value, &hypertable));
            }
        }
    }
}

/// The plan's analysis, from `fdw_private`.
unsafe fn scan_plan(private: *mut pg_sys::List) -> ScanPlan {
    unsafe {
        let list = pgrx::PgList::<pg_sys::Node>::from_pg(private);
        let text = list
            .get_ptr(0)
            .map(|node| {
                std::ffi::CStr::from_ptr((*node.cast::<pg_sys::String>()).sval)
                    .to_string_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_default()
    }
}

struct ScanState {
    columns: Vec<ColumnCodec>,
    /// Remote queries not started yet: (data node, SQL).
    pending: Vec<(String, String)>,
    current: Option<(
        String,
        Rc<NodeConnection>,
        std::pin::Pin<Box<tokio_postgres::CopyOutStream>>,
    )>,
    reader: CopyReader,
    spans: FieldSpans,
    receive_buffer: pg_sys::StringInfo,
    row_memory: pg_sys::MemoryContext,
    /// Every remote query, for a rescan and EXPLAIN.
    queries: Vec<(String, String)>,
    /// Rows and time per data node, for EXPLAIN ANALYZE.
    stats: BTreeMap<String, (u64, std::time::Duration)>,
    started: std::time::Instant,
}

/// The remote query of each data node. With `probe`, each chunk is read from its first replica
/// that can be reached now; without (EXPLAIN), from its first available replica.
fn plan_queries(
    relid: pg_sys::Oid,
    columns: &[ColumnCodec],
    plan: &ScanPlan,
    probe: bool,
) -> Vec<(String, String)> {
    let hypertable = hypertable::require(relid);
    let available: Vec<String> = node::all()
        .into_iter()
        .filter(|n| n.available)
        .map(|n| n.name)
        .collect();
    let select_list = if columns.is_empty() {
        String::new()
    } else {
        columns
            .iter()
            .map(|c| quote::ident(&c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Whether each data node can be reached (its session in this transaction opened), asked once.
    let mut reachable: BTreeMap<String, Result<(), RemoteError>> = BTreeMap::new();
    let mut per_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let time = Range::new(
        plan.time_lower.unwrap_or(i64::MIN),
        plan.time_upper.unwrap_or(i64::MAX),
    );
    let filter = plan
        .shipped_filter
        .as_ref()
        .map(|sql| format!(" WHERE {sql}"))
        .unwrap_or_default();
    if time.start >= time.end {
        return Vec::new();
    }
    for chunk in chunk::all(&hypertable) {
        if !chunk.time.overlaps(&time) || plan.space_hash.is_some_and(|h| !chunk.space.contains(h))
        {
            continue;
        }
        let candidates: Vec<&String> = chunk
            .data_nodes
            .iter()
            .filter(|n| available.contains(n))
            .collect();
        if candidates.is_empty() {
            let node = chunk.data_nodes.first().cloned().unwrap_or_default();
            Report::new(
                PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
                format!("data node \"{node}\" is not available"),
            )
            .detail(format!(
                "Chunk {} has no replica on an available data node.",
                chunk.qualified_name
            ))
            .hint(
                "Mark the data node available again with alter_data_node(..., available => true).",
            )
            .raise();
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
        per_node.entry(replica).or_default().push(format!(
            "SELECT {select_list} FROM ONLY {}{filter}",
            chunk.qualified_name
        ));
    }
    per_node
        .into_iter()
        .map(|(node, selects)| {
            let sql = format!(
                "COPY ({}) TO STDOUT (FORMAT binary)",
                selects.join(" UNION ALL ")
            );
            (node, sql)
        })
        .collect()
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin(node: *mut pg_sys::ForeignScanState, eflags: i32) {
    let explain_only = eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0;
    unsafe {
        let estate = (*node).ss.ps.state;
        let query_memory = (*estate).es_query_cxt;
        let relation = (*node).ss.ss_currentRelation;
        let scan = (*node).ss.ps.plan.cast::<pg_sys::ForeignScan>();
        let mut plan = scan_plan((*scan).fdw_private);
        if !explain_only {
            bound_time_at_start(node, scan, &mut plan);
        }
        let mut columns = codec::columns((*relation).rd_att, query_memory);
        if let Some(wanted) = &plan.columns {
            columns.retain(|c| wanted.contains(&(c.index as i16 + 1)));
        }
        let queries = plan_queries((*relation).rd_id, &columns, &plan, !explain_only);
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
        let state = ScanState {
            columns,
            pending: queries.iter().rev().cloned().collect(),
            current: None,
            reader: CopyReader::new(),
            spans: FieldSpans::new(),
            receive_buffer,
            row_memory,
            queries,
            stats: BTreeMap::new(),
            started: std::time::Instant::now(),
        };
        (*node).fdw_state = PgMemoryContexts::For(query_memory)
            .leak_and_drop_on_delete(state)
            .cast();
    }
}

impl ScanState {
    /// Fills `slot` with the next row; false when every data node is done.
    unsafe fn next(&mut self, slot: *mut pg_sys::TupleTableSlot) -> bool {
        loop {
            match self.reader.next_row(&mut self.spans) {
                Ok(true) => {
                    unsafe { self.store(slot) };
                    if let Some((name, _, _)) = &self.current {
                        self.stats.entry(name.clone()).or_default().0 += 1;
                    }
                    return true;
                }
                Ok(false) => {}
                Err(err) => self.protocol_error(err.to_string()),
            }
            if let Some((name, session, stream)) = &mut self.current {
                match runtime::block_on(stream.next()) {
                    Ok(Some(Ok(bytes))) => {
                        self.reader.feed(&bytes);
                        continue;
                    }
                    Ok(Some(Err(err))) => RemoteError::from_postgres(name, err).raise(),
                    Ok(None) => {
                        if let Err(err) = self.reader.check_complete() {
                            self.protocol_error(err.to_string());
                        }
                        self.stats.entry(name.clone()).or_default().1 += self.started.elapsed();
                        self.current = None;
                        self.reader = CopyReader::new();
                        continue;
                    }
                    Err(_interrupted) => {
                        session.cancel();
                        runtime::raise_pending_interrupt();
                    }
                }
            }
            let Some((name, sql)) = self.pending.pop() else {
                return false;
            };
            let session = txn::session(&node::get(&name), txn::Access::Read);
            if guc::log_remote_commands() {
                pgrx::log!("[{name}]: {sql}");
            }
            let stream = match runtime::block_on(session.client().copy_out(&sql)) {
                Ok(Ok(stream)) => stream,
                Ok(Err(err)) => RemoteError::from_postgres(&name, err).raise(),
                Err(_interrupted) => {
                    session.cancel();
                    runtime::raise_pending_interrupt();
                }
            };
            self.started = std::time::Instant::now();
            self.current = Some((name, session, Box::pin(stream)));
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

    unsafe fn store(&mut self, slot: *mut pg_sys::TupleTableSlot) {
        unsafe {
            pg_sys::ExecClearTuple(slot);
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let values = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            nulls.fill(true);
            let mut memory = PgMemoryContexts::For(self.row_memory);
            memory.reset();
            let bytes = self.reader.bytes();
            let buffer = self.receive_buffer;
            let _encoding = DatabaseEncoding::enter();
            memory.switch_to(|_| {
                for (column, span) in self.columns.iter_mut().zip(&self.spans) {
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
        state.current = None;
        state.reader = CopyReader::new();
        state.pending = state.queries.iter().rev().cloned().collect();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end(node: *mut pg_sys::ForeignScanState) {
    // The state is dropped with the query's memory; stop reading now.
    if let Some(state) = unsafe { state(node) } {
        state.current = None;
        state.pending.clear();
    }
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
    let property = |label: String, value: String| {
        let label = std::ffi::CString::new(label).unwrap_or_default();
        let value = std::ffi::CString::new(value).unwrap_or_default();
        // SAFETY: adds a property to the EXPLAIN output being built.
        unsafe { pg_sys::ExplainPropertyText(label.as_ptr(), value.as_ptr(), es) };
    };
    if state.queries.is_empty() {
        property("Data nodes".into(), "none (no chunk can match)".into());
    }
    for (name, sql) in &state.queries {
        let chunks = sql.matches(" FROM ONLY ").count();
        let mut summary = format!("{chunks} chunk{}", if chunks == 1 { "" } else { "s" });
        if analyze {
            let (rows, time) = state.stats.get(name).copied().unwrap_or_default();
            summary.push_str(&format!(
                ", {rows} rows in {:.3} ms",
                time.as_secs_f64() * 1000.0
            ));
        }
        property(format!("Data node {name}"), summary);
        if verbose {
            property(format!("Remote SQL {name}"), sql.clone());
        }
    }
}
