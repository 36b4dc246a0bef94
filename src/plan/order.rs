//! ORDER BY and LIMIT on the data nodes. When the query's ORDER BY is made of this relation's
//! columns, the scan is offered sorted: each data node sorts its rows and the access node merges
//! the sorted streams (so no Sort runs here). When the scan feeds a LIMIT directly (one relation,
//! no grouping, every clause shipped), each data node also stops after that many rows.

use pgrx::{PgList, pg_sys};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SortKey {
    /// Attribute number in the relation (in the scan tuple, for a scan of an upper relation).
    pub attno: i16,
    /// Quoted column name.
    pub column: String,
    pub sortop: u32,
    pub collation: u32,
    pub descending: bool,
    pub nulls_first: bool,
}

impl SortKey {
    pub fn sql(&self) -> String {
        format!(
            "{}{}{}",
            self.column,
            if self.descending { " DESC" } else { "" },
            if self.nulls_first {
                " NULLS FIRST"
            } else {
                " NULLS LAST"
            }
        )
    }
}

/// ` ORDER BY ...` for these keys, or nothing.
pub fn order_by_clause(keys: &[SortKey]) -> String {
    if keys.is_empty() {
        return String::new();
    }
    let keys: Vec<String> = keys.iter().map(SortKey::sql).collect();
    format!(" ORDER BY {}", keys.join(", "))
}

/// The query's ORDER BY as sort keys on columns of `baserel`, if every key is one.
///
/// # Safety
/// Planner structures, during planning of `baserel` (relation `relid`).
pub unsafe fn query_order(
    root: *mut pg_sys::PlannerInfo,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) -> Option<Vec<SortKey>> {
    unsafe { column_order((*root).query_pathkeys, baserel, relid) }
}

/// `pathkeys` as sort keys on columns of `baserel`, if every key is one.
///
/// # Safety
/// Planner structures, during planning of `baserel` (relation `relid`).
pub unsafe fn column_order(
    pathkeys: *mut pg_sys::List,
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
) -> Option<Vec<SortKey>> {
    unsafe {
        let pathkeys = PgList::<pg_sys::PathKey>::from_pg(pathkeys);
        if pathkeys.is_empty() {
            return None;
        }
        let index = (*baserel).relid;
        let mut keys = Vec::new();
        for pathkey in pathkeys.iter_ptr() {
            let class = (*pathkey).pk_eclass;
            if (*class).ec_has_volatile {
                return None;
            }
            let var = PgList::<pg_sys::EquivalenceMember>::from_pg((*class).ec_members)
                .iter_ptr()
                .map(|member| (*member).em_expr.cast::<pg_sys::Node>())
                .find(|expr| {
                    (**expr).type_ == pg_sys::NodeTag::T_Var
                        && (*expr.cast::<pg_sys::Var>()).varno as u32 == index
                        && (*expr.cast::<pg_sys::Var>()).varlevelsup == 0
                        && (*expr.cast::<pg_sys::Var>()).varattno > 0
                })?
                .cast::<pg_sys::Var>();
            if (*class).ec_collation != (*var).varcollid {
                return None;
            }
            let strategy = (*pathkey).pk_strategy as i16;
            let sortop = pg_sys::get_opfamily_member(
                (*pathkey).pk_opfamily,
                (*var).vartype,
                (*var).vartype,
                strategy,
            );
            if sortop == pg_sys::InvalidOid || sortop.to_u32() >= pg_sys::FirstNormalObjectId {
                return None;
            }
            let name = pg_sys::get_attname(relid, (*var).varattno, false);
            keys.push(SortKey {
                attno: (*var).varattno,
                column: crate::quote::ident(&std::ffi::CStr::from_ptr(name).to_string_lossy()),
                sortop: sortop.to_u32(),
                collation: (*class).ec_collation.to_u32(),
                descending: strategy == pg_sys::BTGreaterStrategyNumber as i16,
                nulls_first: (*pathkey).pk_nulls_first,
            });
        }
        Some(keys)
    }
}

/// The LIMIT (plus OFFSET) the scan of the query's only relation may apply on each data node:
/// nothing between the scan and the LIMIT drops or combines rows.
///
/// # Safety
/// Planner structures, during planning.
pub unsafe fn pushable_limit(root: *mut pg_sys::PlannerInfo) -> Option<u64> {
    unsafe {
        let parse = (*root).parse;
        let simple = (*parse).groupClause.is_null()
            && !(*parse).hasAggs
            && !(*parse).hasWindowFuncs
            && !(*parse).hasTargetSRFs
            && (*parse).distinctClause.is_null()
            && (*parse).setOperations.is_null()
            && (*parse).groupingSets.is_null()
            && (*parse).havingQual.is_null()
            && (*parse).rowMarks.is_null()
            && pg_sys::bms_membership((*root).all_baserels)
                == pg_sys::BMS_Membership::BMS_SINGLETON;
        let limit = (*root).limit_tuples;
        (simple && limit >= 1.0).then_some(limit as u64)
    }
}
