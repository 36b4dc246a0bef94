//! Information views (their SQL is in `sql/views.sql`) and the functions that feed them.

mod data_nodes;
mod sizes;
