//! The `hyperdist_fdw` foreign-data wrapper: data nodes are its foreign servers, distributed
//! hypertables its foreign tables.
//!
//! The handler wires PostgreSQL's FDW callbacks to the scan (`exec/`) and insert (`ingest/`)
//! modules. A foreign table of this wrapper that is not a distributed hypertable fails at planning
//! with a clear error.

use hyperdist_core::fdw_options::{self, OptionTarget};
use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::prelude::*;
use pgrx::{PgBox, PgSqlErrorCode};

use crate::catalog::hypertable;
use crate::error::{self, Report};
use crate::exec::{modify, scan};
use crate::ingest::{self, InsertState};
use crate::plan::paths;

/// The `fdw_handler` pseudo-type: a palloc'd `FdwRoutine` node handed to PostgreSQL.
pub struct FdwHandler(PgBox<pg_sys::FdwRoutine, pgrx::AllocatedByRust>);

// SAFETY: the datum is a pointer to a palloc'd FdwRoutine node, which is what `fdw_handler` means.
unsafe impl BoxRet for FdwHandler {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0.into_pg())) }
    }
}

pgrx::pgrx_sql_entity_graph::impl_sql_translatable!(FdwHandler, "fdw_handler");

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    #[pg_extern]
    fn hyperdist_fdw_handler() -> FdwHandler {
        // SAFETY: allocates a zeroed node in the current memory context, as makeNode() does.
        let mut routine =
            unsafe { PgBox::<pg_sys::FdwRoutine>::alloc_node(pg_sys::NodeTag::T_FdwRoutine) };
        routine.GetForeignRelSize = Some(get_rel_size);
        routine.GetForeignPaths = Some(paths::get_paths);
        routine.GetForeignPlan = Some(paths::get_plan);
        routine.GetForeignUpperPaths = Some(upper_paths);
        routine.BeginForeignScan = Some(scan::begin);
        routine.IterateForeignScan = Some(scan::iterate);
        routine.ReScanForeignScan = Some(scan::rescan);
        routine.EndForeignScan = Some(scan::end);
        routine.ExplainForeignScan = Some(scan::explain);
        routine.ExecForeignTruncate = Some(crate::ddl::drop::truncate);
        routine.AnalyzeForeignTable = Some(crate::exec::sample::analyze_foreign_table);
        // Only direct modification is supported; PostgreSQL requires these to call UPDATE
        // and DELETE possible at all, and they are reached only if planning let a row-by-row
        // statement through, which it does not.
        routine.ExecForeignUpdate = Some(exec_row_modify);
        routine.ExecForeignDelete = Some(exec_row_modify);
        routine.PlanDirectModify = Some(plan_direct_modify);
        routine.BeginDirectModify = Some(modify::begin);
        routine.IterateDirectModify = Some(modify::iterate);
        routine.EndDirectModify = Some(modify::end);
        routine.ExplainDirectModify = Some(modify::explain);
        routine.PlanForeignModify = Some(plan_modify);
        routine.BeginForeignModify = Some(begin_modify);
        routine.ExecForeignInsert = Some(exec_insert);
        routine.EndForeignModify = Some(end_insert);
        routine.BeginForeignInsert = Some(begin_insert);
        routine.EndForeignInsert = Some(end_insert);
        FdwHandler(routine)
    }

    /// Checks the options of a `hyperdist_fdw` wrapper, server, user mapping or foreign table.
    #[pg_extern]
    fn hyperdist_fdw_validator(options: Vec<String>, catalog: pg_sys::Oid) {
        let target = match catalog {
            pg_sys::ForeignDataWrapperRelationId => OptionTarget::Wrapper,
            pg_sys::ForeignServerRelationId => OptionTarget::Server,
            pg_sys::UserMappingRelationId => OptionTarget::UserMapping,
            pg_sys::ForeignTableRelationId => OptionTarget::ForeignTable,
            // Column options, and any catalog PostgreSQL may add later: we define none.
            _ => OptionTarget::Wrapper,
        };
        if let Err(err) = fdw_options::validate_entries(target, options.iter().map(String::as_str))
        {
            error::invalid_option(&err);
        }
    }
}

