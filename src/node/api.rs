//! `add_data_node`, `delete_data_node`, `alter_data_node`. Their TimescaleDB 2.13 signatures (with
//! `name` arguments and defaults) are SQL wrappers in `sql/data_nodes.sql` that call these.

use pgrx::PgSqlErrorCode;
use pgrx::prelude::*;

use crate::catalog::{metadata, placement, spi};
use crate::error::{
    Report, SqlState, invalid_argument, prevent_if_read_only, prevent_in_transaction_block,
};
use crate::node::removal::{self, Removal};
use crate::node::{self, DataNode, bootstrap};
use crate::quote;
use crate::remote::cache;

fn check_port(port: i32) -> u16 {
    u16::try_from(port)
        .ok()
        .filter(|p| *p != 0)
        .unwrap_or_else(|| {
            invalid_argument(
                format!("invalid port number {port}"),
                "The port number must be between 1 and 65535.",
            )
        })
}

fn own_port() -> u16 {
    let port = spi(Spi::get_one::<i32>("SELECT current_setting('port')::int"));
    port.and_then(|p| u16::try_from(p).ok())
        .unwrap_or(node::DEFAULT_PORT)
}

/// A row of `add_data_node`'s result.
type AddedNode = (String, String, i32, String, bool, bool, bool);
/// A row of `alter_data_node`'s result.
type AlteredNode = (String, String, i32, String, bool);

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    #[pg_extern(volatile)]
    fn add_data_node(
        node_name: Option<String>,
        host: Option<String>,
        database: Option<String>,
        port: Option<i32>,
        if_not_exists: Option<bool>,
        bootstrap: Option<bool>,
        password: Option<String>,
    ) -> TableIterator<
        'static,
        (
            name!(node_name, String),
            name!(host, String),
            name!(port, i32),
            name!(database, String),
            name!(node_created, bool),
            name!(database_created, bool),
            name!(extension_created, bool),
        ),
    > {
        TableIterator::once(super::add(
            node_name,
            host,
            database,
            port,
            if_not_exists.unwrap_or(false),
            bootstrap.unwrap_or(true),
            password,
        ))
    }

    #[pg_extern(volatile)]
    fn delete_data_node(
        node_name: Option<String>,
        if_exists: Option<bool>,
        force: Option<bool>,
        repartition: Option<bool>,
        drop_database: Option<bool>,
    ) -> bool {
        // `repartition` shrinks space partitions of hypertables whose node count falls below
        // them; it has nothing to act on until hypertables have dimensions.
        let _ = repartition;
        super::delete(
            node_name,
            if_exists.unwrap_or(false),
            force.unwrap_or(false),
            drop_database.unwrap_or(false),
        )
    }

    #[pg_extern(volatile)]
    fn alter_data_node(
        node_name: Option<String>,
        host: Option<String>,
        database: Option<String>,
        port: Option<i32>,
        available: Option<bool>,
    ) -> TableIterator<
        'static,
        (
            name!(node_name, String),
            name!(host, String),
            name!(port, i32),
            name!(database, String),
            name!(available, bool),
        ),
    > {
        TableIterator::once(super::alter(node_name, host, database, port, available))
    }
}

pgrx::extension_sql_file!(
    "../../sql/data_nodes.sql",
    name = "data_node_api",
    requires = [
        _hyperdist_internal::add_data_node,
        _hyperdist_internal::delete_data_node,
        _hyperdist_internal::alter_data_node
    ]
);

fn add(
    node_name: Option<String>,
    host: Option<String>,
    database: Option<String>,
    port: Option<i32>,
    if_not_exists: bool,
    bootstrap: bool,
    password: Option<String>,
) -> AddedNode {
    let name = node::require_name(node_name);
    if name.is_empty() {
        invalid_argument(
            "data node name cannot be empty",
            "Give the data node a name to refer to it by.",
        );
    }
    let host = host.filter(|h| !h.is_empty()).unwrap_or_else(|| {
        invalid_argument(
            "a host needs to be specified",
            "Provide a host name or IP address of a data node to add.",
        )
    });
    let port = port.map(check_port).unwrap_or_else(own_port);
    let database = database.unwrap_or_else(|| {
        spi(Spi::get_one::<String>("SELECT current_database()::text")).unwrap_or_default()
    });
    prevent_if_read_only(c"add_data_node()");
    if bootstrap {
        prevent_in_transaction_block(c"add_data_node()");
    }
    if let metadata::Membership::DataNode { .. } = metadata::membership() {
        Report::new(
            SqlState::DATA_NODE_ASSIGNMENT_ALREADY_EXISTS,
            "unable to assign data nodes from an existing distributed database",
        )
        .hint("This database is a data node of another access node; add data nodes on that access node.")
        .raise();
    }

    if let Some(existing) = node::find(&name) {
        if !if_not_exists {
            Report::new(
                PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
                format!("server \"{name}\" already exists"),
            )
            .hint("Use if_not_exists => true to skip data nodes that exist.")
            .raise();
        }
        Report::new(
            PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            format!("data node \"{name}\" already exists, skipping"),
        )
        .notice();
        return (
            existing.name,
            existing.host,
            i32::from(existing.port),
            existing.dbname,
            false,
            false,
            false,
        );
    }

    let server = quote::ident(&name);
    spi(Spi::run(&format!(
        "CREATE SERVER {server} FOREIGN DATA WRAPPER hyperdist_fdw OPTIONS (host {}, port {}, dbname {})",
        quote::literal(&host),
        quote::literal(&port.to_string()),
        quote::literal(&database)
    )));
    if let Some(password) = &password {
        spi(Spi::run(&format!(
            "CREATE USER MAPPING FOR CURRENT_USER SERVER {server} OPTIONS (user {}, password {})",
            quote::literal(&current_user()),
            quote::literal(password)
        )));
    }
    metadata::become_access_node();

    let data_node = node::get(&name);
    let outcome = bootstrap::bootstrap(&data_node.target(), bootstrap);
    (
        name,
        host,
        i32::from(port),
        database,
        true,
        outcome.database_created,
        outcome.extension_created,
    )
}

