//! Executing scans of distributed hypertables.

pub mod runtime_values;
pub mod scan;