/// Planning starts here: a foreign table of hyperdist_fdw that is not a distributed hypertable
/// (made by hand) is refused before anything else looks at it.
#[pg_guard]
unsafe extern "C-unwind" fn get_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) {
    hypertable::require(relid);
    unsafe { paths::get_rel_size(root, baserel, relid) }
}

#[pg_guard]
unsafe extern "C-unwind" fn upper_paths(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut std::ffi::c_void,
) {
    if !crate::guc::enable_aggregate_pushdown() {
        return;
    }
    match stage {
        pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG => unsafe {
            crate::plan::grouping::upper_paths(root, input_rel, output_rel, extra)
        },
        pg_sys::UpperRelationKind::UPPERREL_DISTINCT => unsafe {
            crate::plan::distinct::distinct_paths(root, input_rel, output_rel)
        },
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn exec_row_modify(
    _estate: *mut pg_sys::EState,
    _rinfo: *mut pg_sys::ResultRelInfo,
    _slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    crate::plan::modify::refuse(pg_sys::CmdType::CMD_UPDATE)
}

#[pg_guard]
unsafe extern "C-unwind" fn plan_direct_modify(
    root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    result_relation: pg_sys::Index,
    _subplan_index: i32,
) -> bool {
    unsafe { crate::plan::modify::plan(root, plan, result_relation) }
}

#[pg_guard]
unsafe extern "C-unwind" fn plan_modify(
    _root: *mut pg_sys::PlannerInfo,
    plan: *mut pg_sys::ModifyTable,
    _result_relation: pg_sys::Index,
    _subplan_index: i32,
) -> *mut pg_sys::List {
    let (operation, on_conflict) = unsafe { ((*plan).operation, (*plan).onConflictAction) };
    if operation != pg_sys::CmdType::CMD_INSERT {
        crate::plan::modify::refuse(operation);
    }
    if on_conflict != pg_sys::OnConflictAction::ONCONFLICT_NONE {
        Report::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "ON CONFLICT is not supported on distributed hypertables yet",
        )
        .raise();
    }
    std::ptr::null_mut()
}

#[pg_guard]
unsafe extern "C-unwind" fn begin_modify(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
    _fdw_private: *mut pg_sys::List,
    _subplan_index: i32,
    eflags: i32,
) {
    if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as i32 == 0 {
        unsafe { begin_insert(mtstate, rinfo) }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn begin_insert(
    mtstate: *mut pg_sys::ModifyTableState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    unsafe {
        let query_memory = (*(*mtstate).ps.state).es_query_cxt;
        let state = ingest::begin((*rinfo).ri_RelationDesc, query_memory);
        (*rinfo).ri_FdwState = state.cast();
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn exec_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    _plan_slot: *mut pg_sys::TupleTableSlot,
) -> *mut pg_sys::TupleTableSlot {
    unsafe {
        let state = (*rinfo).ri_FdwState.cast::<InsertState>();
        (*state).insert(slot);
    }
    slot
}

#[pg_guard]
unsafe extern "C-unwind" fn end_insert(
    _estate: *mut pg_sys::EState,
    rinfo: *mut pg_sys::ResultRelInfo,
) {
    unsafe {
        if let Some(state) = (*rinfo).ri_FdwState.cast::<InsertState>().as_mut() {
            state.flush();
        }
    }
}

pgrx::extension_sql!(
    r#"
CREATE FOREIGN DATA WRAPPER hyperdist_fdw
    HANDLER _hyperdist_internal.hyperdist_fdw_handler
    VALIDATOR _hyperdist_internal.hyperdist_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER hyperdist_fdw IS 'hyperdist data nodes (servers) and distributed hypertables (tables)';
-- Every distributed hypertable is a foreign table of this server; it is not a data node (a foreign
-- table needs a server, and tying hypertables to one data node would stop that node's removal).
CREATE SERVER _hyperdist_distributed FOREIGN DATA WRAPPER hyperdist_fdw;
COMMENT ON SERVER _hyperdist_distributed IS 'the server of all distributed hypertables; not a data node';
"#,
    name = "hyperdist_fdw",
    requires = [
        _hyperdist_internal::hyperdist_fdw_handler,
        _hyperdist_internal::hyperdist_fdw_validator
    ],
);
