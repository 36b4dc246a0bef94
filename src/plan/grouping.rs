//! Aggregate push-down. *Full*: when every group of a grouped query lives on one data node, each
//! data node runs the grouped query over its chunks (GROUP BY, aggregates, HAVING) and returns
//! final groups; the access node only passes them on. *Partial* otherwise: each data node returns
//! per-group aggregate states (see `partial.rs`) and the access node's Finalize aggregation
//! combines them, for every aggregate with a combine function.
//!
//! A group lives on one data node when the query groups by the space column and each space slice's
//! chunks are read from one node, or when all the chunks the query reads are on one node (the
//! query fixes the space column, or the table is small). This is offered to the planner as a path
//! of the grouped relation (`GetForeignUpperPaths`) only if the whole query below it can run on
//! the data nodes: every WHERE clause, grouping expression, aggregate and HAVING clause ships.
//! Placement is checked again when the scan starts, against the replicas actually read.

use hyperdist_core::partition::{self, Range};
use pgrx::{PgList, pg_sys};
use serde::{Deserialize, Serialize};

use crate::catalog::hypertable::{self, Hypertable};
use crate::node;
use crate::plan::ScanPlan;
use crate::plan::analyze::{self, deparse, shippable};
use crate::plan::order::{SortKey, order_by_clause};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Grouping {
    /// The columns the grouped query reads from each chunk.
    pub input_columns: Vec<String>,
    /// The remote select list, in the order of the plan's `fdw_scan_tlist`.
    pub select_list: Vec<String>,
    pub group_by: Vec<String>,
    pub having: Option<String>,
    /// Grouped by the space column: each node must hold whole space slices. Otherwise all chunks
    /// must be read from one node.
    pub by_space: bool,
    /// The data nodes return aggregate states, not final groups; any placement will do.
    pub partial: bool,
    /// `SELECT DISTINCT` (an empty list) or `SELECT DISTINCT ON (...)` instead of GROUP BY.
    pub distinct: Option<Vec<String>>,
    /// `DISTINCT ON (space column)` answered by walking an index that starts with the space
    /// column (this quoted name) and the next ORDER BY key: one index probe per series instead
    /// of sorting every row (see [`Grouping::series_walk`]).
    pub series_walk: Option<String>,
}

impl Grouping {
    /// The query a data node runs over its chunks (`inputs`: one `SELECT` per chunk).
    pub fn remote_query(&self, inputs: &[String], order: &[SortKey]) -> String {
        if let (Some(series), [_, within @ ..]) = (&self.series_walk, order) {
            return self.series_walk(series, inputs, within, order);
        }
        let distinct = match &self.distinct {
            None => String::new(),
            Some(on) if on.is_empty() => "DISTINCT ".to_string(),
            Some(on) => format!("DISTINCT ON ({}) ", on.join(", ")),
        };
        let mut sql = format!(
            "SELECT {distinct}{} FROM ({}) t",
            self.select_list.join(", "),
            inputs.join(" UNION ALL ")
        );
        if !self.group_by.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", self.group_by.join(", ")));
        }
        if let Some(having) = &self.having {
            sql.push_str(&format!(" HAVING {having}"));
        }
        sql.push_str(&order_by_clause(order));
        sql
    }

    /// The first row of each series (value of the space column `series`) in the order `within`,
    /// found with an index on (series, first key of `within`): a recursive query steps from one
    /// series value to the next (`LIMIT 1` above the current one), and for each takes its first
    /// row (`ORDER BY within LIMIT 1`); NULL is a series of its own. The chunks are a
    /// non-materialized CTE, so each step is a merge of index scans over them.
    fn series_walk(
        &self,
        series: &str,
        inputs: &[String],
        within: &[SortKey],
        order: &[SortKey],
    ) -> String {
        let first_row = order_by_clause(within);
        let select_list = self.select_list.join(", ");
        format!(
            "WITH RECURSIVE t AS NOT MATERIALIZED ({chunks}), \
             series (hyperdist_series) AS (\
               (SELECT {series} FROM t WHERE {series} IS NOT NULL ORDER BY {series} LIMIT 1) \
               UNION ALL \
               SELECT (SELECT {series} FROM t WHERE {series} > series.hyperdist_series \
                        ORDER BY {series} LIMIT 1) \
                 FROM series WHERE series.hyperdist_series IS NOT NULL) \
             SELECT {select_list} FROM series CROSS JOIN LATERAL \
               (SELECT * FROM t WHERE {series} = series.hyperdist_series{first_row} LIMIT 1) t \
              WHERE series.hyperdist_series IS NOT NULL \
             UNION ALL \
             SELECT {select_list} FROM (SELECT * FROM t WHERE {series} IS NULL{first_row} LIMIT 1) t\
             {}",
            order_by_clause(order),
            chunks = inputs.join(" UNION ALL "),
        )
    }

    /// Whether data nodes reading these chunks (space slice, node) return what the access node
    /// expects: whole groups, or (partial) any states.
    pub fn groups_stay_whole(&self, assigned: &[(Range, String)]) -> bool {
        self.partial || partition::groups_stay_whole(assigned, self.by_space)
    }
}

