//! Distributed hypertable DDL: creating one (`create`), the table definition the data nodes get
//! (`definition`), chunk tables on data nodes (`chunk`) and their replicas (`replica`), DDL
//! forwarding (`utility`) and what chunks copy from their parent on a data node (`inherited`).

pub mod attach;
pub mod chunk;
pub mod create;
pub mod definition;
pub mod distributed_exec;
pub mod drop;
pub mod inherited;
pub mod replica;
pub mod retention;
pub mod utility;
pub mod vacuum;

/// Runs `f` with `search_path = pg_catalog` and the output styles remote sessions use (ISO dates,
/// postgres intervals, exact floats), so what PostgreSQL prints (types, functions, constants in
/// defaults, index definitions and shipped clauses) is schema-qualified and reads the same on
/// every node.
pub fn with_qualified_names<R>(f: impl FnOnce() -> R) -> R {
    const SETTINGS: [(&std::ffi::CStr, &std::ffi::CStr); 4] = [
        (c"search_path", c"pg_catalog"),
        (c"datestyle", c"ISO"),
        (c"intervalstyle", c"postgres"),
        (c"extra_float_digits", c"3"),
    ];
    crate::guc::with_settings(&SETTINGS, f)
}

/// The access node's `search_path`, as `SET` takes it.
pub fn access_node_search_path() -> String {
    crate::catalog::spi(pgrx::Spi::get_one::<String>(
        "SELECT current_setting('search_path')",
    ))
    .unwrap_or_default()
}

/// Runs `sql` on a data node session under `search_path` (the access node's, so names resolve
/// there as they did here). In a remote transaction the setting is local to it and set back to
/// `pg_catalog` (what remote sessions use) afterwards; on a session of its own (`in_transaction`
/// false, autocommit) it is set for the session.
pub fn run_with_search_path(
    session: &crate::remote::NodeConnection,
    search_path: &str,
    sql: &str,
    in_transaction: bool,
) -> Result<(), crate::remote::RemoteError> {
    session.query(
        "SELECT pg_catalog.set_config('search_path', $1, $2)",
        &[&search_path, &in_transaction],
    )?;
    session.batch_execute(sql)?;
    if in_transaction {
        session.batch_execute("SELECT pg_catalog.set_config('search_path', 'pg_catalog', true)")?;
    }
    Ok(())
}
