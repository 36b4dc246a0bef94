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
//! - *chunk exclusion*: comparisons of the time column with constants bound the time range (and
//!   with `now()`-like expressions or parameters, evaluated when the scan starts), and
//!   `space column = constant` picks one hash; chunks outside are not read at all.

pub mod analyze;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ScanPlan {
    /// Attribute numbers (1-based) to fetch; `None` means every column.
    pub columns: Option<Vec<i16>>,
    /// SQL for the remote WHERE clause.
    pub shipped_filter: Option<String>,
    /// Internal time bounds: rows have `time_lower <= time < time_upper`.
    pub time_lower: Option<i64>,
    pub time_upper: Option<i64>,
    /// The space hash every row has, when the query fixes the space column.
    pub space_hash: Option<i64>,
    /// Time comparisons whose other side is evaluated at execution (`now()`, parameters): the
    /// operator and the position of the expression in the plan's `fdw_exprs`.
    pub runtime_time_bounds: Vec<(String, usize)>,
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

    /// No row can match: a comparison with NULL.
    pub fn exclude_everything(&mut self) {
        self.time_lower = Some(i64::MAX);
        self.time_upper = Some(i64::MIN);
    }
}
