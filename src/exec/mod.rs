//! Executing scans of distributed hypertables, and the UPDATE and DELETE the data nodes run.

pub mod data_node_plan;
pub mod modify;
pub mod row_batches;
pub mod runtime_values;
pub mod sample;
pub mod scan;
