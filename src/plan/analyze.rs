//! Turning a base relation's target list and restriction clauses into a [`ScanPlan`].

use std::ffi::CStr;

use hyperdist_core::partition;
use pgrx::PgList;
use pgrx::pg_sys;

use crate::catalog::hypertable::Hypertable;
use crate::plan::{RuntimeComparison, ScanPlan};

/// Built-in objects (below FirstNormalObjectId) exist alike on every node.
fn builtin(oid: pg_sys::Oid) -> bool {
    oid.to_u32() < pg_sys::FirstNormalObjectId
}

thread_local! {
    /// Functions of the hyperdist extension: they exist alike on every node too.
    static OWN_FUNCTIONS: std::cell::OnceCell<Vec<u32>> = const { std::cell::OnceCell::new() };
}

pub fn own_function(funcid: pg_sys::Oid) -> bool {
    OWN_FUNCTIONS.with(|own| {
        own.get_or_init(|| {
            let oids = pgrx::Spi::connect(|client| {
                client
                    .select(
                        "SELECT d.objid::int8 FROM pg_catalog.pg_depend d
                           JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'hyperdist'
                          WHERE d.classid = 'pg_catalog.pg_proc'::regclass
                            AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'",
                        None,
                        &[],
                    )?
                    .map(|row| row.get::<i64>(1).map(|oid| oid.unwrap_or_default() as u32))
                    .collect::<Result<Vec<_>, _>>()
            });
            crate::catalog::spi(oids)
        })
        .contains(&funcid.to_u32())
    })
}

/// A call of a function called `name` that `accept` takes (by oid), whose first argument is a
/// non-null constant (a bucket's width, a unit): the call, that constant and all the arguments.
pub(super) unsafe fn call_with_constant_first(
    expr: *mut pg_sys::Node,
    name: &CStr,
    accept: impl Fn(pg_sys::Oid) -> bool,
) -> Option<(
    *mut pg_sys::FuncExpr,
    *mut pg_sys::Const,
    PgList<pg_sys::Node>,
)> {
    unsafe {
        if expr.is_null() || tag(expr) != pg_sys::NodeTag::T_FuncExpr {
            return None;
        }
        let func = expr.cast::<pg_sys::FuncExpr>();
        let args = PgList::<pg_sys::Node>::from_pg((*func).args);
        let first = args.get_ptr(0)?;
        if tag(first) != pg_sys::NodeTag::T_Const || (*first.cast::<pg_sys::Const>()).constisnull {
            return None;
        }
        let called = pg_sys::get_func_name((*func).funcid);
        if called.is_null() || CStr::from_ptr(called) != name || !accept((*func).funcid) {
            return None;
        }
        Some((func, first.cast(), args))
    }
}

/// hyperdist's `time_bucket(<constant width>, value [, origin or offset])`.
pub(super) unsafe fn own_time_bucket(
    expr: *mut pg_sys::Node,
) -> Option<(
    *mut pg_sys::FuncExpr,
    *mut pg_sys::Const,
    PgList<pg_sys::Node>,
)> {
    unsafe { call_with_constant_first(expr, c"time_bucket", own_function) }
}

/// Built-in or hyperdist's own (`time_bucket`), and immutable: the same result on every node.
fn immutable_builtin_function(funcid: pg_sys::Oid) -> bool {
    // SAFETY: a syscache lookup of an existing function.
    (builtin(funcid) || own_function(funcid))
        && unsafe { pg_sys::func_volatile(funcid) } as u8 == pg_sys::PROVOLATILE_IMMUTABLE
}

unsafe fn tag(node: *mut pg_sys::Node) -> pg_sys::NodeTag {
    unsafe { (*node).type_ }
}

unsafe fn all_shippable(list: *mut pg_sys::List, relid: u32) -> bool {
    let list = unsafe { PgList::<pg_sys::Node>::from_pg(list) };
    list.iter_ptr()
        .all(|node| unsafe { shippable(node, relid) })
}

