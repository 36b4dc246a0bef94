//! Partial aggregation on a data node. The access node asks for aggregate *states* instead of
//! final values by wrapping each aggregate of its remote query in `_hyperdist_internal.partial()`:
//! `SELECT g, _hyperdist_internal.partial(avg(x)) FROM ... GROUP BY g`. The data node's
//! `create_upper_paths_hook` (`upper_paths`) sees those calls when it plans the query and turns the
//! aggregation into PostgreSQL's own initial-phase partial aggregation (what a parallel worker
//! runs), so each row carries the transition state: serialized if its type is `internal`, else
//! the state value itself, which `partial()` turns into that type's binary send form. The access
//! node reads the column as the state's type and finalizes with PostgreSQL's combine functions.

use pgrx::prelude::*;
use pgrx::{AnyElement, PgList, pg_sys};

use crate::error::Report;

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    /// An aggregate's transition state in binary form. Only meaningful around an aggregate in a
    /// query from the access node: the planner hook makes the aggregate return its state.
    #[pg_extern(immutable, parallel_safe)]
    fn partial(state: AnyElement) -> Vec<u8> {
        // SAFETY: `state` is a valid datum of type `state.oid()`; bytea is varlena.
        unsafe {
            if state.oid() == pg_sys::BYTEAOID {
                return varlena_bytes(state.datum().cast_mut_ptr());
            }
            let mut send = pg_sys::InvalidOid;
            let mut varlena = false;
            pg_sys::getTypeBinaryOutputInfo(state.oid(), &mut send, &mut varlena);
            varlena_bytes(pg_sys::OidSendFunctionCall(send, state.datum()).cast())
        }
    }
}

unsafe fn varlena_bytes(value: *mut pg_sys::varlena) -> Vec<u8> {
    unsafe {
        let value = pg_sys::pg_detoast_datum_packed(value);
        let len = pgrx::varsize_any_exhdr(value);
        std::slice::from_raw_parts(pgrx::vardata_any(value).cast::<u8>(), len).to_vec()
    }
}

/// Whether `funcid` is `_hyperdist_internal.partial`.
unsafe fn is_partial_marker(funcid: pg_sys::Oid) -> bool {
    unsafe {
        let name = pg_sys::get_func_name(funcid);
        if name.is_null() || std::ffi::CStr::from_ptr(name) != c"partial" {
            return false;
        }
        let schema = pg_sys::get_namespace_name(pg_sys::get_func_namespace(funcid));
        !schema.is_null() && std::ffi::CStr::from_ptr(schema) == c"_hyperdist_internal"
    }
}

/// The aggregates the target wraps in `partial()`.
unsafe fn marked_aggregates(target: *mut pg_sys::PathTarget) -> Vec<*mut pg_sys::Aggref> {
    unsafe {
        PgList::<pg_sys::Node>::from_pg((*target).exprs)
            .iter_ptr()
            .filter(|node| (**node).type_ == pg_sys::NodeTag::T_FuncExpr)
            .map(|node| node.cast::<pg_sys::FuncExpr>())
            .filter(|func| is_partial_marker((**func).funcid))
            .filter_map(|func| {
                let arg = PgList::<pg_sys::Node>::from_pg((*func).args).get_ptr(0)?;
                ((*arg).type_ == pg_sys::NodeTag::T_Aggref).then(|| arg.cast::<pg_sys::Aggref>())
            })
            .collect()
    }
}

/// Turns the grouped relation's aggregation into initial-phase partial aggregation when its
/// aggregates are wrapped in `partial()`.
pub unsafe fn make_partial(root: *mut pg_sys::PlannerInfo, grouped: *mut pg_sys::RelOptInfo) {
    unsafe {
        let target = (*grouped).reltarget;
        let marked = marked_aggregates(target);
        if marked.is_empty() {
            return;
        }
        let all = PgList::<pg_sys::Node>::from_pg(pg_sys::pull_var_clause(
            (*target).exprs.cast(),
            (pg_sys::PVC_INCLUDE_AGGREGATES | pg_sys::PVC_RECURSE_WINDOWFUNCS) as i32,
        ))
        .iter_ptr()
        .filter(|node| (**node).type_ == pg_sys::NodeTag::T_Aggref)
        .count();
        if all != marked.len() || !(*(*root).parse).havingQual.is_null() {
            Report::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                "_hyperdist_internal.partial() must wrap every aggregate of a query without HAVING",
            )
            .raise();
        }
        for aggref in marked {
            if (*aggref).aggsplit == pg_sys::AggSplit::AGGSPLIT_SIMPLE {
                pg_sys::mark_partial_aggref(aggref, pg_sys::AggSplit::AGGSPLIT_INITIAL_SERIAL);
            }
        }
        // Keep the plain aggregation paths, now partial; drop parallel ones (already split into
        // partial and final steps) and any that are not aggregation (min/max by index).
        let kept: Vec<*mut pg_sys::Node> = PgList::<pg_sys::Node>::from_pg((*grouped).pathlist)
            .iter_ptr()
            .filter(|path| {
                (**path).type_ == pg_sys::NodeTag::T_AggPath
                    && (*path.cast::<pg_sys::AggPath>()).aggsplit
                        == pg_sys::AggSplit::AGGSPLIT_SIMPLE
            })
            .collect();
        if kept.is_empty() {
            Report::new(
                PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                "no plan computes partial aggregates for this query",
            )
            .raise();
        }
        let mut pathlist = std::ptr::null_mut();
        for path in kept {
            (*path.cast::<pg_sys::AggPath>()).aggsplit = pg_sys::AggSplit::AGGSPLIT_INITIAL_SERIAL;
            pathlist = pg_sys::lappend(pathlist, path.cast());
        }
        (*grouped).pathlist = pathlist;
        (*grouped).partial_pathlist = std::ptr::null_mut();
    }
}
