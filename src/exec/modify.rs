//! Running an UPDATE or DELETE on the data nodes (planned by `plan::modify`): each chunk that can
//! hold matching rows gets `UPDATE ONLY chunk SET ... WHERE ...` or `DELETE FROM ONLY chunk WHERE
//! ...` on every replica, inside the distributed transaction, all data nodes at once. The row
//! count is the sum over chunks of one replica's count.

use std::collections::BTreeMap;
use std::rc::Rc;

use futures_util::future::join_all;
use pgrx::prelude::*;
use pgrx::{PgMemoryContexts, pg_sys};

use crate::catalog::hypertable::{self, Hypertable};
use crate::ddl::chunk;
use crate::exec::runtime_values::RuntimeValues;
use crate::exec::scan::explain_property;
use crate::guc;
use crate::node;
use crate::plan::ScanPlan;
use crate::remote::{NodeConnection, RemoteError, runtime};
use crate::txn;

/// One chunk replica's statement.
struct Statement {
    sql: String,
    /// Whether its row count is the chunk's (one replica per chunk counts).
    counted: bool,
}

struct ModifyState {
    hypertable: Hypertable,
    plan: ScanPlan,
    runtime: Option<RuntimeValues>,
    /// Per data node, its statements.
    statements: Vec<(String, Vec<Statement>)>,
    done: bool,
}

/// The statements of each data node: every replica of every chunk that can hold matching rows.
fn statements(hypertable: &Hypertable, plan: &ScanPlan) -> Vec<(String, Vec<Statement>)> {
    let modify = plan.modify.as_ref().expect("a direct modify plan");
    let filter = plan
        .shipped_filter
        .as_ref()
        .map(|sql| format!(" WHERE {sql}"))
        .unwrap_or_default();
    let mut per_node: BTreeMap<String, Vec<Statement>> = BTreeMap::new();
    for mut chunk in plan.chunks_to_read(hypertable) {
        chunk::drop_unavailable_replicas(hypertable, &mut chunk);
        let sql = if modify.set.is_empty() {
            format!("DELETE FROM ONLY {}{filter}", chunk.qualified_name)
        } else {
            format!(
                "UPDATE ONLY {} SET {}{filter}",
                chunk.qualified_name,
                modify.set.join(", ")
            )
        };
        for (replica, name) in chunk.data_nodes.iter().enumerate() {
            per_node.entry(name.clone()).or_default().push(Statement {
                sql: sql.clone(),
                counted: replica == 0,
            });
        }
    }
    per_node.into_iter().collect()
}

/// Runs every data node's statements (the nodes at once); returns the rows affected.
fn run(statements: &[(String, Vec<Statement>)]) -> u64 {
    let sessions: Vec<Rc<NodeConnection>> = statements
        .iter()
        .map(|(name, _)| txn::session(&node::get(name), txn::Access::Write))
        .collect();
    if guc::log_remote_commands() {
        for (name, list) in statements {
            for statement in list {
                pgrx::log!("[{name}]: {}", statement.sql);
            }
        }
    }
    let work = statements
        .iter()
        .zip(&sessions)
        .map(|((name, list), session)| async move {
            let mut counted = 0;
            for statement in list {
                let rows = session
                    .client()
                    .execute(statement.sql.as_str(), &[])
                    .await
                    .map_err(|e| RemoteError::from_postgres(name, e))?;
                if statement.counted {
                    counted += rows;
                }
            }
            Ok::<u64, RemoteError>(counted)
        });
    let results = match runtime::block_on(join_all(work)) {
        Ok(results) => results,
        Err(_interrupted) => {
            sessions.iter().for_each(|s| s.cancel());
            runtime::raise_pending_interrupt()
        }
    };
    let mut total = 0;
    for result in results {
        total += result.unwrap_or_else(|e| e.raise());
    }
    total
}

unsafe fn state<'a>(node: *mut pg_sys::ForeignScanState) -> Option<&'a mut ModifyState> {
    unsafe { (*node).fdw_state.cast::<ModifyState>().as_mut() }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn begin(node: *mut pg_sys::ForeignScanState, eflags: i32) {
    let explain_only = eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 != 0;
    unsafe {
        let scan = (*node).ss.ps.plan.cast::<pg_sys::ForeignScan>();
        let plan: ScanPlan = crate::plan::from_private((*scan).fdw_private);
        let hypertable = hypertable::require(pg_sys::Oid::from(plan.relid));
        let statements = if explain_only {
            statements(&hypertable, &plan)
        } else {
            Vec::new()
        };
        let state = ModifyState {
            runtime: (!explain_only).then(|| RuntimeValues::new(node, scan)),
            hypertable,
            plan,
            statements,
            done: false,
        };
        let query_memory = (*(*node).ss.ps.state).es_query_cxt;
        (*node).fdw_state = PgMemoryContexts::For(query_memory)
            .leak_and_drop_on_delete(state)
            .cast();
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn iterate(
    node: *mut pg_sys::ForeignScanState,
) -> *mut pg_sys::TupleTableSlot {
    unsafe {
        let slot = (*node).ss.ss_ScanTupleSlot;
        if let Some(state) = state(node)
            && !state.done
        {
            state.done = true;
            if let Some(runtime) = &state.runtime {
                let plan = runtime.apply(&state.plan, &state.hypertable);
                state.statements = statements(&state.hypertable, &plan);
            }
            let rows = run(&state.statements);
            (*(*node).ss.ps.state).es_processed += rows;
        }
        pg_sys::ExecClearTuple(slot)
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn end(_node: *mut pg_sys::ForeignScanState) {}

/// EXPLAIN: per data node, how many chunk replicas it changes; with VERBOSE, the statements.
#[pg_guard]
pub unsafe extern "C-unwind" fn explain(
    node: *mut pg_sys::ForeignScanState,
    es: *mut pg_sys::ExplainState,
) {
    let Some(state) = (unsafe { state(node) }) else {
        return;
    };
    let verbose = unsafe { (*es).verbose };
    if state.statements.is_empty() {
        explain_property(es, "Data nodes", "none (no chunk can match)");
    }
    for (name, list) in &state.statements {
        let chunks = list.len();
        explain_property(
            es,
            &format!("Data node {name}"),
            &format!("{chunks} chunk{}", if chunks == 1 { "" } else { "s" }),
        );
        if verbose {
            let sql: Vec<&str> = list.iter().map(|s| s.sql.as_str()).collect();
            explain_property(es, &format!("Remote SQL {name}"), &sql.join("; "));
        }
    }
}