/// Whether `node` can be evaluated on a data node with the same result: columns of this relation,
/// constants of built-in types, built-in immutable operators and functions, and the plain
/// expression forms around them. Anything else (parameters, sub-queries, volatile or stable or
/// user-defined functions, casts through text) stays on the access node.
pub(super) unsafe fn shippable(node: *mut pg_sys::Node, relid: u32) -> bool {
    use pg_sys::NodeTag::*;
    if node.is_null() {
        return true;
    }
    unsafe {
        match tag(node) {
            T_Var => {
                let var = node.cast::<pg_sys::Var>();
                (*var).varno as u32 == relid && (*var).varlevelsup == 0 && (*var).varattno > 0
            }
            T_Const => builtin((*node.cast::<pg_sys::Const>()).consttype),
            T_OpExpr | T_DistinctExpr | T_NullIfExpr => {
                let op = node.cast::<pg_sys::OpExpr>();
                pg_sys::set_opfuncid(op);
                builtin((*op).opno)
                    && immutable_builtin_function((*op).opfuncid)
                    && all_shippable((*op).args, relid)
            }
            T_ScalarArrayOpExpr => {
                let op = node.cast::<pg_sys::ScalarArrayOpExpr>();
                pg_sys::set_sa_opfuncid(op);
                builtin((*op).opno)
                    && immutable_builtin_function((*op).opfuncid)
                    && all_shippable((*op).args, relid)
            }
            T_FuncExpr => {
                let func = node.cast::<pg_sys::FuncExpr>();
                immutable_builtin_function((*func).funcid) && all_shippable((*func).args, relid)
            }
            T_BoolExpr => all_shippable((*node.cast::<pg_sys::BoolExpr>()).args, relid),
            T_NullTest => shippable((*node.cast::<pg_sys::NullTest>()).arg.cast(), relid),
            T_BooleanTest => shippable((*node.cast::<pg_sys::BooleanTest>()).arg.cast(), relid),
            T_RelabelType => shippable((*node.cast::<pg_sys::RelabelType>()).arg.cast(), relid),
            T_ArrayExpr => all_shippable((*node.cast::<pg_sys::ArrayExpr>()).elements, relid),
            T_CoalesceExpr => all_shippable((*node.cast::<pg_sys::CoalesceExpr>()).args, relid),
            T_CaseExpr => {
                let case = node.cast::<pg_sys::CaseExpr>();
                shippable((*case).arg.cast(), relid)
                    && all_shippable((*case).args, relid)
                    && shippable((*case).defresult.cast(), relid)
            }
            T_CaseWhen => {
                let when = node.cast::<pg_sys::CaseWhen>();
                shippable((*when).expr.cast(), relid) && shippable((*when).result.cast(), relid)
            }
            T_Aggref => {
                // Whole aggregates (a data node returns final values); its arguments, FILTER,
                // ORDER BY and DISTINCT come along in the deparsed call.
                let agg = node.cast::<pg_sys::Aggref>();
                (builtin((*agg).aggfnoid) || own_function((*agg).aggfnoid))
                    && (*agg).agglevelsup == 0
                    && (*agg).aggsplit == pg_sys::AggSplit::AGGSPLIT_SIMPLE
                    && all_shippable((*agg).aggdirectargs, relid)
                    && all_shippable((*agg).args, relid)
                    && shippable((*agg).aggfilter.cast(), relid)
            }
            T_TargetEntry => shippable((*node.cast::<pg_sys::TargetEntry>()).expr.cast(), relid),
            _ => false,
        }
    }
}

