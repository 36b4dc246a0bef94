//! Grouped by time, ordered by it, limited: `SELECT time_bucket('1 minute', time) AS minute,
//! max(usage) FROM cpu WHERE ... GROUP BY minute ORDER BY minute DESC LIMIT 5`. Partial states
//! are read one time slice of chunks at a time, newest first (or oldest, for ascending order): an
//! ordered Append of one remote scan per slice, each sorted by bucket on the data nodes and merged
//! here, under a sorted Finalize aggregation. The LIMIT stops pulling once it has its groups, so
//! the scans of older slices never start (a scan sends its queries at its first row).
//!
//! This is exact when no bucket spans two slices: slices are the chunks' time ranges (merged
//! where they overlap), and a boundary between two slices is kept only where the bucket function
//! maps it onto itself; otherwise the two slices are read together.

use pgrx::{PgList, pg_sys};

use crate::catalog::hypertable::Hypertable;
use crate::plan::ScanPlan;
use crate::plan::analyze::{attnum_of, own_time_bucket};
use crate::plan::order::SortKey;

/// What the grouped query gives this path.
pub struct Grouped<'a> {
    pub root: *mut pg_sys::PlannerInfo,
    pub hypertable: &'a Hypertable,
    pub relid: pg_sys::Oid,
    pub index: u32,
    pub group_exprs: &'a [*mut pg_sys::Node],
    pub plan: &'a ScanPlan,
    pub runtime_exprs: &'a [*mut pg_sys::Node],
}

/// The grouping expression as a bucket of the time column: `time` itself, or
/// `time_bucket(<constant>, time)` (hyperdist's); returns the bucket function and its width.
unsafe fn time_bucket_of(
    expr: *mut pg_sys::Node,
    index: u32,
    time_attno: i16,
) -> Option<Option<(pg_sys::Oid, pg_sys::Datum)>> {
    unsafe {
        let is_time = |node: *mut pg_sys::Node| {
            !node.is_null()
                && (*node).type_ == pg_sys::NodeTag::T_Var
                && (*node.cast::<pg_sys::Var>()).varno as u32 == index
                && (*node.cast::<pg_sys::Var>()).varattno == time_attno
        };
        if is_time(expr) {
            return Some(None);
        }
        let (func, width, args) = own_time_bucket(expr)?;
        if args.len() != 2 || !is_time(args.get_ptr(1)?) {
            return None;
        }
        Some(Some(((*func).funcid, (*width).constvalue)))
    }
}

