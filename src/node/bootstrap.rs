//! Making a PostgreSQL server into a data node of this access node: its database, the extension
//! there, the checks that it can take part in distributed transactions, and the cluster stamp.
//!
//! Creating the database and the extension cannot be undone by this transaction's rollback (they
//! run in their own remote sessions, as in TimescaleDB); the stamp is written in a remote
//! transaction that commits only after every check passed.

use hyperdist_core::compat;
use pgrx::prelude::*;

use crate::catalog::{metadata, spi, spi_optional};
use crate::error::{Report, SqlState};
use crate::guc;
use crate::quote;
use crate::remote::{ConnectionTarget, NodeConnection};

const EXTENSION: &str = "hyperdist";
/// Databases tried, in order, for the session that creates the data node's database.
const MAINTENANCE_DATABASES: [&str; 2] = ["postgres", "template1"];

pub struct Outcome {
    pub database_created: bool,
    pub extension_created: bool,
}

/// Prepares the node `target` points at. With `create`, the database and the extension are made
/// when missing; without, they must exist already.
pub fn bootstrap(target: &ConnectionTarget, create: bool) -> Outcome {
    let mut database_created = false;
    if create {
        let maintenance = open_maintenance_session(target);
        check_server(&maintenance, target);
        database_created = ensure_database(&maintenance, target);
    }
    let session = open(target);
    if !create {
        check_server(&session, target);
    }
    run(&session, "BEGIN");
    let extension_created = if create {
        ensure_extension(&session, target)
    } else {
        require_extension(&session, target);
        false
    };
    let stamp = format!(
        "SELECT _hyperdist_internal.set_dist_id({}::uuid)",
        quote::literal(&metadata::uuid())
    );
    run(&session, &stamp);
    run(&session, "COMMIT");
    Outcome {
        database_created,
        extension_created,
    }
}

fn open(target: &ConnectionTarget) -> NodeConnection {
    NodeConnection::open(target, guc::connect_timeout()).unwrap_or_else(|e| e.raise())
}

fn run(session: &NodeConnection, sql: &str) {
    session.batch_execute(sql).unwrap_or_else(|e| e.raise());
}

fn open_maintenance_session(target: &ConnectionTarget) -> NodeConnection {
    let mut last_error = None;
    for dbname in MAINTENANCE_DATABASES {
        match NodeConnection::open(&target.with_dbname(dbname), guc::connect_timeout()) {
            Ok(session) => return session,
            Err(err) => last_error = Some(err),
        }
    }
    last_error
        .expect("at least one maintenance database was tried")
        .raise()
}

fn cannot_add(target: &ConnectionTarget, detail: String, hint: &str) -> ! {
    Report::new(
        SqlState::DATA_NODE_INVALID_CONFIG,
        format!("cannot add \"{}\" as a data node", target.node_name),
    )
    .detail(detail)
    .hint(hint)
    .raise()
}

/// Server-wide requirements: hyperdist installed in a compatible version and preloaded, and
/// prepared transactions enabled (two-phase commit needs them).
fn check_server(session: &NodeConnection, target: &ConnectionTarget) {
    let rows = session
        .query(
            "SELECT (SELECT default_version FROM pg_available_extensions WHERE name = $1),
                    current_setting('shared_preload_libraries'),
                    current_setting('max_prepared_transactions')::int,
                    current_setting('max_connections')::int",
            &[&EXTENSION],
        )
        .unwrap_or_else(|e| e.raise());
    let row = &rows[0];
    let available: Option<String> = row.get(0);
    let preload: String = row.get(1);
    let prepared: i32 = row.get(2);
    let connections: i32 = row.get(3);

    let Some(available) = available else {
        Report::new(
            SqlState::DATA_NODE_INVALID_CONFIG,
            "hyperdist extension not available on remote PostgreSQL instance",
        )
        .detail(format!("Data node \"{}\" at {}:{}.", target.node_name, target.host, target.port))
        .hint("Install hyperdist on the data node's server (scripts/setup does) and add it to shared_preload_libraries.")
        .raise()
    };
    check_version(&available, target);
    if !compat::preloads(&preload, EXTENSION) {
        cannot_add(
            target,
            format!(
                "hyperdist is not in shared_preload_libraries on the data node (it is \"{preload}\")."
            ),
            "Add hyperdist to shared_preload_libraries in postgresql.conf on the data node and restart it.",
        );
    }
    if prepared == 0 {
        cannot_add(
            target,
            "prepared transactions need to be enabled (max_prepared_transactions is 0)."
                .to_string(),
            "Set max_prepared_transactions above 0 in postgresql.conf on the data node (as high as \
             max_connections is recommended) and restart it.",
        );
    }
    if prepared < connections {
        Report::new(SqlState::DATA_NODE_INVALID_CONFIG, "max_prepared_transactions is set low")
            .detail(format!(
                "Data node \"{}\" has max_prepared_transactions = {prepared} and max_connections = {connections}.",
                target.node_name
            ))
            .hint("Set max_prepared_transactions to at least max_connections on the data node.")
            .warn();
    }
}