/// Points the relation's Vars at range table entry 1, which is what the deparse context has.
unsafe fn renumber_vars(node: *mut pg_sys::Node) {
    use pg_sys::NodeTag::*;
    if node.is_null() {
        return;
    }
    unsafe {
        let each = |list: *mut pg_sys::List| {
            for child in PgList::<pg_sys::Node>::from_pg(list).iter_ptr() {
                renumber_vars(child);
            }
        };
        match tag(node) {
            T_Var => {
                let var = node.cast::<pg_sys::Var>();
                (*var).varno = 1;
                (*var).varnosyn = 1;
            }
            T_OpExpr | T_DistinctExpr | T_NullIfExpr => each((*node.cast::<pg_sys::OpExpr>()).args),
            T_ScalarArrayOpExpr => each((*node.cast::<pg_sys::ScalarArrayOpExpr>()).args),
            T_FuncExpr => each((*node.cast::<pg_sys::FuncExpr>()).args),
            T_BoolExpr => each((*node.cast::<pg_sys::BoolExpr>()).args),
            T_NullTest => renumber_vars((*node.cast::<pg_sys::NullTest>()).arg.cast()),
            T_BooleanTest => renumber_vars((*node.cast::<pg_sys::BooleanTest>()).arg.cast()),
            T_RelabelType => renumber_vars((*node.cast::<pg_sys::RelabelType>()).arg.cast()),
            T_ArrayExpr => each((*node.cast::<pg_sys::ArrayExpr>()).elements),
            T_CoalesceExpr => each((*node.cast::<pg_sys::CoalesceExpr>()).args),
            T_CaseExpr => {
                let case = node.cast::<pg_sys::CaseExpr>();
                renumber_vars((*case).arg.cast());
                each((*case).args);
                renumber_vars((*case).defresult.cast());
            }
            T_CaseWhen => {
                let when = node.cast::<pg_sys::CaseWhen>();
                renumber_vars((*when).expr.cast());
                renumber_vars((*when).result.cast());
            }
            T_Aggref => {
                let agg = node.cast::<pg_sys::Aggref>();
                each((*agg).aggdirectargs);
                each((*agg).args);
                renumber_vars((*agg).aggfilter.cast());
            }
            T_TargetEntry => renumber_vars((*node.cast::<pg_sys::TargetEntry>()).expr.cast()),
            _ => {}
        }
    }
}

/// SQL text of a shippable clause, as a data node reads it.
pub(super) unsafe fn deparse(clause: *mut pg_sys::Node, relid: pg_sys::Oid) -> String {
    unsafe {
        let copy = pg_sys::copyObjectImpl(clause.cast()).cast::<pg_sys::Node>();
        renumber_vars(copy);
        let context = pg_sys::deparse_context_for(c"t".as_ptr(), relid);
        let text = pg_sys::deparse_expression(copy, context, false, false);
        CStr::from_ptr(text).to_string_lossy().into_owned()
    }
}

/// Strips binary-compatible relabelings (`varchar` seen as `text`, say).
pub(super) unsafe fn strip(node: *mut pg_sys::Node) -> *mut pg_sys::Node {
    unsafe {
        let mut node = node;
        while !node.is_null() && tag(node) == pg_sys::NodeTag::T_RelabelType {
            node = (*node.cast::<pg_sys::RelabelType>()).arg.cast();
        }
        node
    }
}

/// `column op expression` (or `expression op column`, flipped) on this relation, with a built-in
/// operator and an expression of the column's own type: the column's attno, the operator's name
/// as if the column were on the left, and the expression.
unsafe fn comparison(
    clause: *mut pg_sys::Node,
    relid: u32,
) -> Option<(i16, String, *mut pg_sys::Node)> {
    unsafe {
        if tag(clause) != pg_sys::NodeTag::T_OpExpr {
            return None;
        }
        let op = clause.cast::<pg_sys::OpExpr>();
        let args = PgList::<pg_sys::Node>::from_pg((*op).args);
        if args.len() != 2 || !builtin((*op).opno) {
            return None;
        }
        let (left, right) = (strip(args.get_ptr(0)?), strip(args.get_ptr(1)?));
        let is_column = |node: *mut pg_sys::Node| {
            tag(node) == pg_sys::NodeTag::T_Var
                && (*node.cast::<pg_sys::Var>()).varno as u32 == relid
                && (*node.cast::<pg_sys::Var>()).varlevelsup == 0
        };
        let (var, other, flipped) = match (is_column(left), is_column(right)) {
            (true, false) => (left.cast::<pg_sys::Var>(), right, false),
            (false, true) => (right.cast::<pg_sys::Var>(), left, true),
            _ => return None,
        };
        if pg_sys::exprType(other) != (*var).vartype {
            return None;
        }
        let name = CStr::from_ptr(pg_sys::get_opname((*op).opno))
            .to_str()
            .ok()?
            .to_string();
        let name = match (flipped, name.as_str()) {
            (false, _) => name,
            (true, "<") => ">".into(),
            (true, "<=") => ">=".into(),
            (true, ">") => "<".into(),
            (true, ">=") => "<=".into(),
            (true, "=") => "=".into(),
            _ => return None,
        };
        Some(((*var).varattno, name, other))
    }
}

/// An expression that has one value for the whole scan, known only at execution: stable
/// functions (`now()`), parameters of prepared statements, no columns.
unsafe fn runtime_value(node: *mut pg_sys::Node) -> bool {
    unsafe {
        !pg_sys::contain_var_clause(node)
            && !pg_sys::contain_volatile_functions(node)
            && !pg_sys::contain_subplans(node)
    }
}

