//! Group estimates for `GROUP BY time_bucket(...)` over chunks, where the data nodes aggregate.
//!
//! PostgreSQL knows nothing of a bucket's width: it estimates the groups of
//! `time_bucket('1 hour', time)` as the distinct values of `time`, hundreds of times too many.
//! It then judges a hash table too big for `work_mem` and sorts every row instead (spilling the
//! sort to disk), where a few thousand groups would have fit in a small hash table. When the
//! grouping reads chunks (inheritance children: a data node's chunk tables), this estimates the
//! buckets from the width and each chunk's time range in its statistics, and offers a hashed
//! aggregation with that estimate; the planner still picks the cheapest path.

use hyperdist_core::bucket::{self, Width};
use hyperdist_core::time::TimeType;
use pgrx::{PgList, pg_sys};

use crate::plan::analyze::{call_with_constant_first, own_time_bucket, strip};

// Not in pgrx's bindings.
unsafe extern "C-unwind" {
    /// catalog/pg_inherits.h: whether the relation inherits from another.
    fn has_superclass(relation_id: pg_sys::Oid) -> bool;
    /// optimizer/prep.h: the costs of the query's aggregates (what PostgreSQL's own grouping
    /// paths are costed with; it does not pass them to the hook).
    fn get_agg_clause_costs(
        root: *mut pg_sys::PlannerInfo,
        split: pg_sys::AggSplit::Type,
        costs: *mut pg_sys::AggClauseCosts,
    );
}

/// Adds a hashed aggregation path with a bucket-aware group estimate to `grouped`, when the
/// grouping has a time bucket of a chunk column and the estimate is below PostgreSQL's.
///
/// # Safety
/// Called from the `create_upper_paths_hook` for `UPPERREL_GROUP_AGG`, `extra` being its
/// `GroupPathExtraData`.
pub unsafe fn add_hashed_aggregation(
    root: *mut pg_sys::PlannerInfo,
    input: *mut pg_sys::RelOptInfo,
    grouped: *mut pg_sys::RelOptInfo,
    extra: *mut pg_sys::GroupPathExtraData,
) {
    unsafe {
        let parse = (*root).parse;
        if extra.is_null()
            || (*grouped).reloptkind != pg_sys::RelOptKind::RELOPT_UPPER_REL
            || (*parse).groupClause.is_null()
            || !(*parse).groupingSets.is_null()
            || (*root).numOrderedAggs != 0
            || !pg_sys::enable_hashagg
            || !pg_sys::grouping_is_hashable((*parse).groupClause)
            || (*input).cheapest_total_path.is_null()
        {
            return;
        }
        let Some((groups, postgres_groups)) = estimate_groups(root, (*input).rows) else {
            return;
        };
        if groups >= postgres_groups {
            return;
        }
        let mut agg_costs = pg_sys::AggClauseCosts::default();
        // SAFETY: reads the planner's aggregate list; an ERROR becomes a Rust panic.
        #[allow(ffi_unwind_calls)]
        pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
            get_agg_clause_costs(root, pg_sys::AggSplit::AGGSPLIT_SIMPLE, &mut agg_costs)
        });
        let path = pg_sys::create_agg_path(
            root,
            grouped,
            (*input).cheapest_total_path,
            (*grouped).reltarget,
            pg_sys::AggStrategy::AGG_HASHED,
            pg_sys::AggSplit::AGGSPLIT_SIMPLE,
            (*parse).groupClause,
            (*extra).havingQual.cast(),
            &agg_costs,
            groups,
        );
        pg_sys::add_path(grouped, path.cast());
    }
}

