//! Executing scans of distributed hypertables.

pub mod scan;
