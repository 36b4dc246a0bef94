//! `distributed_exec(query, node_list, transactional)`: runs a statement on data nodes, for
//! what hyperdist does not forward itself (roles, functions and types a hypertable uses, other
//! tables). Transactional, it is part of the distributed transaction (committed on every node
//! or none); otherwise each node runs it on a session of its own, in autocommit (CREATE
//! DATABASE, VACUUM), and it may not be called inside a transaction block.

use pgrx::PgSqlErrorCode;
use pgrx::prelude::*;

use crate::catalog::metadata::{self, Membership};
use crate::error::{Report, invalid_argument};
use crate::guc;
use crate::node::{self, DataNode};
use crate::remote::connection::NodeConnection;
use crate::txn::{self, Access};

fn invalid_node_list(detail: &str) -> ! {
    Report::new(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        "invalid data nodes list",
    )
    .detail(detail)
    .hint("Give data node names, or NULL for every data node.")
    .raise()
}

fn target_nodes(node_list: Option<pgrx::Array<'_, String>>) -> Vec<DataNode> {
    let Some(list) = node_list else {
        return node::all();
    };
    let names: Vec<Option<String>> = list.iter().collect();
    // SAFETY: reads the header of a valid array.
    if unsafe { (*list.into_array_type()).ndim } > 1 {
        invalid_node_list("The array of data nodes cannot be multi-dimensional.");
    }
    if names.is_empty() {
        invalid_node_list("The array of data nodes cannot be empty.");
    }
    let mut nodes: Vec<DataNode> = Vec::new();
    for name in names {
        let name = name.unwrap_or_else(|| {
            invalid_node_list("The array of data nodes cannot contain null values.")
        });
        if !nodes.iter().any(|n| n.name == name) {
            nodes.push(node::get(&name));
        }
    }
    nodes
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    /// The body of the `distributed_exec` procedure.
    #[pg_extern(volatile)]
    fn distributed_exec(
        query: Option<&str>,
        node_list: Option<pgrx::Array<String>>,
        transactional: Option<bool>,
    ) {
        super::distributed_exec(query, node_list, transactional.unwrap_or(true));
    }
}

fn distributed_exec(
    query: Option<&str>,
    node_list: Option<pgrx::Array<String>>,
    transactional: bool,
) {
    if metadata::membership() != Membership::AccessNode {
        Report::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "function must be run on the access node only",
        )
        .hint("Call distributed_exec on the access node, after add_data_node.")
        .raise();
    }
    let query = query.filter(|q| !q.trim().is_empty()).unwrap_or_else(|| {
        invalid_argument(
            "empty command string",
            "Give the statement to run on the data nodes.",
        )
    });
    if !transactional {
        crate::error::prevent_in_transaction_block(c"distributed_exec()");
    }
    let nodes = target_nodes(node_list);
    let search_path = crate::ddl::access_node_search_path();
    for node in &nodes {
        let result = if transactional {
            let session = txn::session(node, Access::Write);
            crate::ddl::run_with_search_path(&session, &search_path, query, true)
        } else {
            NodeConnection::open(&node.target(), guc::connect_timeout()).and_then(|session| {
                crate::ddl::run_with_search_path(&session, &search_path, query, false)
            })
        };
        result.unwrap_or_else(|e| e.raise());
    }
}

pgrx::extension_sql!(
    r#"
CREATE PROCEDURE distributed_exec(query text, node_list name[] = NULL, transactional boolean = true)
LANGUAGE sql AS $$ SELECT _hyperdist_internal.distributed_exec(query, node_list::text[], transactional) $$;
COMMENT ON PROCEDURE distributed_exec IS
    'runs a statement on the given data nodes (NULL: all), in the distributed transaction or, with transactional => false, in autocommit on each node';
"#,
    name = "distributed_exec",
    requires = [_hyperdist_internal::distributed_exec]
);