/// The number of groups, and PostgreSQL's own estimate (its grouping paths' rows). Ours adds up,
/// per chunk read, the buckets between the lowest and highest time in the chunk's statistics
/// times the distinct values of the other grouping columns in that chunk (chunks of different
/// time or space slices hold different groups). None unless exactly one grouping expression is
/// a bucket of a chunk column with statistics.
unsafe fn estimate_groups(root: *mut pg_sys::PlannerInfo, input_rows: f64) -> Option<(f64, f64)> {
    unsafe {
        let parse = (*root).parse;
        let exprs = PgList::<pg_sys::Node>::from_pg(pg_sys::get_sortgrouplist_exprs(
            (*parse).groupClause,
            (*parse).targetList,
        ));
        let mut bucket = None;
        let mut others = Vec::new();
        for expr in exprs.iter_ptr() {
            match bucket_of(expr) {
                Some(_) if bucket.is_some() => return None,
                Some(found) => bucket = Some(found),
                None => others.push(expr),
            }
        }
        let (column, width) = bucket?;
        let chunks = chunk_columns(root, column.cast())?;
        // The other grouping columns in each chunk, when they are plain columns of the same chunks.
        let others_in_chunks: Option<Vec<Vec<ChunkColumn>>> = others
            .iter()
            .map(|&expr| {
                chunk_columns(root, expr).filter(|found| {
                    found
                        .iter()
                        .map(|c| c.relid)
                        .eq(chunks.iter().map(|c| c.relid))
                })
            })
            .collect();
        let estimate = |root, exprs: Vec<*mut pg_sys::Node>, rows: f64| {
            if exprs.is_empty() {
                return 1.0;
            }
            let mut list = PgList::<pg_sys::Node>::new();
            exprs.into_iter().for_each(|expr| list.push(expr));
            pg_sys::estimate_num_groups(
                root,
                list.into_pg(),
                rows,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let mut groups = 0.0;
        for (i, chunk) in chunks.iter().enumerate() {
            let (low, high) = column_range(chunk.relid, chunk.attno)?;
            let buckets = bucket::buckets_spanned(low, high, width);
            let rows = chunk.rows.max(1.0);
            groups += match &others_in_chunks {
                Some(columns) => {
                    let vars = columns.iter().map(|found| found[i].var).collect();
                    (buckets * estimate(chunk.root, vars, rows)).min(rows)
                }
                None => buckets.min(rows),
            };
        }
        if others_in_chunks.is_none() {
            groups *= estimate(root, others, input_rows);
        }
        Some((
            groups.clamp(1.0, input_rows.max(1.0)),
            estimate(root, exprs.iter_ptr().collect(), input_rows),
        ))
    }
}

/// `time_bucket(<constant>, column [, ...])` (hyperdist's) or `date_trunc('<unit>', column
/// [, zone])`: the column and the bucket width in the column's internal unit (microseconds for
/// timestamps and dates, the number for integers).
unsafe fn bucket_of(expr: *mut pg_sys::Node) -> Option<(*mut pg_sys::Var, f64)> {
    unsafe {
        let in_catalog = |funcid| {
            pg_sys::get_func_namespace(funcid) == pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE)
        };
        let (width, args) = if let Some((_, width, args)) = own_time_bucket(expr) {
            (width_of_constant(width)?, args)
        } else {
            let (_, unit, args) = call_with_constant_first(expr, c"date_trunc", in_catalog)?;
            let unit = pgrx::text_to_rust_str_unchecked(
                (*unit).constvalue.cast_mut_ptr::<pg_sys::varlena>(),
            );
            (
                date_trunc_width(unit.to_ascii_lowercase().trim_end_matches('s'))?,
                args,
            )
        };
        let column = strip(args.get_ptr(1)?);
        (!column.is_null() && (*column).type_ == pg_sys::NodeTag::T_Var)
            .then(|| (column.cast(), width))
    }
}

unsafe fn width_of_constant(width: *mut pg_sys::Const) -> Option<f64> {
    unsafe {
        let value = (*width).constvalue;
        Some(match (*width).consttype {
            pg_sys::INTERVALOID => {
                let interval = value.cast_mut_ptr::<pg_sys::Interval>();
                Width {
                    months: (*interval).month,
                    days: (*interval).day,
                    micros: (*interval).time,
                }
                .approx_micros()
            }
            pg_sys::INT2OID => value.value() as i16 as f64,
            pg_sys::INT4OID => value.value() as i32 as f64,
            pg_sys::INT8OID => value.value() as i64 as f64,
            _ => return None,
        })
    }
}

fn date_trunc_width(unit: &str) -> Option<f64> {
    const SECOND: f64 = 1e6;
    const DAY: f64 = 86_400.0 * SECOND;
    Some(match unit {
        "microsecond" => 1.0,
        "millisecond" => 1e3,
        "second" => SECOND,
        "minute" => 60.0 * SECOND,
        "hour" => 3_600.0 * SECOND,
        "day" => DAY,
        "week" => 7.0 * DAY,
        "month" => 30.0 * DAY,
        "quarter" => 91.0 * DAY,
        "year" => 365.0 * DAY,
        _ => return None,
    })
}

/// A chunk's column behind a column of the query: where the planner knows it (the chunk's own
/// planner level, for a subquery) and the chunk's estimated rows.
struct ChunkColumn {
    root: *mut pg_sys::PlannerInfo,
    var: *mut pg_sys::Node,
    relid: pg_sys::Oid,
    attno: i16,
    rows: f64,
}

/// The chunk columns behind a column of the query: itself if it is a chunk's, else what a
/// subquery's output or an appendrel's children (the arms of a UNION ALL, an inheritance tree)
/// make of it, recursively, in a fixed order. None if any is not a chunk's column.
unsafe fn chunk_columns(
    root: *mut pg_sys::PlannerInfo,
    node: *mut pg_sys::Node,
) -> Option<Vec<ChunkColumn>> {
    unsafe {
        let node = strip(node);
        if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
            return None;
        }
        let var = node.cast::<pg_sys::Var>();
        let (varno, attno) = ((*var).varno, (*var).varattno);
        if (*var).varlevelsup != 0 || varno >= (*root).simple_rel_array_size || attno <= 0 {
            return None;
        }
        let rel = *(*root).simple_rel_array.add(varno as usize);
        let rte = *(*root).simple_rte_array.add(varno as usize);
        if rel.is_null() || rte.is_null() {
            return None;
        }
        if (*rte).inh {
            let mut columns = Vec::new();
            for info in PgList::<pg_sys::AppendRelInfo>::from_pg((*root).append_rel_list).iter_ptr()
            {
                if (*info).parent_relid != varno as u32 {
                    continue;
                }
                // An inheritance parent scans itself too; a hypertable's holds no rows.
                let child = *(*root).simple_rel_array.add((*info).child_relid as usize);
                if (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION
                    && (*info).parent_reloid == (*rte).relid
                    && !child.is_null()
                    && (*child).rows <= 1.0
                {
                    continue;
                }
                let translated = PgList::<pg_sys::Node>::from_pg((*info).translated_vars)
                    .get_ptr(attno as usize - 1)?;
                columns.extend(chunk_columns(root, translated)?);
            }
            return (!columns.is_empty()).then_some(columns);
        }
        match (*rte).rtekind {
            pg_sys::RTEKind::RTE_RELATION => {
                // Chunks are plain tables; checking that first spares the access node's foreign
                // tables (it plans their grouping itself) a look into pg_inherits per plan.
                // SAFETY: a catalog lookup that can only fail with an ERROR, which the boundary
                // turns into a Rust panic.
                #[allow(ffi_unwind_calls)]
                let is_chunk = (*rte).relkind == pg_sys::RELKIND_RELATION as std::ffi::c_char
                    && pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| {
                        has_superclass((*rte).relid)
                    });
                is_chunk.then(|| {
                    vec![ChunkColumn {
                        root,
                        var: node,
                        relid: (*rte).relid,
                        attno,
                        rows: (*rel).rows,
                    }]
                })
            }
            // A subquery planned on its own (a UNION ALL arm with a WHERE clause is one).
            pg_sys::RTEKind::RTE_SUBQUERY if !(*rel).subroot.is_null() => {
                let subroot = (*rel).subroot;
                let entry = pg_sys::get_tle_by_resno((*(*subroot).parse).targetList, attno);
                if entry.is_null() {
                    return None;
                }
                chunk_columns(subroot, (*entry).expr.cast())
            }
            _ => None,
        }
    }
}

