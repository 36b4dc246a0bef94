//! When may a data node leave a hypertable (`detach_data_node`) or the cluster
//! (`delete_data_node`)? Never silently at the cost of data, replication or room for new chunks.

use crate::catalog::placement::NodeUsage;
use crate::error::{Report, SqlState};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// `delete_data_node`: with `force`, the node goes even if chunks lose their only replica.
    Delete,
    /// `detach_data_node`: never loses the only replica of a chunk, forced or not.
    Detach,
}

impl Removal {
    fn verb(self) -> &'static str {
        match self {
            Removal::Delete => "delete",
            Removal::Detach => "detach",
        }
    }

    fn verb_ing(self) -> &'static str {
        match self {
            Removal::Delete => "deleting",
            Removal::Detach => "detaching",
        }
    }
}

/// Raises the first reason the removal may not go ahead; with `force`, warns instead where
/// forcing is allowed.
pub fn check(node: &str, usages: &[NodeUsage], removal: Removal, force: bool) {
    let (verb, verb_ing) = (removal.verb(), removal.verb_ing());
    for usage in usages {
        let table = &usage.table_name;
        if usage.sole_replicas > 0 {
            let may_lose_data = force && removal == Removal::Delete;
            if !may_lose_data {
                let hint = match removal {
                    Removal::Detach => format!(
                        "Ensure the data node \"{node}\" has no non-replicated data before detaching it."
                    ),
                    Removal::Delete => format!(
                        "Ensure the data node \"{node}\" has no non-replicated data before deleting it, \
                         or use force => true to delete it and lose that data."
                    ),
                };
                Report::new(
                    SqlState::INSUFFICIENT_NUM_DATA_NODES,
                    format!(
                        "{verb_ing} data node \"{node}\" would mean a data-loss for hypertable \"{table}\" \
                         since data node has the only data replica"
                    ),
                )
                .hint(hint)
                .raise();
            }
            Report::new(
                SqlState::INSUFFICIENT_NUM_DATA_NODES,
                format!("{verb_ing} data node \"{node}\" loses data of hypertable \"{table}\""),
            )
            .detail(format!(
                "{} chunk(s) had their only replica on the data node; they are removed from the hypertable.",
                usage.sole_replicas
            ))
            .warn();
        }
        if usage.shared_replicas > 0 {
            if !force {
                Report::new(
                    SqlState::DATA_NODE_IN_USE,
                    format!("data node \"{node}\" still holds data for distributed hypertable \"{table}\""),
                )
                .hint(format!(
                    "Use force => true to {verb} it anyway; its chunks will be under-replicated."
                ))
                .raise();
            }
            Report::new(
                SqlState::INSUFFICIENT_NUM_DATA_NODES,
                format!("distributed hypertable \"{table}\" is under-replicated"),
            )
            .detail(format!(
                "Some chunks no longer meet the replication target after {verb_ing} data node \"{node}\"."
            ))
            .warn();
        }
        if usage.data_nodes - 1 < i64::from(usage.replication_factor) {
            let report = Report::new(
                SqlState::INSUFFICIENT_NUM_DATA_NODES,
                format!("insufficient number of data nodes for distributed hypertable \"{table}\""),
            )
            .detail(format!(
                "Reducing the number of available data nodes on distributed hypertable \"{table}\" \
                 prevents full replication of new chunks."
            ));
            if force {
                report.warn();
            } else {
                report
                    .hint("Use force => true to force this operation.")
                    .raise();
            }
        }
    }
}
