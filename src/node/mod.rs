//! The data node registry. A data node is a foreign server of `hyperdist_fdw` (options `host`,
//! `port`, `dbname`, `available`); the credentials to reach it are the current user's user mapping,
//! or the PUBLIC one, or none (then the node must trust the user's name).

pub mod api;
pub mod bootstrap;
pub mod removal;

use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, pg_sys};

use crate::catalog::spi;
use crate::error::Report;
use crate::remote::ConnectionTarget;
use crate::remote::cache::CacheKey;

pub const DEFAULT_PORT: u16 = 5432;

#[derive(Clone, Debug)]
pub struct DataNode {
    pub name: String,
    pub server: pg_sys::Oid,
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub available: bool,
}

fn option<'a>(options: &'a [String], name: &str) -> Option<&'a str> {
    options.iter().find_map(|entry| {
        entry
            .split_once('=')
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value)
    })
}

impl DataNode {
    fn from_server(server: pg_sys::Oid, name: String, options: &[String]) -> DataNode {
        DataNode {
            host: option(options, "host").unwrap_or("localhost").to_string(),
            port: option(options, "port")
                .and_then(|p| p.parse().ok())
                .unwrap_or(DEFAULT_PORT),
            dbname: option(options, "dbname").unwrap_or(&name).to_string(),
            available: option(options, "available") != Some("false"),
            name,
            server,
        }
    }

    /// How this backend's user reaches the node.
    pub fn target(&self) -> ConnectionTarget {
        let (user, mapping) = spi(Spi::get_two_with_args::<String, Vec<String>>(
            "SELECT current_user::text,
                    (SELECT umoptions::text[] FROM pg_catalog.pg_user_mappings
                      WHERE srvid = $1 AND umuser IN (0, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user))
                      ORDER BY umuser DESC LIMIT 1)",
            &[self.server.into()],
        ));
        let mapping = mapping.unwrap_or_default();
        ConnectionTarget {
            node_name: self.name.clone(),
            host: self.host.clone(),
            port: self.port,
            dbname: self.dbname.clone(),
            user: option(&mapping, "user")
                .map(str::to_string)
                .or(user)
                .unwrap_or_default(),
            password: option(&mapping, "password").map(str::to_string),
        }
    }

    /// This backend's user's entry for the node in the connection cache.
    pub fn cache_key(&self) -> CacheKey {
        CacheKey {
            server: self.server,
            // SAFETY: reads the current user id; no preconditions.
            user: unsafe { pg_sys::GetUserId() },
        }
    }
}

/// The foreign server of distributed hypertables (see `src/fdw.rs`); it is not a data node.
pub const HYPERTABLE_SERVER: &str = "_hyperdist_distributed";

const SERVERS: &str = "SELECT s.oid, s.srvname::text, coalesce(s.srvoptions::text[], '{}'), w.fdwname = 'hyperdist_fdw'
                         FROM pg_catalog.pg_foreign_server s
                         JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
                        WHERE s.srvname <> '_hyperdist_distributed'";

/// The data node called `name`; `None` if there is no server of that name. A server of another
/// wrapper is an error: the name is taken by something that is not a data node.
pub fn find(name: &str) -> Option<DataNode> {
    let found = Spi::connect(|client| {
        let rows = client.select(
            &format!("{SERVERS} AND s.srvname = $1"),
            Some(1),
            &[name.into()],
        )?;
        rows.into_iter()
            .map(|row| {
                Ok::<_, pgrx::spi::SpiError>((
                    row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::InvalidOid),
                    row.get::<String>(2)?.unwrap_or_default(),
                    row.get::<Vec<String>>(3)?.unwrap_or_default(),
                    row.get::<bool>(4)?.unwrap_or(false),
                ))
            })
            .next()
            .transpose()
    });
    let (server, srvname, options, is_data_node) = spi(found)?;
    if !is_data_node {
        crate::error::invalid_argument(
            format!("data node \"{name}\" is not a hyperdist server"),
            "The foreign server of that name belongs to another foreign-data wrapper.",
        );
    }
    Some(DataNode::from_server(server, srvname, &options))
}

/// The data node called `name`, which must exist.
pub fn get(name: &str) -> DataNode {
    let known = crate::catalog::cache::data_nodes(load_all);
    if let Some(node) = known.iter().find(|n| n.name == name) {
        return node.clone();
    }
    find(name).unwrap_or_else(|| {
        Report::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!("server \"{name}\" does not exist"),
        )
        .hint("See timescaledb_information.data_nodes for the data nodes of this database.")
        .raise()
    })
}

/// Every data node of this database, by name.
pub fn all() -> Vec<DataNode> {
    crate::catalog::cache::data_nodes(load_all).to_vec()
}

fn load_all() -> Vec<DataNode> {
    let rows = Spi::connect(|client| {
        let rows = client.select(
            &format!("{SERVERS} AND w.fdwname = 'hyperdist_fdw' ORDER BY 2"),
            None,
            &[],
        )?;
        rows.into_iter()
            .map(|row| {
                Ok::<_, pgrx::spi::SpiError>(DataNode::from_server(
                    row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::InvalidOid),
                    row.get::<String>(2)?.unwrap_or_default(),
                    &row.get::<Vec<String>>(3)?.unwrap_or_default(),
                ))
            })
            .collect()
    });
    spi(rows)
}

/// The names of the data nodes that are available (not marked `available => false`).
pub fn available_names() -> Vec<String> {
    crate::catalog::cache::data_nodes(load_all)
        .iter()
        .filter(|n| n.available)
        .map(|n| n.name.clone())
        .collect()
}

/// Rejects a NULL node name the way TimescaleDB does.
pub fn require_name(name: Option<String>) -> String {
    name.unwrap_or_else(|| {
        crate::error::invalid_argument(
            "data node name cannot be NULL",
            "Give the name the data node was added with (see timescaledb_information.data_nodes).",
        )
    })
}