fn check_version(remote: &str, target: &ConnectionTarget) {
    let local = env!("CARGO_PKG_VERSION");
    if !compat::versions_compatible(local, remote) {
        Report::new(
            SqlState::DATA_NODE_INVALID_CONFIG,
            "remote PostgreSQL instance has an incompatible hyperdist extension version",
        )
        .detail(format!(
            "Access node version: {local}, data node \"{}\" version: {remote}.",
            target.node_name
        ))
        .hint("Install the same hyperdist version on the access node and on every data node.")
        .raise();
    }
}

/// The access node's database settings a data node's database must share.
struct DatabaseShape {
    encoding: String,
    collate: String,
    ctype: String,
}

fn local_database_shape() -> DatabaseShape {
    let (encoding, collate, ctype) = spi(Spi::get_three::<String, String, String>(
        "SELECT pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text
           FROM pg_catalog.pg_database WHERE datname = current_database()",
    ));
    DatabaseShape {
        encoding: encoding.unwrap_or_default(),
        collate: collate.unwrap_or_default(),
        ctype: ctype.unwrap_or_default(),
    }
}

/// Creates the node's database like the access node's; if it exists, checks it matches.
fn ensure_database(session: &NodeConnection, target: &ConnectionTarget) -> bool {
    let local = local_database_shape();
    let rows = session
        .query(
            "SELECT pg_encoding_to_char(encoding)::text, datcollate::text, datctype::text
               FROM pg_database WHERE datname = $1",
            &[&target.dbname],
        )
        .unwrap_or_else(|e| e.raise());
    let Some(row) = rows.first() else {
        let create = format!(
            "CREATE DATABASE {} ENCODING {} LC_COLLATE {} LC_CTYPE {} TEMPLATE template0",
            quote::ident(&target.dbname),
            quote::literal(&local.encoding),
            quote::literal(&local.collate),
            quote::literal(&local.ctype)
        );
        run(session, &create);
        return true;
    };
    Report::new(
        pgrx::PgSqlErrorCode::ERRCODE_DUPLICATE_DATABASE,
        format!(
            "database \"{}\" already exists on data node, skipping",
            target.dbname
        ),
    )
    .notice();
    let remote = DatabaseShape {
        encoding: row.get(0),
        collate: row.get(1),
        ctype: row.get(2),
    };
    for (what, expected, actual) in [
        ("encoding", &local.encoding, &remote.encoding),
        ("collation", &local.collate, &remote.collate),
        ("LC_CTYPE", &local.ctype, &remote.ctype),
    ] {
        if expected != actual {
            Report::new(
                SqlState::DATA_NODE_INVALID_CONFIG,
                format!("database exists but has wrong {what}"),
            )
            .detail(format!(
                "Expected database {what} to be \"{expected}\" but it was \"{actual}\"."
            ))
            .hint(
                "Give add_data_node another database name, or drop the data node's database first.",
            )
            .raise();
        }
    }
    false
}

fn installed_version(session: &NodeConnection) -> Option<String> {
    let rows = session
        .query(
            "SELECT extversion FROM pg_extension WHERE extname = $1",
            &[&EXTENSION],
        )
        .unwrap_or_else(|e| e.raise());
    rows.first().map(|row| row.get(0))
}

/// Creates the extension in the node's database (in the schema it has here), unless present.
fn ensure_extension(session: &NodeConnection, target: &ConnectionTarget) -> bool {
    if let Some(version) = installed_version(session) {
        Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            "extension \"hyperdist\" already exists on data node, skipping",
        )
        .detail(format!(
            "hyperdist extension version on {}:{} was {version}.",
            target.host, target.port
        ))
        .notice();
        check_version(&version, target);
        return false;
    }
    let schema = spi_optional(Spi::get_one::<String>(
        "SELECT n.nspname::text FROM pg_catalog.pg_extension e
           JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
          WHERE e.extname = 'hyperdist'",
    ))
    .unwrap_or_else(|| "public".to_string());
    let schema = quote::ident(&schema);
    run(
        session,
        &format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}; CREATE EXTENSION hyperdist WITH SCHEMA {schema}"
        ),
    );
    true
}

fn require_extension(session: &NodeConnection, target: &ConnectionTarget) {
    match installed_version(session) {
        Some(version) => check_version(&version, target),
        None => Report::new(
            SqlState::DATA_NODE_INVALID_CONFIG,
            "database does not have hyperdist extension loaded",
        )
        .detail(format!(
            "The hyperdist extension is not loaded in database \"{}\" on node at {}:{}.",
            target.dbname, target.host, target.port
        ))
        .hint("Run CREATE EXTENSION hyperdist there, or add the data node with bootstrap => true.")
        .raise(),
    }
}

/// Drops the node's database, from a session on one of its maintenance databases.
pub fn drop_database(target: &ConnectionTarget) {
    let session = open_maintenance_session(target);
    run(
        &session,
        &format!("DROP DATABASE {}", quote::ident(&target.dbname)),
    );
}
