//! Values known only when a scan starts (`now()`, parameters, initplan results): the plan's
//! runtime comparisons are evaluated then, and again at each rescan (a correlated parameter may
//! have changed), and become constants the data nodes see.

use std::ffi::CStr;

use pgrx::pg_sys;

use crate::catalog::hypertable::Hypertable;
use crate::plan::{ScanPlan, analyze};

/// The expressions of the plan's runtime comparisons, ready to evaluate.
pub struct RuntimeValues {
    states: Vec<*mut pg_sys::ExprState>,
    context: *mut pg_sys::ExprContext,
}

impl RuntimeValues {
    /// # Safety
    /// `node` must be the scan being started, `scan` its plan.
    pub unsafe fn new(node: *mut pg_sys::ForeignScanState, scan: *mut pg_sys::ForeignScan) -> Self {
        unsafe {
            let states = pgrx::PgList::<pg_sys::ExprState>::from_pg(pg_sys::ExecInitExprList(
                (*scan).fdw_exprs,
                node.cast(),
            ));
            RuntimeValues {
                states: states.iter_ptr().collect(),
                context: (*node).ss.ps.ps_ExprContext,
            }
        }
    }

    /// `plan` with its runtime comparisons evaluated: each ships as `column op 'value'::type`
    /// and narrows the time bounds or fixes the space hash; a NULL value matches no row.
    pub fn apply(&self, plan: &ScanPlan, hypertable: &Hypertable) -> ScanPlan {
        let mut plan = plan.clone();
        for comparison in std::mem::take(&mut plan.runtime_comparisons) {
            let Some(state) = self.states.get(comparison.expr).copied() else {
                continue;
            };
            let mut is_null = false;
            // SAFETY: evaluates an expression initialized for this scan, in its context.
            let value = unsafe { pg_sys::ExecEvalExpr(state, self.context, &mut is_null) };
            if is_null {
                plan.exclude_everything();
                continue;
            }
            // SAFETY: the state's expression is the one that produced `value`.
            let type_oid = unsafe { pg_sys::exprType((*state).expr.cast()) };
            if comparison.time {
                plan.narrow_time(&comparison.op, hypertable.time.internal(value));
            }
            if comparison.space && comparison.op == "=" {
                // SAFETY: `value` is a datum of `type_oid`.
                plan.narrow_space(vec![unsafe { analyze::space_hash(type_oid, value) }]);
            }
            let literal = crate::ddl::with_qualified_names(|| literal(type_oid, value));
            plan.ship(format!(
                "{} {} {literal}::{}",
                comparison.column, comparison.op, comparison.type_name
            ));
        }
        plan
    }
}

/// `value` as a quoted SQL literal (in ISO styles, which every node reads alike).
fn literal(type_oid: pg_sys::Oid, value: pg_sys::Datum) -> String {
    // SAFETY: the type's own output function on a datum of that type; quote_literal_cstr
    // returns a palloc'd copy.
    unsafe {
        let mut output = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(type_oid, &mut output, &mut varlena);
        let text = pg_sys::OidOutputFunctionCall(output, value);
        CStr::from_ptr(pg_sys::quote_literal_cstr(text))
            .to_string_lossy()
            .into_owned()
    }
}
