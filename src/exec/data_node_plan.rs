//! How a data node plans the query of a distributed scan (see `row_batches`).
//!
//! Most of what the access node asks for is "these rows, or these groups, in any order": a time
//! range of a few chunks, filtered or aggregated. For a time range PostgreSQL's costs favour a
//! plain index scan on the time index (the heap is correlated with it, so its pages look
//! sequential), and for a few hosts they favour that scan plus a filter over the host index. In
//! memory, which is where a data node's recent chunks are, a plain index scan pays per row (a
//! buffer lock and visibility check each) where a bitmap heap scan pays per page: measured on the
//! TSBS data, 5–35% more time for the rows of a time range, 2–3× when a filter or a host list
//! keeps few of them. When the rows may come in any order the plan is made without plain index
//! scans (bitmap scans still use every index). Queries that need an order or stop early (ORDER BY,
//! LIMIT, DISTINCT ON's recursive CTE, windows, a min or max without GROUP BY, which the planner
//! may answer from the end of an index) are planned as PostgreSQL would.
//! `hyperdist.prefer_bitmap_scans = off` on the data node leaves every plan to PostgreSQL.

use pgrx::{PgList, pg_sys};

/// Plans `query` (analysed and rewritten from `query_string`) for execution.
///
/// # Safety
/// A valid Query of this transaction.
pub unsafe fn plan(
    query: *mut pg_sys::Query,
    query_string: *const std::ffi::c_char,
) -> *mut pg_sys::PlannedStmt {
    // SAFETY: PostgreSQL's planner on a valid Query; the classification only reads it.
    unsafe {
        let plan = || {
            pg_sys::pg_plan_query(
                query,
                query_string,
                pg_sys::CURSOR_OPT_PARALLEL_OK as i32,
                std::ptr::null_mut(),
            )
        };
        if crate::guc::prefer_bitmap_scans() && rows_in_any_order(query) {
            crate::guc::with_settings(&[(c"enable_indexscan", c"off")], plan)
        } else {
            plan()
        }
    }
}

/// Whether every row of `query` is read and their order does not matter, in it and in the
/// subqueries it reads from.
unsafe fn rows_in_any_order(query: *mut pg_sys::Query) -> bool {
    // SAFETY: reads of a valid Query and its range table.
    unsafe {
        let q = &*query;
        let ordered_or_limited = !q.sortClause.is_null()
            || !q.limitCount.is_null()
            || !q.limitOffset.is_null()
            || !q.distinctClause.is_null()
            || q.hasWindowFuncs
            || !q.cteList.is_null()
            || q.hasSubLinks;
        if ordered_or_limited {
            return false;
        }
        if q.hasAggs && q.groupClause.is_null() && q.groupingSets.is_null() && has_min_or_max(q) {
            return false;
        }
        PgList::<pg_sys::RangeTblEntry>::from_pg(q.rtable)
            .iter_ptr()
            .all(|entry| {
                (*entry).rtekind != pg_sys::RTEKind::RTE_SUBQUERY
                    || rows_in_any_order((*entry).subquery)
            })
    }
}

/// Whether an aggregate of the query's output or HAVING has a sort operator (min, max and their
/// kind), which lets the planner read it from an index instead of every row.
unsafe fn has_min_or_max(query: &pg_sys::Query) -> bool {
    unsafe extern "C-unwind" fn walker(node: *mut pg_sys::Node, _: *mut std::ffi::c_void) -> bool {
        // SAFETY: nodes of a valid expression tree; a syscache lookup by OID.
        unsafe {
            if node.is_null() {
                return false;
            }
            if (*node).type_ == pg_sys::NodeTag::T_Aggref
                && sort_operator((*node.cast::<pg_sys::Aggref>()).aggfnoid)
            {
                return true;
            }
            pg_sys::expression_tree_walker(node, Some(walker), std::ptr::null_mut())
        }
    }
    // SAFETY: walks the query's own expression trees.
    unsafe {
        walker(query.targetList.cast(), std::ptr::null_mut())
            || walker(query.havingQual, std::ptr::null_mut())
    }
}

/// pg_aggregate's OID (catalog OIDs are fixed; pgrx does not name this one).
const AGGREGATE_RELATION: pg_sys::Oid = pg_sys::Oid::from_u32(2600);

/// Whether the aggregate `function` has a sort operator in pg_aggregate.
unsafe fn sort_operator(function: pg_sys::Oid) -> bool {
    // SAFETY: a syscache lookup, released before returning.
    unsafe {
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::AGGFNOID as i32,
            pg_sys::Datum::from(function),
        );
        if tuple.is_null() {
            return false;
        }
        let column = pg_sys::get_attnum(AGGREGATE_RELATION, c"aggsortop".as_ptr());
        let mut null = false;
        let sort_operator = pg_sys::SysCacheGetAttr(
            pg_sys::SysCacheIdentifier::AGGFNOID as i32,
            tuple,
            column,
            &mut null,
        );
        let found = !null && sort_operator.value() != 0;
        pg_sys::ReleaseSysCache(tuple);
        found
    }
}