fn current_user() -> String {
    spi(Spi::get_one::<String>("SELECT current_user::text")).unwrap_or_default()
}

fn delete(node_name: Option<String>, if_exists: bool, force: bool, drop_database: bool) -> bool {
    let name = node::require_name(node_name);
    prevent_if_read_only(c"delete_data_node()");
    if drop_database {
        prevent_in_transaction_block(c"delete_data_node()");
    }
    let Some(data_node) = node::find(&name) else {
        if if_exists {
            Report::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
                format!("data node \"{name}\" does not exist, skipping"),
            )
            .notice();
            return false;
        }
        node::get(&name); // raises "server does not exist"
        unreachable!()
    };
    removal::check(
        &name,
        &placement::hypertables_using(&name),
        Removal::Delete,
        force,
    );
    placement::remove_data_node(&name);

    let target = data_node.target();
    cache::forget_server(data_node.server);
    drop_server(&data_node);
    metadata::leave_cluster_if_no_data_nodes();
    if drop_database {
        bootstrap::drop_database(&target);
    }
    true
}

/// Drops the foreign server and its user mappings; anything else depending on it stops the drop.
fn drop_server(data_node: &DataNode) {
    let users = Spi::connect(|client| {
        client
            .select(
                "SELECT usename::text FROM pg_catalog.pg_user_mappings WHERE srvid = $1",
                None,
                &[data_node.server.into()],
            )?
            .map(|row| row.get::<String>(1).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
    });
    let server = quote::ident(&data_node.name);
    for user in spi(users) {
        let user = if user == "public" {
            "PUBLIC".to_string()
        } else {
            quote::ident(&user)
        };
        spi(Spi::run(&format!(
            "DROP USER MAPPING FOR {user} SERVER {server}"
        )));
    }
    spi(Spi::run(&format!("DROP SERVER {server} RESTRICT")));
}

fn alter(
    node_name: Option<String>,
    host: Option<String>,
    database: Option<String>,
    port: Option<i32>,
    available: Option<bool>,
) -> AlteredNode {
    let name = node::require_name(node_name);
    let current = node::get(&name);
    let port = port.map(check_port);
    let options = current_options(&current);
    let changes: Vec<String> = [
        ("host", host.filter(|h| !h.is_empty())),
        ("dbname", database),
        ("port", port.map(|p| p.to_string())),
        ("available", available.map(|a| a.to_string())),
    ]
    .into_iter()
    .filter_map(|(option, value)| {
        let value = value?;
        let action = if options.iter().any(|o| o == option) {
            "SET"
        } else {
            "ADD"
        };
        Some(format!("{action} {option} {}", quote::literal(&value)))
    })
    .collect();
    if !changes.is_empty() {
        prevent_if_read_only(c"alter_data_node()");
        spi(Spi::run(&format!(
            "ALTER SERVER {} OPTIONS ({})",
            quote::ident(&name),
            changes.join(", ")
        )));
    }
    let altered = node::get(&name);
    if altered.available && !current.available {
        crate::ddl::retention::drop_stale_tables_on(&altered);
    }
    (
        altered.name,
        altered.host,
        i32::from(altered.port),
        altered.dbname,
        altered.available,
    )
}

fn current_options(data_node: &DataNode) -> Vec<String> {
    let options = spi(Spi::get_one_with_args::<Vec<String>>(
        "SELECT coalesce(array_agg(split_part(o, '=', 1)), '{}')
           FROM pg_catalog.pg_foreign_server s, unnest(s.srvoptions) o WHERE s.oid = $1",
        &[data_node.server.into()],
    ));
    options.unwrap_or_default()
}
