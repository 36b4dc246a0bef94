//! Planning scans of distributed hypertables: what each remote query must fetch and filter.
//!
//! At plan time (`GetForeignPlan`) the restriction clauses are analysed once into a [`ScanPlan`],
//! carried to the executor in the plan's `fdw_private` (as JSON, so plans can be copied and cached):
//!
//! - *columns*: only the columns the query uses are fetched;
//! - *shipped filter*: clauses made of columns, constants and built-in immutable operators and
//!   functions are deparsed (with PostgreSQL's own deparser, names schema-qualified) and sent in the
//!   remote WHERE; they are still checked on the access node too, so a shipped clause can never
//!   change a result;
//! - *chunk exclusion*: comparisons of the time column with constants bound the time range, and
//!   `space column = constant` picks one hash; chunks outside are not read at all. Comparisons
//!   with `now()`-like expressions or parameters are evaluated when the scan starts (and again at
//!   each rescan), then ship as constants and exclude chunks alike;
//! - *aggregate push-down* (`grouping`): when every group lives on one data node, the data nodes
//!   run the whole grouped query and return final groups.

pub mod analyze;
pub mod bucket_groups;
pub mod distinct;
pub mod grouping;
pub mod modify;
pub mod order;
pub mod partial;
pub mod paths;
pub mod time_ordered;
pub mod upper_paths;

use hyperdist_core::partition::Range;
use pgrx::pg_sys;
use serde::{Deserialize, Serialize};

use crate::catalog::hypertable::Hypertable;
use crate::ddl::chunk::{self, Chunk};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScanPlan {
    /// The hypertable's relation on the access node.
    pub relid: u32,
    /// Whether every restriction clause is in `shipped_filter` (none is left for the access node).
    pub all_shipped: bool,
    /// Set when the data nodes aggregate: the query each sends is grouped.
    pub grouping: Option<grouping::Grouping>,
    /// Attribute numbers (1-based) to fetch; `None` means every column.
    pub columns: Option<Vec<i16>>,
    /// SQL for the remote WHERE clause.
    pub shipped_filter: Option<String>,
    /// Internal time bounds: rows have `time_lower <= time < time_upper`.
    pub time_lower: Option<i64>,
    pub time_upper: Option<i64>,
    /// The space hashes rows can have, when the query fixes the space column to some values
    /// (`= value`, `IN (...)`).
    pub space_hashes: Option<Vec<i64>>,
    /// Comparisons whose other side is known only at execution (`now()`, parameters).
    pub runtime_comparisons: Vec<RuntimeComparison>,
    /// Set when the scan is an UPDATE or DELETE that the data nodes run.
    pub modify: Option<Modify>,
    /// The order each data node returns its rows in (merged here); empty for any order.
    pub order: Vec<order::SortKey>,
    /// At most this many rows from each data node.
    pub limit: Option<u64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Modify {
    /// The `column = expression` items of an UPDATE; empty for a DELETE.
    pub set: Vec<String>,
}

/// `column op expression`, the expression evaluated when the scan starts: then the comparison
/// ships as `column op 'value'::type`, and bounds the time or fixes the space hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuntimeComparison {
    /// Quoted.
    pub column: String,
    pub op: String,
    pub type_name: String,
    /// The expression's position in the plan's `fdw_exprs`.
    pub expr: usize,
    pub time: bool,
    pub space: bool,
}

impl ScanPlan {
    /// Narrows the time bounds by `time <op> value` (internal form).
    pub fn narrow_time(&mut self, op: &str, value: i64) {
        let above = value.saturating_add(1);
        let raise = |bound: &mut Option<i64>, v: i64| *bound = Some(bound.map_or(v, |b| b.max(v)));
        let cap = |bound: &mut Option<i64>, v: i64| *bound = Some(bound.map_or(v, |b| b.min(v)));
        match op {
            ">=" => raise(&mut self.time_lower, value),
            ">" => raise(&mut self.time_lower, above),
            "<" => cap(&mut self.time_upper, value),
            "<=" => cap(&mut self.time_upper, above),
            "=" => {
                raise(&mut self.time_lower, value);
                cap(&mut self.time_upper, above);
            }
            _ => {}
        }
    }