/// The grouping expressions of the grouped relation's target, in target order; `None` if some
/// GROUP BY item is not among them.
unsafe fn grouping_expressions(
    parse: *mut pg_sys::Query,
    target: *mut pg_sys::PathTarget,
) -> Option<Vec<*mut pg_sys::Node>> {
    unsafe {
        let exprs = PgList::<pg_sys::Node>::from_pg((*target).exprs);
        let group_clause = (*parse).groupClause;
        let found: Vec<*mut pg_sys::Node> = exprs
            .iter_ptr()
            .enumerate()
            .filter(|(i, _)| {
                let sgref = if (*target).sortgrouprefs.is_null() {
                    0
                } else {
                    *(*target).sortgrouprefs.add(*i)
                };
                sgref != 0 && !pg_sys::get_sortgroupref_clause_noerr(sgref, group_clause).is_null()
            })
            .map(|(_, expr)| expr)
            .collect();
        let wanted = PgList::<pg_sys::Node>::from_pg(group_clause).len();
        (found.len() == wanted).then_some(found)
    }
}

pub(super) unsafe fn is_column(node: *mut pg_sys::Node, index: u32, attno: Option<i16>) -> bool {
    unsafe {
        let node = super::analyze::strip(node);
        !node.is_null()
            && (*node).type_ == pg_sys::NodeTag::T_Var
            && (*node.cast::<pg_sys::Var>()).varno as u32 == index
            && Some((*node.cast::<pg_sys::Var>()).varattno) == attno
    }
}

/// Which node reads each chunk, as planned now: its first available replica.
pub(super) fn planned_assignment(
    hypertable: &Hypertable,
    plan: &ScanPlan,
) -> Option<Vec<(Range, String)>> {
    let available: Vec<String> = node::available_names();
    plan.chunks_to_read(hypertable)
        .into_iter()
        .map(|chunk| {
            let replica = chunk.data_nodes.iter().find(|n| available.contains(n))?;
            Some((chunk.space, replica.clone()))
        })
        .collect()
}

/// Whether the aggregate's states can be combined on the access node: a combine function, states
/// of type `internal` serializable, no DISTINCT or ORDER BY inside (those need all rows at once).
unsafe fn combinable(aggref: *mut pg_sys::Aggref) -> bool {
    unsafe {
        if !(*aggref).aggdistinct.is_null()
            || !(*aggref).aggorder.is_null()
            || (*aggref).aggkind as u8 != b'n'
        {
            return false;
        }
        let aggregate = (*aggref).aggfnoid;
        if let Some(known) = COMBINABLE.with(|c| c.borrow().get(&aggregate).copied()) {
            return known;
        }
        let combinable = crate::catalog::spi_optional(pgrx::Spi::get_one_with_args::<bool>(
            "SELECT aggcombinefn <> 0
                    AND (aggtranstype <> 'pg_catalog.internal'::pg_catalog.regtype
                         OR (aggserialfn <> 0 AND aggdeserialfn <> 0))
               FROM pg_catalog.pg_aggregate WHERE aggfnoid = $1",
            &[aggregate.into()],
        ))
        .unwrap_or(false);
        COMBINABLE.with(|c| c.borrow_mut().insert(aggregate, combinable));
        combinable
    }
}

