//! The FDW planning callbacks of a hypertable scan: its size, its paths (plain, and sorted when
//! the data nodes can apply the query's ORDER BY), and the ForeignScan plan that carries the
//! [`ScanPlan`] to the executor. Grouped scans come from `grouping`.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::hypertable;
use crate::plan::analyze;
use crate::plan::node_list;
use crate::plan::order;

/// Rows the planner assumes a hypertable has until statistics say otherwise.
const DEFAULT_ROWS: f64 = 1000.0;

/// Once `ANALYZE` has gathered statistics from the data nodes (`exec::sample`), the scan's rows
/// are the hypertable's row count times the selectivity PostgreSQL estimates for its conditions
/// from those statistics; before, a fixed guess.
#[pg_guard]
pub unsafe extern "C-unwind" fn get_rel_size(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    _relid: pg_sys::Oid,
) {
    // SAFETY: the planner's structures for this relation.
    unsafe {
        let tuples = (*baserel).tuples;
        (*baserel).rows = if tuples >= 0.0 && (*baserel).pages > 0 {
            let selectivity = pg_sys::clauselist_selectivity(
                root,
                (*baserel).baserestrictinfo,
                (*baserel).relid as i32,
                pg_sys::JoinType::JOIN_INNER,
                std::ptr::null_mut(),
            );
            pg_sys::clamp_row_est(tuples * selectivity)
        } else {
            DEFAULT_ROWS
        };
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_paths(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
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
        // Sorted by the data nodes and merged here: dearer than the plain scan, cheaper than
        // sorting its rows.
        if let Some(keys) = order::query_order(root, baserel, relid) {
            let private = crate::plan::to_private(&keys);
            let sorted = pg_sys::create_foreignscan_path(
                root,
                baserel,
                std::ptr::null_mut(),
                rows,
                100.0,
                100.0 + rows * 1.01,
                (*root).query_pathkeys,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                private,
            );
            pg_sys::add_path(baserel, sorted.cast());
        }
    }
}

#[pg_guard]
pub unsafe extern "C-unwind" fn get_plan(
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    _scan_clauses: *mut pg_sys::List, // the relation's baserestrictinfo, which `analyze` reads
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    unsafe {
        if (*rel).reloptkind == pg_sys::RelOptKind::RELOPT_UPPER_REL {
            return grouped_plan(best_path, tlist, outer_plan);
        }
        let hypertable = hypertable::require(relid);
        let analysis = crate::ddl::with_qualified_names(|| analyze::plan(rel, relid, &hypertable));
        let mut plan = analysis.plan;
        // The sorted path carries its sort keys; the plain one nothing.
        plan.order = crate::plan::from_private((*best_path).fdw_private);
        // A LIMIT applies per data node only if the rows it keeps are the ones the query keeps:
        // no clause left for the access node, and the order the query wants (or none).
        let ordered = !plan.order.is_empty() || (*(*root).parse).sortClause.is_null();
        if plan.all_shipped && ordered {
            plan.limit = order::pushable_limit(root);
        }
        // Shipped clauses are not checked again (as postgres_fdw): the data nodes applied them.
        pg_sys::make_foreignscan(
            tlist,
            node_list(&analysis.local_clauses),
            (*rel).relid,
            node_list(&analysis.runtime_exprs),
            crate::plan::to_private(&plan),
            std::ptr::null_mut(),
            node_list(&analysis.shipped_clauses),
            outer_plan,
        )
    }
}

/// The scan of a pushed-down grouped query: no relation of its own; its rows are the grouped
/// relation's target (`fdw_scan_tlist`), which the data nodes compute.
unsafe fn grouped_plan(
    best_path: *mut pg_sys::ForeignPath,
    tlist: *mut pg_sys::List,
    outer_plan: *mut pg_sys::Plan,
) -> *mut pg_sys::ForeignScan {
    unsafe {
        let exprs = pgrx::PgList::<pg_sys::Expr>::from_pg((*(*best_path).path.pathtarget).exprs);
        let scan_tlist =
            exprs
                .iter_ptr()
                .enumerate()
                .fold(std::ptr::null_mut(), |list, (i, expr)| {
                    let entry =
                        pg_sys::makeTargetEntry(expr, (i + 1) as i16, std::ptr::null_mut(), false);
                    pg_sys::lappend(list, entry.cast())
                });
        // The path carries [plan, runtime expressions]; the expressions become the fdw_exprs.
        let private = pgrx::PgList::<pg_sys::Node>::from_pg((*best_path).fdw_private);
        let plan = private.get_ptr(0).map_or(std::ptr::null_mut(), |json| {
            pg_sys::lappend(std::ptr::null_mut(), json.cast())
        });
        let runtime_exprs = private
            .get_ptr(1)
            .map_or(std::ptr::null_mut(), |list| list.cast::<pg_sys::List>());
        pg_sys::make_foreignscan(
            tlist,
            std::ptr::null_mut(),
            0,
            runtime_exprs,
            plan,
            scan_tlist,
            std::ptr::null_mut(),
            outer_plan,
        )
    }
}
