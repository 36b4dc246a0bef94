//! The `hyperdist_fdw` foreign-data wrapper: data nodes are its foreign servers, distributed
//! hypertables its foreign tables.
//!
//! The handler wires PostgreSQL's FDW callbacks to the planner, executor and ingest modules. Until a
//! foreign table is backed by a distributed hypertable, planning one fails with a clear error (a
//! missing callback would crash the backend).

use hyperdist_core::fdw_options::{self, OptionTarget};
use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::prelude::*;
use pgrx::{PgBox, PgSqlErrorCode};

use crate::error::{self, Report};

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
        routine.GetForeignRelSize = Some(reject_plain_foreign_table);
        routine.GetForeignPaths = Some(reject_plain_foreign_table);
        routine.GetForeignPlan = Some(reject_plain_foreign_table_plan);
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

#[pg_guard]
unsafe extern "C-unwind" fn reject_plain_foreign_table(
    _root: *mut pg_sys::PlannerInfo,
    _baserel: *mut pg_sys::RelOptInfo,
    foreign_table: pg_sys::Oid,
) {
    let name = unsafe { pg_sys::get_rel_name(foreign_table) };
    let name = if name.is_null() {
        format!("{foreign_table:?}")
    } else {
        unsafe { std::ffi::CStr::from_ptr(name) }
            .to_string_lossy()
            .into_owned()
    };
    Report::new(
        PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
        format!("foreign table \"{name}\" is not a distributed hypertable"),
    )
    .hint(
        "Foreign tables of hyperdist_fdw are made by create_distributed_hypertable(); \
         use postgres_fdw for a plain remote table.",
    )
    .raise()
}

#[pg_guard]
unsafe extern "C-unwind" fn reject_plain_foreign_table_plan(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    foreign_table: pg_sys::Oid,
    _best_path: *mut pg_sys::ForeignPath,
    _tlist: *mut pg_sys::List,
    _scan_clauses: *mut pg_sys::List,
    _outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    unsafe { reject_plain_foreign_table(root, baserel, foreign_table) };
    std::ptr::null_mut()
}

pgrx::extension_sql!(
    r#"
CREATE FOREIGN DATA WRAPPER hyperdist_fdw
    HANDLER _hyperdist_internal.hyperdist_fdw_handler
    VALIDATOR _hyperdist_internal.hyperdist_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER hyperdist_fdw IS 'hyperdist data nodes (servers) and distributed hypertables (tables)';
"#,
    name = "hyperdist_fdw",
    requires = [
        _hyperdist_internal::hyperdist_fdw_handler,
        _hyperdist_internal::hyperdist_fdw_validator
    ],
);
