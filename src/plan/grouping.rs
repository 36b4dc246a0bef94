//! Full aggregate push-down: when every group of a grouped query lives on one data node, each data
//! node runs the grouped query over its chunks (GROUP BY, aggregates, HAVING) and returns final
//! groups; the access node only passes them on.
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
use crate::guc;
use crate::node;
use crate::plan::ScanPlan;
use crate::plan::analyze::{self, deparse, shippable};

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
}

impl Grouping {
    /// The query a data node runs over its chunks (`inputs`: one `SELECT` per chunk).
    pub fn remote_query(&self, inputs: &[String]) -> String {
        let mut sql = format!(
            "SELECT {} FROM ({}) t",
            self.select_list.join(", "),
            inputs.join(" UNION ALL ")
        );
        if !self.group_by.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", self.group_by.join(", ")));
        }
        if let Some(having) = &self.having {
            sql.push_str(&format!(" HAVING {having}"));
        }
        sql
    }

    /// Whether data nodes reading these chunks (space slice, node) return whole groups.
    pub fn groups_stay_whole(&self, assigned: &[(Range, String)]) -> bool {
        partition::groups_stay_whole(assigned, self.by_space)
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

unsafe fn is_column(node: *mut pg_sys::Node, index: u32, attno: Option<i16>) -> bool {
    unsafe {
        let mut node = node;
        while !node.is_null() && (*node).type_ == pg_sys::NodeTag::T_RelabelType {
            node = (*node.cast::<pg_sys::RelabelType>()).arg.cast();
        }
        !node.is_null()
            && (*node).type_ == pg_sys::NodeTag::T_Var
            && (*node.cast::<pg_sys::Var>()).varno as u32 == index
            && Some((*node.cast::<pg_sys::Var>()).varattno) == attno
    }
}

/// Which node reads each chunk, as planned now: its first available replica.
fn planned_assignment(hypertable: &Hypertable, plan: &ScanPlan) -> Option<Vec<(Range, String)>> {
    let available: Vec<String> = node::all()
        .into_iter()
        .filter(|n| n.available)
        .map(|n| n.name)
        .collect();
    plan.chunks_to_read(hypertable)
        .into_iter()
        .map(|chunk| {
            let replica = chunk.data_nodes.iter().find(|n| available.contains(n))?;
            Some((chunk.space, replica.clone()))
        })
        .collect()
}

/// `GetForeignUpperPaths`: offers the pushed-down grouped scan when it is exact.
///
/// # Safety
/// Called by the planner with its own structures.
pub unsafe fn upper_paths(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut std::ffi::c_void,
) {
    if stage != pg_sys::UpperRelationKind::UPPERREL_GROUP_AGG || !guc::enable_aggregate_pushdown() {
        return;
    }
    unsafe {
        if (*input_rel).reloptkind != pg_sys::RelOptKind::RELOPT_BASEREL {
            return;
        }
        let parse = (*root).parse;
        if !(*parse).groupingSets.is_null() || (*parse).hasTargetSRFs {
            return;
        }
        let index = (*input_rel).relid;
        let rte = *(*root).simple_rte_array.add(index as usize);
        let relid = (*rte).relid;
        let Some(hypertable) = hypertable::by_relid(relid) else {
            return;
        };
        let target = (*output_rel).reltarget;
        // HAVING comes as an implicit-AND list.
        let having = extra
            .cast::<pg_sys::GroupPathExtraData>()
            .as_ref()
            .map_or(std::ptr::null_mut(), |e| e.havingQual);
        let having: *mut pg_sys::Node = if having.is_null() {
            having
        } else if (*having).type_ == pg_sys::NodeTag::T_List {
            pg_sys::make_ands_explicit(having.cast()).cast()
        } else {
            having
        };
        let exprs = PgList::<pg_sys::Node>::from_pg((*target).exprs);
        if !exprs.iter_ptr().all(|e| shippable(e, index)) || !shippable(having, index) {
            return;
        }
        let Some(group_exprs) = grouping_expressions(parse, target) else {
            return;
        };
        let grouping = crate::ddl::with_qualified_names(|| {
            let mut runtime_exprs = Vec::new();
            let mut plan = analyze::plan(input_rel, relid, &hypertable, &mut runtime_exprs);
            let input_columns = plan.columns.as_ref()?.iter().map(|attno| {
                let name = pg_sys::get_attname(relid, *attno, false);
                crate::quote::ident(&std::ffi::CStr::from_ptr(name).to_string_lossy())
            });
            if !plan.all_shipped || !runtime_exprs.is_empty() {
                return None;
            }
            let space_attno = hypertable
                .space
                .as_ref()
                .and_then(|s| analyze::attnum_of(relid, &s.column));
            let grouping = Grouping {
                input_columns: input_columns.collect(),
                select_list: exprs.iter_ptr().map(|e| deparse(e, relid)).collect(),
                group_by: group_exprs.iter().map(|e| deparse(*e, relid)).collect(),
                having: (!having.is_null()).then(|| deparse(having, relid)),
                by_space: group_exprs
                    .iter()
                    .any(|e| is_column(*e, index, space_attno)),
            };
            if !grouping.groups_stay_whole(&planned_assignment(&hypertable, &plan)?) {
                return None;
            }
            plan.grouping = Some(grouping);
            Some(plan)
        });
        let Some(plan) = grouping else {
            return;
        };
        let rows = if group_exprs.is_empty() {
            1.0
        } else {
            let list = group_exprs.iter().fold(std::ptr::null_mut(), |list, e| {
                pg_sys::lappend(list, (*e).cast())
            });
            pg_sys::estimate_num_groups(
                root,
                list,
                (*input_rel).rows,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        // Cheaper than any plan that pulls the rows: it moves only groups.
        let path = pg_sys::create_foreign_upper_path(
            root,
            output_rel,
            target,
            rows,
            10.0,
            10.0 + rows * 0.01,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            super::to_private(&plan),
        );
        pg_sys::add_path(output_rel, path.cast());
    }
}