/// The space hash of a value of the space column (of type `type_oid`).
///
/// # Safety
/// `value` must be a valid datum of that type.
pub unsafe fn space_hash(type_oid: pg_sys::Oid, value: pg_sys::Datum) -> i64 {
    unsafe {
        let mut send = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeBinaryOutputInfo(type_oid, &mut send, &mut varlena);
        let bytes = pg_sys::OidSendFunctionCall(send, value);
        let len = pgrx::varsize_any_exhdr(bytes.cast());
        let data = std::slice::from_raw_parts(pgrx::vardata_any(bytes.cast()).cast::<u8>(), len);
        partition::space_hash(data)
    }
}

/// `space_column IN (constants)` (`= ANY(array constant)`): the hashes of its values.
unsafe fn space_in_list(
    clause: *mut pg_sys::Node,
    relid: u32,
    space_attno: i16,
) -> Option<Vec<i64>> {
    unsafe {
        if tag(clause) != pg_sys::NodeTag::T_ScalarArrayOpExpr {
            return None;
        }
        let op = clause.cast::<pg_sys::ScalarArrayOpExpr>();
        let args = PgList::<pg_sys::Node>::from_pg((*op).args);
        let (column, array) = (strip(args.get_ptr(0)?), args.get_ptr(1)?);
        let is_space = tag(column) == pg_sys::NodeTag::T_Var
            && (*column.cast::<pg_sys::Var>()).varno as u32 == relid
            && (*column.cast::<pg_sys::Var>()).varlevelsup == 0
            && (*column.cast::<pg_sys::Var>()).varattno == space_attno;
        let name = CStr::from_ptr(pg_sys::get_opname((*op).opno));
        if !(*op).useOr || !is_space || name != c"=" || tag(array) != pg_sys::NodeTag::T_Const {
            return None;
        }
        let array = array.cast::<pg_sys::Const>();
        if (*array).constisnull {
            return Some(Vec::new());
        }
        let element_type = pg_sys::get_element_type((*array).consttype);
        if element_type != (*column.cast::<pg_sys::Var>()).vartype {
            return None;
        }
        let mut length = 0i16;
        let mut by_value = false;
        let mut align = 0 as std::ffi::c_char;
        pg_sys::get_typlenbyvalalign(element_type, &mut length, &mut by_value, &mut align);
        let mut values: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut nulls: *mut bool = std::ptr::null_mut();
        let mut count = 0;
        pg_sys::deconstruct_array(
            pg_sys::pg_detoast_datum((*array).constvalue.cast_mut_ptr()).cast(),
            element_type,
            length.into(),
            by_value,
            align,
            &mut values,
            &mut nulls,
            &mut count,
        );
        let mut hashes = Vec::new();
        for i in 0..count as usize {
            if !*nulls.add(i) {
                hashes.push(space_hash(element_type, *values.add(i)));
            }
        }
        Some(hashes)
    }
}

/// The quoted names of columns `attnos` of relation `relid`.
pub fn column_names(relid: pg_sys::Oid, attnos: &[i16]) -> Vec<String> {
    attnos
        .iter()
        .map(|attno| {
            // SAFETY: a syscache lookup of a column the planner found in the relation.
            let name = unsafe { CStr::from_ptr(pg_sys::get_attname(relid, *attno, false)) };
            crate::quote::ident(&name.to_string_lossy())
        })
        .collect()
}

/// The attribute number of column `name` of relation `relid`.
pub fn attnum_of(relid: pg_sys::Oid, name: &str) -> Option<i16> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a syscache lookup; unknown names give InvalidAttrNumber.
    let attno = unsafe { pg_sys::get_attnum(relid, name.as_ptr()) };
    (attno > 0).then_some(attno)
}

/// A scan's plan, and the planner's expressions it leaves to the access node.
pub struct Analysis {
    pub plan: ScanPlan,
    /// Expressions whose values bound the time only at execution (the plan's `fdw_exprs`).
    pub runtime_exprs: Vec<*mut pg_sys::Node>,
    /// Restriction clauses the data nodes cannot evaluate: checked on the access node.
    pub local_clauses: Vec<*mut pg_sys::Node>,
    /// Restriction clauses the data nodes evaluate (checked here again only by EvalPlanQual).
    pub shipped_clauses: Vec<*mut pg_sys::Node>,
}

