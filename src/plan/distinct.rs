//! DISTINCT and DISTINCT ON pushed to the data nodes: when the distinct expressions include the
//! space column, rows that are alike live on one data node (as long as each space slice is read
//! from one node), so each node can remove its own duplicates. With the query's ORDER BY made of
//! columns, each node sorts too and the executor merges: `SELECT DISTINCT ON (hostname) * ... ORDER
//! BY hostname, time DESC` (the last point of each series) moves one row per series, and when an
//! index starts with (hostname, time) each node finds those rows with one index probe per series
//! instead of sorting all its rows.

use pgrx::prelude::*;
use pgrx::{PgList, pg_sys};

use crate::catalog::hypertable::Hypertable;
use crate::quote;

use crate::plan::analyze::{self, deparse, shippable};
use crate::plan::grouping::{Grouping, is_column, planned_assignment, request};
use crate::plan::order::{self, SortKey};

/// `GetForeignUpperPaths` for `UPPERREL_DISTINCT`.
///
/// # Safety
/// Called by the planner with its own structures.
pub unsafe fn distinct_paths(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
) {
    unsafe {
        let parse = (*root).parse;
        if (*parse).hasAggs || !(*parse).groupClause.is_null() {
            return;
        }
        let Some((plan, runtime_exprs)) = crate::ddl::with_qualified_names(|| {
            let request = request(root, input_rel, output_rel, std::ptr::null_mut())?;
            let (index, relid) = (request.index, request.relid);
            let mut plan = request.scan;
            // The distinct relation has no target of its own: its rows are the scan's.
            let target = (*input_rel).reltarget;
            let exprs = PgList::<pg_sys::Node>::from_pg((*target).exprs);
            if !exprs.iter_ptr().all(|e| shippable(e, index)) {
                return None;
            }
            let distinct_exprs: Vec<*mut pg_sys::Node> =
                PgList::<pg_sys::SortGroupClause>::from_pg((*parse).distinctClause)
                    .iter_ptr()
                    .map(|clause| {
                        pg_sys::get_sortgroupclause_expr(clause, (*root).processed_tlist).cast()
                    })
                    .collect();
            let space_attno = request
                .hypertable
                .space
                .as_ref()
                .and_then(|s| analyze::attnum_of(relid, &s.column));
            if !distinct_exprs.iter().all(|e| shippable(*e, index))
                || !distinct_exprs
                    .iter()
                    .any(|e| is_column(*e, index, space_attno))
            {
                return None;
            }
            // Each node sorts by the query's ORDER BY, which the merge keeps; the keys name
            // positions in this scan's rows, which are the target's.
            let mut order = order::column_order((*root).sort_pathkeys, input_rel, relid)?;
            let series_walk = if (*parse).hasDistinctOn && distinct_exprs.len() == 1 {
                series_walk(&request.hypertable, &order)
            } else {
                None
            };
            for key in &mut order {
                let position = exprs.iter_ptr().position(|e| {
                    (*e).type_ == pg_sys::NodeTag::T_Var
                        && (*e.cast::<pg_sys::Var>()).varattno == key.attno
                })?;
                key.attno = position as i16 + 1;
            }
            let grouping = Grouping {
                input_columns: request.input_columns,
                select_list: exprs.iter_ptr().map(|e| deparse(e, relid)).collect(),
                group_by: Vec::new(),
                having: None,
                by_space: true,
                partial: false,
                distinct: Some(if (*parse).hasDistinctOn {
                    distinct_exprs.iter().map(|e| deparse(*e, relid)).collect()
                } else {
                    Vec::new()
                }),
                series_walk,
            };
            if !grouping.groups_stay_whole(&planned_assignment(&request.hypertable, &plan)?) {
                return None;
            }
            plan.grouping = Some(grouping);
            plan.order = order;
            Some((plan, request.runtime_exprs))
        }) else {
            return;
        };
        let rows = (*output_rel).rows.max(1.0);
        let private = super::upper_private(&plan, &runtime_exprs);
        let pathkeys = if plan.order.is_empty() {
            std::ptr::null_mut()
        } else {
            (*root).sort_pathkeys
        };
        let path = pg_sys::create_foreign_upper_path(
            root,
            output_rel,
            (*input_rel).reltarget,
            rows,
            10.0,
            10.0 + rows * 0.01,
            pathkeys,
            std::ptr::null_mut(),
            private,
        );
        pg_sys::add_path(output_rel, path.cast());
    }
}

/// The space column (quoted), when `DISTINCT ON (space column) ... ORDER BY space column, key, ...`
/// can walk an index of the data nodes that starts with the space column and `key`.
fn series_walk(hypertable: &Hypertable, order: &[SortKey]) -> Option<String> {
    let space = quote::ident(&hypertable.space.as_ref()?.column);
    let [first, next, ..] = order else {
        return None;
    };
    if first.column != space {
        return None;
    }
    let indexed = crate::catalog::spi(Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT FROM _hyperdist_catalog.hypertable_index
                         WHERE hypertable_id = $1
                           AND quote_ident(key_columns[1]) = $2 AND quote_ident(key_columns[2]) = $3)",
        &[hypertable.id.into(), space.as_str().into(), next.column.as_str().into()],
    ))
    .unwrap_or(false);
    indexed.then_some(space)
}
