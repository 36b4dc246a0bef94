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
}