/// Analyses the scan of `hypertable` (relation `relid`).
///
/// # Safety
/// `baserel` must be the planner's RelOptInfo of the foreign table, during planning.
pub unsafe fn plan(
    baserel: *mut pg_sys::RelOptInfo,
    relid: pg_sys::Oid,
    hypertable: &Hypertable,
) -> Analysis {
    unsafe {
        let index = (*baserel).relid;
        let mut plan = ScanPlan::default();
        let mut runtime_exprs = Vec::new();
        let mut local_clauses = Vec::new();
        let mut shipped_clauses = Vec::new();
        let clauses = PgList::<pg_sys::RestrictInfo>::from_pg((*baserel).baserestrictinfo);

        let time_attno = attnum_of(relid, &hypertable.time.column);
        let space_attno = hypertable
            .space
            .as_ref()
            .and_then(|s| attnum_of(relid, &s.column));
        let mut shipped = Vec::new();
        plan.relid = relid.to_u32();
        plan.all_shipped = true;
        for info in clauses.iter_ptr() {
            let clause = (*info).clause.cast::<pg_sys::Node>();
            if (*info).pseudoconstant {
                continue;
            }
            let ships = shippable(clause, index);
            if ships {
                shipped.push(deparse(clause, relid));
            }
            let mut ships_at_start = false;
            if let Some((attno, op, other)) = comparison(clause, index) {
                let constant = (tag(other) == pg_sys::NodeTag::T_Const)
                    .then(|| other.cast::<pg_sys::Const>())
                    .filter(|c| !(**c).constisnull);
                match constant {
                    Some(constant) if Some(attno) == time_attno => {
                        plan.narrow_time(&op, hypertable.time.internal((*constant).constvalue));
                    }
                    Some(constant) if Some(attno) == space_attno && op == "=" => {
                        plan.narrow_space(vec![space_hash(
                            (*constant).consttype,
                            (*constant).constvalue,
                        )]);
                    }
                    None if !ships && runtime_value(other) => {
                        // `now()`, a parameter: evaluated when the scan starts, then shipped
                        // (and used for exclusion) as a constant.
                        let column = pg_sys::get_attname(relid, attno, false);
                        plan.runtime_comparisons.push(RuntimeComparison {
                            column: crate::quote::ident(&CStr::from_ptr(column).to_string_lossy()),
                            op,
                            type_name: CStr::from_ptr(pg_sys::format_type_be(pg_sys::exprType(
                                other,
                            )))
                            .to_string_lossy()
                            .into_owned(),
                            expr: runtime_exprs.len(),
                            time: Some(attno) == time_attno,
                            space: Some(attno) == space_attno,
                        });
                        runtime_exprs.push(other);
                        ships_at_start = true;
                    }
                    _ => {}
                }
            }
            if let Some(attno) = space_attno
                && let Some(hashes) = space_in_list(clause, index, attno)
            {
                plan.narrow_space(hashes);
            }
            if ships || ships_at_start {
                shipped_clauses.push(clause);
            } else {
                plan.all_shipped = false;
                local_clauses.push(clause);
            }
        }
        if !shipped.is_empty() {
            plan.shipped_filter = Some(shipped.join(" AND "));
        }

        // The columns the rows must carry: those of the target list and of the clauses checked
        // here (a column only a shipped clause reads stays on the data node).
        let mut used: *mut pg_sys::Bitmapset = std::ptr::null_mut();
        pg_sys::pull_varattnos((*(*baserel).reltarget).exprs.cast(), index, &mut used);
        for clause in &local_clauses {
            pg_sys::pull_varattnos(*clause, index, &mut used);
        }
        let mut columns = Vec::new();
        let mut whole_row = false;
        let mut member = -1;
        loop {
            member = pg_sys::bms_next_member(used, member);
            if member < 0 {
                break;
            }
            let attno = member + pg_sys::FirstLowInvalidHeapAttributeNumber;
            match attno {
                0 => whole_row = true,
                a if a > 0 => columns.push(a as i16),
                _ => {}
            }
        }
        plan.columns = (!whole_row).then_some(columns);

        Analysis {
            plan,
            runtime_exprs,
            local_clauses,
            shipped_clauses,
        }
    }
}