thread_local! {
    /// Whether each aggregate (by function oid) is combinable; an aggregate's support functions
    /// cannot be changed once it exists, so this is never stale.
    static COMBINABLE: std::cell::RefCell<std::collections::HashMap<pg_sys::Oid, bool>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// What the planner gave us, read once.
pub(super) struct Request {
    pub(super) root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut pg_sys::GroupPathExtraData,
    pub(super) index: u32,
    pub(super) relid: pg_sys::Oid,
    pub(super) hypertable: Hypertable,
    group_exprs: Vec<*mut pg_sys::Node>,
    /// HAVING as one expression (the planner keeps an implicit-AND list).
    having: *mut pg_sys::Node,
    /// The scan below, with every clause shipped (some once evaluated at execution); its
    /// columns, quoted.
    pub(super) scan: ScanPlan,
    pub(super) runtime_exprs: Vec<*mut pg_sys::Node>,
    pub(super) input_columns: Vec<String>,
}

impl Request {
    unsafe fn estimated_groups(&self) -> f64 {
        if self.group_exprs.is_empty() {
            return 1.0;
        }
        unsafe {
            pg_sys::estimate_num_groups(
                self.root,
                crate::plan::node_list(&self.group_exprs),
                (*self.input_rel).rows,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        }
    }

    /// Full push-down: the data nodes return final groups (when each group is on one node).
    unsafe fn whole_groups(&self) -> Option<ScanPlan> {
        unsafe {
            let target = (*self.output_rel).reltarget;
            let exprs = PgList::<pg_sys::Node>::from_pg((*target).exprs);
            if !exprs.iter_ptr().all(|e| shippable(e, self.index))
                || !shippable(self.having, self.index)
            {
                return None;
            }
            let space_attno = self
                .hypertable
                .space
                .as_ref()
                .and_then(|s| analyze::attnum_of(self.relid, &s.column));
            let grouping = Grouping {
                input_columns: self.input_columns.clone(),
                select_list: exprs.iter_ptr().map(|e| deparse(e, self.relid)).collect(),
                group_by: self.group_by(),
                having: (!self.having.is_null()).then(|| deparse(self.having, self.relid)),
                by_space: self
                    .group_exprs
                    .iter()
                    .any(|e| is_column(*e, self.index, space_attno)),
                partial: false,
                distinct: None,
                series_walk: None,
            };
            if !grouping.groups_stay_whole(&planned_assignment(&self.hypertable, &self.scan)?) {
                return None;
            }
            let mut plan = self.scan.clone();
            plan.grouping = Some(grouping);
            Some(plan)
        }
    }

    fn group_by(&self) -> Vec<String> {
        self.group_exprs
            .iter()
            // SAFETY: planner expressions of this relation.
            .map(|e| unsafe { deparse(*e, self.relid) })
            .collect()
    }

    /// Partial push-down: the data nodes return per-group aggregate states, and the access node
    /// combines them. The target of the remote scan is the grouping expressions and the partial
    /// form of every aggregate (as PostgreSQL's own partial aggregation builds it), so a Finalize
    /// aggregation above matches them.
    unsafe fn partial_states(&self) -> Option<(ScanPlan, *mut pg_sys::PathTarget)> {
        unsafe {
            if !self.group_exprs.iter().all(|e| shippable(*e, self.index)) {
                return None;
            }
            let target = (*self.output_rel).reltarget;
            let partial_target = pg_sys::create_empty_pathtarget();
            let mut select_list = self.group_by();
            let mut others = std::ptr::null_mut();
            for (i, expr) in PgList::<pg_sys::Node>::from_pg((*target).exprs)
                .iter_ptr()
                .enumerate()
            {
                if self.group_exprs.contains(&expr) {
                    let sgref = *(*target).sortgrouprefs.add(i);
                    pg_sys::add_column_to_pathtarget(partial_target, expr.cast(), sgref);
                } else {
                    others = pg_sys::lappend(others, expr.cast());
                }
            }
            if !self.having.is_null() {
                others = pg_sys::lappend(others, self.having.cast());
            }
            let pulled = PgList::<pg_sys::Node>::from_pg(pg_sys::pull_var_clause(
                others.cast(),
                (pg_sys::PVC_INCLUDE_AGGREGATES
                    | pg_sys::PVC_RECURSE_WINDOWFUNCS
                    | pg_sys::PVC_INCLUDE_PLACEHOLDERS) as i32,
            ));
            let mut seen: Vec<*mut pg_sys::Node> = Vec::new();
            for node in pulled.iter_ptr() {
                if (*node).type_ != pg_sys::NodeTag::T_Aggref {
                    // A column outside any aggregate that is not grouped: leave it to PostgreSQL.
                    return None;
                }
                if seen.iter().any(|s| pg_sys::equal((*s).cast(), node.cast())) {
                    continue;
                }
                seen.push(node);
                let aggref = node.cast::<pg_sys::Aggref>();
                if !shippable(node, self.index) || !combinable(aggref) {
                    return None;
                }
                select_list.push(format!(
                    "_hyperdist_internal.partial({})",
                    deparse(node, self.relid)
                ));
                let state = pg_sys::copyObjectImpl(node.cast()).cast::<pg_sys::Aggref>();
                pg_sys::mark_partial_aggref(state, pg_sys::AggSplit::AGGSPLIT_INITIAL_SERIAL);
                pg_sys::add_column_to_pathtarget(partial_target, state.cast(), 0);
            }
            pg_sys::set_pathtarget_cost_width(self.root, partial_target);
            let mut plan = self.scan.clone();
            plan.grouping = Some(Grouping {
                input_columns: self.input_columns.clone(),
                select_list,
                group_by: self.group_by(),
                having: None,
                by_space: false,
                partial: true,
                distinct: None,
                series_walk: None,
            });
            Some((plan, partial_target))
        }
    }
}

/// `GetForeignUpperPaths` for `UPPERREL_GROUP_AGG`: offers the data nodes the aggregation, whole when each group lives on
/// one data node, else as partial states the access node combines.
///
/// # Safety
/// Called by the planner with its own structures.
pub unsafe fn upper_paths(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut std::ffi::c_void,
) {
    unsafe {
        let Some(request) =
            crate::ddl::with_qualified_names(|| request(root, input_rel, output_rel, extra.cast()))
        else {
            return;
        };
        let groups = request.estimated_groups();
        if let Some(plan) = crate::ddl::with_qualified_names(|| request.whole_groups()) {
            // Cheaper than any plan that pulls the rows: it moves only groups.
            let path = pg_sys::create_foreign_upper_path(
                root,
                output_rel,
                (*output_rel).reltarget,
                groups,
                10.0,
                10.0 + groups * 0.01,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                super::upper_private(&plan, &request.runtime_exprs),
            );
            pg_sys::add_path(output_rel, path.cast());
            return;
        }
        if let Some((plan, partial_target)) =
            crate::ddl::with_qualified_names(|| request.partial_states())
        {
            add_finalized_path(&request, plan, partial_target, groups);
        }
    }
}

pub(super) unsafe fn request(
    root: *mut pg_sys::PlannerInfo,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut pg_sys::GroupPathExtraData,
) -> Option<Request> {
    unsafe {
        if (*input_rel).reloptkind != pg_sys::RelOptKind::RELOPT_BASEREL {
            return None;
        }
        let parse = (*root).parse;
        if !(*parse).groupingSets.is_null() || (*parse).hasTargetSRFs {
            return None;
        }
        let index = (*input_rel).relid;
        let rte = *(*root).simple_rte_array.add(index as usize);
        let relid = (*rte).relid;
        let hypertable = hypertable::by_relid(relid)?;
        let having = extra
            .as_ref()
            .map_or(std::ptr::null_mut(), |e| e.havingQual);
        let having: *mut pg_sys::Node =
            if !having.is_null() && (*having).type_ == pg_sys::NodeTag::T_List {
                pg_sys::make_ands_explicit(having.cast()).cast()
            } else {
                having
            };
        let group_exprs = grouping_expressions(parse, (*output_rel).reltarget)?;
        let analyze::Analysis {
            plan: scan,
            runtime_exprs,
            ..
        } = analyze::plan(input_rel, relid, &hypertable);
        if !scan.all_shipped {
            return None;
        }
        let input_columns = analyze::column_names(relid, scan.columns.as_ref()?);
        Some(Request {
            root,
            input_rel,
            output_rel,
            extra,
            index,
            relid,
            hypertable,
            group_exprs,
            having,
            scan,
            runtime_exprs,
            input_columns,
        })
    }
}

/// A Finalize aggregation (PostgreSQL's, combining deserialized states) over the remote scan of
/// partial states, as the grouped relation's path.
unsafe fn add_finalized_path(
    request: &Request,
    plan: ScanPlan,
    partial_target: *mut pg_sys::PathTarget,
    groups: f64,
) {
    unsafe {
        let root = request.root;
        let parse = (*root).parse;
        let group_clause = (*parse).groupClause;
        let strategy = if group_clause.is_null() {
            pg_sys::AggStrategy::AGG_PLAIN
        } else if pg_sys::grouping_is_hashable(group_clause) {
            pg_sys::AggStrategy::AGG_HASHED
        } else {
            return;
        };
        let input = request.input_rel;
        let states_rel = pg_sys::fetch_upper_rel(
            root,
            pg_sys::UpperRelationKind::UPPERREL_PARTIAL_GROUP_AGG,
            (*input).relids,
        );
        (*states_rel).reltarget = partial_target;
        (*states_rel).serverid = (*input).serverid;
        (*states_rel).userid = (*input).userid;
        (*states_rel).useridiscurrent = (*input).useridiscurrent;
        (*states_rel).fdwroutine = (*input).fdwroutine;
        let nodes = request.hypertable.data_nodes.len().max(1) as f64;
        let state_rows = (groups * nodes).min((*input).rows.max(1.0));
        (*states_rel).rows = state_rows;
        let states = pg_sys::create_foreign_upper_path(
            root,
            states_rel,
            partial_target,
            state_rows,
            10.0,
            10.0 + state_rows * 0.01,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            super::upper_private(&plan, &request.runtime_exprs),
        );
        let having = request
            .extra
            .as_ref()
            .map_or(std::ptr::null_mut(), |e| e.havingQual);
        let mut costs: pg_sys::AggClauseCosts = std::mem::zeroed();
        if let Some(extra) = request.extra.as_ref()
            && extra.partial_costs_set
        {
            costs = extra.agg_final_costs;
        }
        let finalize = pg_sys::create_agg_path(
            root,
            request.output_rel,
            states.cast(),
            (*request.output_rel).reltarget,
            strategy,
            pg_sys::AggSplit::AGGSPLIT_FINAL_DESERIAL,
            group_clause,
            having.cast(),
            &costs,
            groups,
        );
        pg_sys::add_path(request.output_rel, finalize.cast());
        let grouped = super::time_ordered::Grouped {
            root,
            hypertable: &request.hypertable,
            relid: request.relid,
            index: request.index,
            group_exprs: &request.group_exprs,
            plan: &plan,
            runtime_exprs: &request.runtime_exprs,
        };
        super::time_ordered::add_path(
            &grouped,
            request.output_rel,
            states_rel,
            partial_target,
            having,
            &costs,
            groups,
        );
    }
}
