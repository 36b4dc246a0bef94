//! UPDATE and DELETE on a distributed hypertable, run by the data nodes ("direct modify"): when
//! every WHERE clause and every new value can be evaluated there, the ForeignScan below the
//! statement becomes the statement itself (`exec::modify` runs it). Changing the time or space
//! column would move rows between chunks and is refused; RETURNING and conditions the data nodes
//! cannot evaluate are refused with an error that says so.

use pgrx::{PgList, PgSqlErrorCode, pg_sys};

use crate::catalog::hypertable::{self, Hypertable};
use crate::error::Report;
use crate::plan::Modify;
use crate::plan::analyze::{deparse, shippable};

/// `PlanDirectModify`: turns the ForeignScan below an UPDATE or DELETE into the statement itself
/// when the data nodes can run it.
///
/// # Safety
/// Called by the planner with its own structures.
pub unsafe fn plan(
    root: *mut pg_sys::PlannerInfo,
    modify_table: *mut pg_sys::ModifyTable,
    result_relation: pg_sys::Index,
) -> bool {
    unsafe {
        let operation = (*modify_table).operation;
        if operation != pg_sys::CmdType::CMD_UPDATE && operation != pg_sys::CmdType::CMD_DELETE {
            return false;
        }
        if !(*modify_table).returningLists.is_null() {
            return false;
        }
        let below = (*modify_table).plan.lefttree;
        if below.is_null() || (*below).type_ != pg_sys::NodeTag::T_ForeignScan {
            return false;
        }
        let scan = below.cast::<pg_sys::ForeignScan>();
        if (*scan).scan.scanrelid != result_relation {
            return false;
        }
        let mut plan: crate::plan::ScanPlan = crate::plan::from_private((*scan).fdw_private);
        if !plan.all_shipped || plan.grouping.is_some() {
            return false;
        }
        let relid = pg_sys::Oid::from(plan.relid);
        let hypertable = hypertable::require(relid);
        let set = if operation == pg_sys::CmdType::CMD_UPDATE {
            let Some(set) = crate::ddl::with_qualified_names(|| {
                assignments(root, result_relation, relid, &hypertable)
            }) else {
                return false;
            };
            set
        } else {
            Vec::new()
        };
        plan.modify = Some(Modify { set });
        (*scan).operation = operation;
        (*scan).resultRelation = result_relation;
        (*scan).fdw_private = crate::plan::to_private(&plan);
        (*scan).scan.plan.qual = std::ptr::null_mut();
        true
    }
}

/// The UPDATE's `column = expression` items, if every expression ships.
unsafe fn assignments(
    root: *mut pg_sys::PlannerInfo,
    result_relation: pg_sys::Index,
    relid: pg_sys::Oid,
    hypertable: &Hypertable,
) -> Option<Vec<String>> {
    unsafe {
        let targets = PgList::<pg_sys::TargetEntry>::from_pg((*root).processed_tlist);
        let columns = (*root).update_colnos;
        let count = if columns.is_null() {
            0
        } else {
            (*columns).length as usize
        };
        let partitioning = [
            Some(hypertable.time.column.as_str()),
            hypertable.space.as_ref().map(|s| s.column.as_str()),
        ];
        let mut set = Vec::new();
        for i in 0..count {
            let attno = (*(*columns).elements.add(i)).int_value as i16;
            let target = targets.get_ptr(i)?;
            let name = std::ffi::CStr::from_ptr(pg_sys::get_attname(relid, attno, false))
                .to_string_lossy()
                .into_owned();
            if partitioning.contains(&Some(name.as_str())) {
                Report::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!(
                        "cannot update partitioning column \"{name}\" of distributed hypertable \"{}\"",
                        hypertable.table
                    ),
                )
                .detail("A new value could belong in another chunk, on another data node.")
                .hint("Delete the rows and insert them with the new values.")
                .raise();
            }
            let expr = (*target).expr.cast::<pg_sys::Node>();
            if !shippable(expr, result_relation) {
                return None;
            }
            set.push(format!(
                "{} = {}",
                crate::quote::ident(&name),
                deparse(expr, relid)
            ));
        }
        Some(set)
    }
}

/// Why an UPDATE or DELETE cannot run: it reached `PlanForeignModify`, so it is not one the data
/// nodes can run themselves.
pub fn refuse(operation: pg_sys::CmdType::Type) -> ! {
    let statement = if operation == pg_sys::CmdType::CMD_UPDATE {
        "UPDATE"
    } else {
        "DELETE"
    };
    Report::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        format!("{statement} on a distributed hypertable must be one the data nodes can run"),
    )
    .detail(
        "Its conditions and new values must use only the table's columns, constants and built-in \
         immutable functions (now() and parameters are fine); no RETURNING, joins or sub-queries.",
    )
    .hint("Compute the values first, then run the statement with them as constants.")
    .raise()
}
