//! `attach_data_node` and `detach_data_node`: which data nodes a hypertable places new chunks on.
//! Existing chunks stay where they are.

use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, pg_sys};

use crate::catalog::hypertable::{self, Hypertable};
use crate::catalog::{placement, spi};
use crate::error::{Report, SqlState, invalid_argument};
use crate::node;
use crate::node::removal::{self, Removal};
use crate::txn;

fn require_hypertable(relation: Option<pg_sys::Oid>) -> Hypertable {
    hypertable::require(relation.unwrap_or_else(|| {
        invalid_argument(
            "hypertable cannot be NULL",
            "Give the distributed hypertable.",
        )
    }))
}

fn set_partitions(hypertable: &Hypertable, partitions: usize) {
    spi(Spi::run_with_args(
        "UPDATE _hyperdist_catalog.dimension SET num_slices = $2
          WHERE hypertable_id = $1 AND num_slices IS NOT NULL",
        &[hypertable.id.into(), (partitions as i16).into()],
    ));
}

pub fn attach(
    node_name: Option<String>,
    relation: Option<pg_sys::Oid>,
    if_not_attached: bool,
    repartition: bool,
) -> (i32, Option<i32>, String) {
    let name = node::require_name(node_name);
    let hypertable = require_hypertable(relation);
    let data_node = node::get(&name);
    if hypertable.data_nodes.contains(&data_node.name) {
        let message = format!(
            "data node \"{name}\" is already attached to hypertable \"{}\"",
            hypertable.table
        );
        if if_not_attached {
            Report::new(
                SqlState::from_chars(b"TS172"),
                format!("{message}, skipping"),
            )
            .notice();
            return (hypertable.id, None, name);
        }
        Report::new(SqlState::from_chars(b"TS172"), message)
            .hint("Use if_not_attached => true to skip data nodes that are attached already.")
            .raise();
    }

    // The new node gets the table as an existing node has it now.
    let source = hypertable
        .data_nodes
        .iter()
        .map(|n| node::get(n))
        .find(|n| n.available)
        .unwrap_or_else(|| {
            Report::new(
                SqlState::INSUFFICIENT_NUM_DATA_NODES,
                format!(
                    "no available data node holds hypertable \"{}\"",
                    hypertable.table
                ),
            )
            .hint("Mark a data node of the hypertable available with alter_data_node().")
            .raise()
        });
    let qualified = hypertable.qualified_name();
    let rows = txn::session(&source, txn::Access::Read)
        .query(
            "SELECT _hyperdist_internal.table_definition($1::text::regclass)",
            &[&qualified],
        )
        .unwrap_or_else(|e| e.raise());
    let ddl: String = rows[0].get(0);
    txn::session(&data_node, txn::Access::Write)
        .batch_execute(&ddl)
        .unwrap_or_else(|e| e.raise());

    spi(Spi::run_with_args(
        "INSERT INTO _hyperdist_catalog.hypertable_data_node (hypertable_id, node_name, position)
         SELECT $1, $2, coalesce(max(position) + 1, 0)
           FROM _hyperdist_catalog.hypertable_data_node WHERE hypertable_id = $1",
        &[hypertable.id.into(), data_node.name.as_str().into()],
    ));
    let nodes = hypertable.data_nodes.len() + 1;
    if let Some(space) = &hypertable.space
        && (space.partitions as usize) < nodes
    {
        if repartition {
            set_partitions(&hypertable, nodes);
            Report::new(
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                format!(
                    "the number of partitions in dimension \"{}\" was increased to {nodes}",
                    space.column
                ),
            )
            .detail(
                "To make use of all attached data nodes, a distributed hypertable needs at least as \
                 many partitions in the first closed (space) dimension as there are attached data nodes.",
            )
            .notice();
        } else {
            crate::ddl::create::insufficient_partitions_warning(&space.column);
        }
    }
    (hypertable.id, None, data_node.name)
}

pub fn detach(
    node_name: Option<String>,
    relation: Option<pg_sys::Oid>,
    if_attached: bool,
    force: bool,
    repartition: bool,
    drop_remote_data: bool,
) -> i32 {
    let name = node::require_name(node_name);
    let data_node = node::get(&name);
    let targets: Vec<Hypertable> = match relation {
        Some(relid) => {
            let hypertable = hypertable::require(relid);
            if !hypertable.data_nodes.contains(&data_node.name) {
                let message = format!(
                    "data node \"{name}\" is not attached to hypertable \"{}\"",
                    hypertable.table
                );
                if if_attached {
                    Report::new(
                        SqlState::from_chars(b"TS173"),
                        format!("{message}, skipping"),
                    )
                    .notice();
                    return 0;
                }
                Report::new(SqlState::from_chars(b"TS173"), message)
                    .hint("See timescaledb_information.hypertables for the data nodes of each hypertable.")
                    .raise();
            }
            vec![hypertable]
        }
        None => placement::hypertables_using(&name)
            .iter()
            .filter_map(|usage| hypertable::by_id(usage.hypertable_id))
            .collect(),
    };
    let usages: Vec<_> = placement::hypertables_using(&name)
        .into_iter()
        .filter(|usage| targets.iter().any(|h| h.id == usage.hypertable_id))
        .collect();
    removal::check(&name, &usages, Removal::Detach, force);

    for hypertable in &targets {
        placement::detach_data_node(&name, hypertable.id);
        hypertable.invalidate_plans();
        let remaining = hypertable.data_nodes.len() - 1;
        if let Some(space) = &hypertable.space
            && repartition
            && remaining > 0
            && (space.partitions as usize) > remaining
        {
            set_partitions(hypertable, remaining);
            Report::new(
                PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
                format!(
                    "the number of partitions in dimension \"{}\" of hypertable \"{}\" was decreased to {remaining}",
                    space.column, hypertable.table
                ),
            )
            .notice();
        }
        if drop_remote_data {
            txn::session(&data_node, txn::Access::Write)
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS {} CASCADE",
                    hypertable.qualified_name()
                ))
                .unwrap_or_else(|e| e.raise());
        }
    }
    targets.len() as i32
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    #[pg_extern(volatile)]
    fn attach_data_node(
        node_name: Option<String>,
        hypertable: Option<pg_sys::Oid>,
        if_not_attached: Option<bool>,
        repartition: Option<bool>,
    ) -> TableIterator<
        'static,
        (
            name!(hypertable_id, i32),
            name!(node_hypertable_id, Option<i32>),
            name!(node_name, String),
        ),
    > {
        TableIterator::once(attach(
            node_name,
            hypertable,
            if_not_attached.unwrap_or(false),
            repartition.unwrap_or(true),
        ))
    }

    #[pg_extern(volatile)]
    fn detach_data_node(
        node_name: Option<String>,
        hypertable: Option<pg_sys::Oid>,
        if_attached: Option<bool>,
        force: Option<bool>,
        repartition: Option<bool>,
        drop_remote_data: Option<bool>,
    ) -> i32 {
        detach(
            node_name,
            hypertable,
            if_attached.unwrap_or(false),
            force.unwrap_or(false),
            repartition.unwrap_or(true),
            drop_remote_data.unwrap_or(false),
        )
    }
}