    /// Narrows the space column to values with these hashes (both conditions hold).
    pub fn narrow_space(&mut self, hashes: Vec<i64>) {
        self.space_hashes = Some(match self.space_hashes.take() {
            Some(known) => known.into_iter().filter(|h| hashes.contains(h)).collect(),
            None => hashes,
        });
    }

    /// Adds a clause to the remote WHERE.
    pub fn ship(&mut self, clause: String) {
        self.shipped_filter = Some(match self.shipped_filter.take() {
            Some(filter) => format!("{filter} AND {clause}"),
            None => clause,
        });
    }

    /// No row can match: a comparison with NULL.
    pub fn exclude_everything(&mut self) {
        self.time_lower = Some(i64::MAX);
        self.time_upper = Some(i64::MIN);
    }
}

impl ScanPlan {
    /// The chunks the scan can find rows in: those the time bounds and space hash do not exclude.
    pub fn chunks_to_read(&self, hypertable: &Hypertable) -> Vec<Chunk> {
        let (lower, upper) = (
            self.time_lower.unwrap_or(i64::MIN),
            self.time_upper.unwrap_or(i64::MAX),
        );
        // Bounds from different conditions (or a time slice and a runtime value) may exclude
        // everything.
        if lower >= upper {
            return Vec::new();
        }
        let time = Range::new(lower, upper);
        chunk::all(hypertable)
            .iter()
            .filter(|c| c.time.overlaps(&time))
            .filter(|c| {
                self.space_hashes
                    .as_ref()
                    .is_none_or(|hashes| hashes.iter().any(|h| c.space.contains(*h)))
            })
            .cloned()
            .collect()
    }
}

/// A planning value (a [`ScanPlan`], a path's sort keys) as `fdw_private`: JSON in a String
/// node, so plans can be copied and cached.
pub fn to_private<T: Serialize>(value: &T) -> *mut pg_sys::List {
    let json = std::ffi::CString::new(serde_json::to_string(value).expect("plan data serializes"))
        .expect("JSON has no NUL");
    // SAFETY: palloc'd copies in the current memory context, as planner nodes are.
    unsafe {
        pg_sys::lappend(
            std::ptr::null_mut(),
            pg_sys::makeString(pg_sys::pstrdup(json.as_ptr())).cast(),
        )
    }
}

/// The value back from `fdw_private` (its default if there is none).
///
/// # Safety
/// `private` must be NULL or a list made by [`to_private`] (possibly with more items after).
pub unsafe fn from_private<T: serde::de::DeserializeOwned + Default>(
    private: *mut pg_sys::List,
) -> T {
    unsafe {
        let list = pgrx::PgList::<pg_sys::Node>::from_pg(private);
        list.get_ptr(0)
            .and_then(|node| {
                let json = std::ffi::CStr::from_ptr((*node.cast::<pg_sys::String>()).sval);
                serde_json::from_str(&json.to_string_lossy()).ok()
            })
            .unwrap_or_default()
    }
}

/// The `fdw_private` of a path of an upper relation: the plan, then the expressions its runtime
/// comparisons evaluate (they become the ForeignScan's `fdw_exprs`, see `paths::get_plan`).
pub fn upper_private(plan: &ScanPlan, runtime_exprs: &[*mut pg_sys::Node]) -> *mut pg_sys::List {
    // SAFETY: lists of planner nodes, in the current memory context.
    unsafe { pg_sys::lappend(to_private(plan), node_list(runtime_exprs).cast()) }
}

/// A PostgreSQL List of `nodes` (NIL when empty), in the current memory context.
///
/// # Safety
/// Valid nodes; called on the backend's thread.
pub unsafe fn node_list(nodes: &[*mut pg_sys::Node]) -> *mut pg_sys::List {
    nodes.iter().fold(std::ptr::null_mut(), |list, node| {
        // SAFETY: appends a node pointer to a list of this memory context.
        unsafe { pg_sys::lappend(list, (*node).cast()) }
    })
}