/// The lowest and highest value of a time-typed column in its histogram, in internal units.
unsafe fn column_range(relid: pg_sys::Oid, attno: i16) -> Option<(f64, f64)> {
    unsafe {
        let tuple = pg_sys::SearchSysCache3(
            pg_sys::SysCacheIdentifier::STATRELATTINH as i32,
            pg_sys::Datum::from(relid),
            pg_sys::Datum::from(attno),
            pg_sys::Datum::from(false),
        );
        if tuple.is_null() {
            return None;
        }
        let mut slot = pg_sys::AttStatsSlot::default();
        let range = if pg_sys::get_attstatsslot(
            &mut slot,
            tuple,
            pg_sys::STATISTIC_KIND_HISTOGRAM as i32,
            pg_sys::InvalidOid,
            pg_sys::ATTSTATSSLOT_VALUES as i32,
        ) {
            let values = std::slice::from_raw_parts(slot.values, slot.nvalues.max(0) as usize);
            let internal = |datum: &pg_sys::Datum| internal_value(slot.valuetype, *datum);
            let range = match (values.first(), values.last()) {
                (Some(first), Some(last)) => internal(first).zip(internal(last)),
                _ => None,
            };
            pg_sys::free_attstatsslot(&mut slot);
            range
        } else {
            None
        };
        pg_sys::ReleaseSysCache(tuple);
        range
    }
}

fn internal_value(type_oid: pg_sys::Oid, datum: pg_sys::Datum) -> Option<f64> {
    let (time_type, raw) = match type_oid {
        pg_sys::TIMESTAMPTZOID => (TimeType::TimestampTz, datum.value() as i64),
        pg_sys::TIMESTAMPOID => (TimeType::Timestamp, datum.value() as i64),
        pg_sys::DATEOID => (TimeType::Date, datum.value() as i32 as i64),
        pg_sys::INT2OID => (TimeType::SmallInt, datum.value() as i16 as i64),
        pg_sys::INT4OID => (TimeType::Int, datum.value() as i32 as i64),
        pg_sys::INT8OID => (TimeType::BigInt, datum.value() as i64),
        _ => return None,
    };
    let internal = time_type.to_internal(raw);
    (internal != i64::MIN && internal != i64::MAX).then_some(internal as f64)
}