/// The time slices to read in turn, oldest first: [start, end) internal ranges covering the
/// chunks, no bucket crossing from one to the next.
unsafe fn slices(
    hypertable: &Hypertable,
    plan: &ScanPlan,
    bucket: Option<(pg_sys::Oid, pg_sys::Datum)>,
) -> Vec<(i64, i64)> {
    let mut ranges: Vec<(i64, i64)> = plan
        .chunks_to_read(hypertable)
        .iter()
        .map(|c| (c.time.start, c.time.end))
        .collect();
    ranges.sort();
    let time_type = hypertable.time.time_type;
    let aligned = |boundary: i64| match bucket {
        None => true,
        Some((funcid, width)) => {
            let value = pg_sys::Datum::from(time_type.from_internal(boundary));
            // SAFETY: calls the bucket function on a value of the time column's type.
            let bucketed =
                unsafe { pg_sys::OidFunctionCall2Coll(funcid, pg_sys::InvalidOid, width, value) };
            bucketed.value() == value.value()
        }
    };
    let mut merged: Vec<(i64, i64)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start < last.1 || !aligned(start) => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

/// Adds the sliced Finalize path to `output_rel`, when the query is of that shape.
///
/// # Safety
/// Planner structures, while the grouped relation's paths are made.
pub unsafe fn add_path(
    grouped: &Grouped,
    output_rel: *mut pg_sys::RelOptInfo,
    states_rel: *mut pg_sys::RelOptInfo,
    partial_target: *mut pg_sys::PathTarget,
    having: *mut pg_sys::Node,
    costs: &pg_sys::AggClauseCosts,
    groups: f64,
) {
    unsafe {
        let root = grouped.root;
        let parse = (*root).parse;
        let sort_keys = PgList::<pg_sys::PathKey>::from_pg((*root).sort_pathkeys);
        if (*parse).limitCount.is_null() || grouped.group_exprs.len() != 1 || sort_keys.len() != 1 {
            return;
        }
        let Some(time_attno) = attnum_of(grouped.relid, &grouped.hypertable.time.column) else {
            return;
        };
        let expr = grouped.group_exprs[0];
        let Some(bucket) = time_bucket_of(expr, grouped.index, time_attno) else {
            return;
        };
        let Some(pathkey) = sort_keys.get_ptr(0) else {
            return;
        };
        let class = (*pathkey).pk_eclass;
        let in_class = PgList::<pg_sys::EquivalenceMember>::from_pg((*class).ec_members)
            .iter_ptr()
            .any(|m| pg_sys::equal((*m).em_expr.cast(), expr.cast()));
        if !in_class {
            return;
        }
        let descending = (*pathkey).pk_strategy as u32 == pg_sys::BTGreaterStrategyNumber;
        let expr_type = pg_sys::exprType(expr);
        let sortop = pg_sys::get_opfamily_member(
            (*pathkey).pk_opfamily,
            expr_type,
            expr_type,
            (*pathkey).pk_strategy as i16,
        );
        if sortop == pg_sys::InvalidOid {
            return;
        }
        let slices = slices(grouped.hypertable, grouped.plan, bucket);
        if slices.len() < 2 || !pg_sys::grouping_is_sortable((*parse).groupClause) {
            return;
        }
        // Each slice's scan reads the time from its start to the next slice's start (the first
        // and last open-ended), so every chunk belongs to exactly one.
        let bounds: Vec<(Option<i64>, Option<i64>)> = (0..slices.len())
            .map(|i| {
                let lower = (i > 0).then(|| slices[i].0);
                let upper = slices.get(i + 1).map(|next| next.0);
                (lower, upper)
            })
            .collect();
        let mut order: Vec<usize> = (0..slices.len()).collect();
        if descending {
            order.reverse();
        }
        let key = SortKey {
            attno: 1,
            column: "1".to_string(),
            sortop: sortop.to_u32(),
            collation: (*class).ec_collation.to_u32(),
            descending,
            nulls_first: (*pathkey).pk_nulls_first,
        };
        let rows_each = ((*states_rel).rows / order.len() as f64).max(1.0);
        let mut children = PgList::<pg_sys::Path>::new();
        for i in order {
            let mut plan = grouped.plan.clone();
            let (lower, upper) = bounds[i];
            if let Some(lower) = lower {
                plan.narrow_time(">=", lower);
            }
            if let Some(upper) = upper {
                plan.narrow_time("<", upper);
            }
            plan.order = vec![key.clone()];
            let path = pg_sys::create_foreign_upper_path(
                root,
                states_rel,
                partial_target,
                rows_each,
                1.0,
                1.0 + rows_each * 0.005,
                (*root).sort_pathkeys,
                std::ptr::null_mut(),
                super::upper_private(&plan, grouped.runtime_exprs),
            );
            children.push(path.cast());
        }
        let append = pg_sys::create_append_path(
            root,
            states_rel,
            children.into_pg(),
            std::ptr::null_mut(),
            (*root).sort_pathkeys,
            std::ptr::null_mut(),
            0,
            false,
            -1.0,
        );
        let finalize = pg_sys::create_agg_path(
            root,
            output_rel,
            append.cast(),
            (*output_rel).reltarget,
            pg_sys::AggStrategy::AGG_SORTED,
            pg_sys::AggSplit::AGGSPLIT_FINAL_DESERIAL,
            (*parse).groupClause,
            having.cast(),
            costs,
            groups,
        );
        pg_sys::add_path(output_rel, finalize.cast());
    }
}
