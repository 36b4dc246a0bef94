//! `create_distributed_hypertable`: turns a local table into a distributed hypertable.
//!
//! The table's definition is created on each chosen data node (inside the distributed
//! transaction), the hypertable is recorded in the catalog, and the local table is replaced by a
//! foreign table of the same name, columns, defaults, owner and grants. Existing rows are moved to
//! the data nodes with `migrate_data`. Anything that cannot be carried over (dependent views,
//! triggers, foreign keys to the table, identity columns) stops the call before anything changes.

use hyperdist_core::time::{DEFAULT_INTERVAL_US, TimeType};
use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, pg_sys};

use crate::catalog::{spi, spi_optional};
use crate::ddl::definition::{self, TableDefinition};
use crate::ddl::with_qualified_names;
use crate::error::{Report, SqlState, invalid_argument};
use crate::node::{self, HYPERTABLE_SERVER};
use crate::quote;
use crate::txn;

/// Everything `create_distributed_hypertable` was called with, NULLs included.
pub struct CreateArgs {
    pub relation: Option<pg_sys::Oid>,
    pub time_column: Option<String>,
    pub partitioning_column: Option<String>,
    pub number_partitions: Option<i32>,
    pub associated_schema: Option<String>,
    pub associated_prefix: Option<String>,
    /// The interval as text, with the name of the type it was given in.
    pub interval: Option<(String, String)>,
    pub create_default_indexes: bool,
    pub if_not_exists: bool,
    pub unsupported: Vec<(&'static str, bool)>,
    pub migrate_data: bool,
    pub replication_factor: Option<i32>,
    pub data_nodes: Option<Vec<Option<String>>>,
}

/// `(hypertable_id, schema_name, table_name, created)`
pub type Created = (i32, String, String, bool);

struct Table {
    oid: pg_sys::Oid,
    schema: String,
    name: String,
    relkind: String,
    persistence: String,
    owner: String,
    owned_by_user: bool,
    row_security: bool,
}

fn table(relid: pg_sys::Oid) -> Table {
    let row = Spi::connect(|client| {
        let mut rows = client.select(
            "SELECT n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence::text,
                    c.relowner::regrole::text, pg_has_role(c.relowner, 'USAGE'), c.relrowsecurity
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1",
            Some(1),
            &[relid.into()],
        )?;
        let Some(row) = rows.next() else {
            return Ok(None);
        };
        Ok::<_, pgrx::spi::SpiError>(Some(Table {
            oid: relid,
            schema: row.get::<String>(1)?.unwrap_or_default(),
            name: row.get::<String>(2)?.unwrap_or_default(),
            relkind: row.get::<String>(3)?.unwrap_or_default(),
            persistence: row.get::<String>(4)?.unwrap_or_default(),
            owner: row.get::<String>(5)?.unwrap_or_default(),
            owned_by_user: row.get::<bool>(6)?.unwrap_or(false),
            row_security: row.get::<bool>(7)?.unwrap_or(false),
        }))
    });
    spi(row).unwrap_or_else(|| {
        Report::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
            format!("relation with OID {} does not exist", relid.to_u32()),
        )
        .raise()
    })
}

fn unsupported(what: &str, hint: &str) -> ! {
    Report::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        what.to_string(),
    )
    .hint(hint.to_string())
    .raise()
}

pub fn create(args: CreateArgs) -> Created {
    let relid = args.relation.unwrap_or_else(|| {
        invalid_argument("relation cannot be NULL", "Give the table to distribute.")
    });
    let time_column = args.time_column.clone().unwrap_or_else(|| {
        invalid_argument(
            "time column cannot be NULL",
            "Give the name of the table's time column.",
        )
    });
    let table = table(relid);
    if let Some(existing) = crate::catalog::hypertable::by_relid(relid) {
        if args.if_not_exists {
            Report::new(
                SqlState::from_chars(b"TS110"),
                format!("table \"{}\" is already a hypertable, skipping", table.name),
            )
            .notice();
            return (existing.id, existing.schema, existing.table, false);
        }
        Report::new(
            SqlState::from_chars(b"TS110"),
            format!("table \"{}\" is already a hypertable", table.name),
        )
        .hint("Use if_not_exists => true to skip tables that are distributed already.")
        .raise();
    }
    check_table(&table);
    for (argument, given) in &args.unsupported {
        if *given {
            unsupported(
                &format!("{argument} is not supported on distributed hypertables"),
                "Leave it NULL: hyperdist partitions by time slices and a hash of the space column.",
            );
        }
    }

    let time_type = column_type(&table, &time_column);
    let time_type = TimeType::from_type_name(&time_type).unwrap_or_else(|| {
        Report::new(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            format!("invalid type for dimension \"{time_column}\""),
        )
        .detail(format!("Column \"{time_column}\" has type {time_type}."))
        .hint("Use an integer, timestamp, or date type.")
        .raise()
    });
    let interval = interval(time_type, &time_column, args.interval.as_ref());
    if let Some(space) = &args.partitioning_column {
        column_type(&table, space);
        if space == &time_column {
            invalid_argument(
                format!("column \"{space}\" is already the time dimension"),
                "Choose another column to partition by hash.",
            );
        }
    } else if args.number_partitions.is_some() {
        invalid_argument(
            "number_partitions needs a partitioning_column",
            "Give the column whose hash spreads rows over data nodes.",
        );
    }
    let nodes = choose_data_nodes(args.data_nodes.as_ref());
    let replication_factor =
        check_replication_factor(args.replication_factor, nodes.len(), &table.name);
    let partitions = args.partitioning_column.as_ref().map(|space| {
        let n = args.number_partitions.unwrap_or(nodes.len() as i32);
        if !(1..=32767).contains(&n) {
            invalid_argument(
                "invalid number of partitions: must be between 1 and 32767",
                "Use as many partitions as data nodes, or a multiple of that.",
            );
        }
        if (n as usize) < nodes.len() {
            insufficient_partitions_warning(space);
        }
        n as i16
    });

    let has_rows = spi(Spi::get_one::<bool>(&format!(
        "SELECT EXISTS (SELECT FROM ONLY {}.{})",
        quote::ident(&table.schema),
        quote::ident(&table.name)
    )))
    .unwrap_or(false);
    if has_rows && !args.migrate_data {
        Report::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("table \"{}\" is not empty", table.name),
        )
        .hint(
            "You can migrate data by specifying 'migrate_data => true' when calling this function.",
        )
        .raise();
    }

    let qualified = format!(
        "{}.{}",
        quote::ident(&table.schema),
        quote::ident(&table.name)
    );
    // The time column may not hold NULLs (rows are placed by it); this fails clearly if some do.
    spi(Spi::run(&format!(
        "ALTER TABLE {qualified} ALTER COLUMN {} SET NOT NULL",
        quote::ident(&time_column)
    )));
    let definition = with_qualified_names(|| definition::read(relid));
    if let Some(identity) = definition.columns.iter().find(|c| c.identity) {
        unsupported(
            &format!(
                "identity column \"{}\" is not supported on distributed hypertables",
                identity.name
            ),
            "Use a column with a sequence default (serial) instead.",
        );
    }

    let id = spi(Spi::get_one::<i32>(
        "SELECT nextval('_hyperdist_catalog.hypertable_id_seq')::int",
    ))
    .unwrap_or_default();
    let associated_schema = args
        .associated_schema
        .clone()
        .unwrap_or_else(|| "_hyperdist_internal".to_string());
    let associated_prefix = args
        .associated_prefix
        .clone()
        .unwrap_or_else(|| format!("_dist_hyper_{id}"));
    record(
        id,
        &table,
        &associated_schema,
        &associated_prefix,
        replication_factor,
        (&time_column, interval),
        args.partitioning_column.as_deref().zip(partitions),
        &nodes,
    );

    let remote_ddl = data_node_ddl(
        &definition,
        &table,
        &time_column,
        args.partitioning_column.as_deref(),
        args.create_default_indexes,
    );
    for name in &nodes {
        txn::session(&node::get(name), txn::Access::Write)
            .batch_execute(&remote_ddl)
            .unwrap_or_else(|e| e.raise());
    }

    if let (Some(hypertable), Some(first)) = (crate::catalog::hypertable::by_id(id), nodes.first())
    {
        crate::ddl::utility::record_indexes(&hypertable, &node::get(first));
    }
    replace_with_foreign_table(&table, &definition, has_rows);
    (id, table.schema, table.name, true)
}

fn check_table(table: &Table) {
    if !table.owned_by_user {
        Report::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("must be owner of table {}", table.name),
        )
        .raise();
    }
    match table.relkind.as_str() {
        "r" => {}
        "f" => invalid_argument(
            format!("table \"{}\" is a foreign table", table.name),
            "Distribute a regular table.",
        ),
        "p" => unsupported(
            &format!("table \"{}\" is partitioned", table.name),
            "Distribute a regular table: hyperdist partitions it by itself.",
        ),
        _ => invalid_argument(
            format!("\"{}\" is not a table", table.name),
            "Distribute a regular table.",
        ),
    }
    if table.persistence == "t" {
        unsupported(
            "temporary table is not supported",
            "Distribute a permanent table.",
        );
    }
    if table.row_security {
        unsupported(
            "row security is not supported",
            "Disable row level security on the table first.",
        );
    }
    let blockers = spi(Spi::get_one_with_args::<String>(
        "SELECT string_agg(what, ', ' ORDER BY what) FROM (
             SELECT DISTINCT 'view ' || v.oid::regclass::text AS what
               FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class
              WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1 AND v.oid <> $1
             UNION ALL
             SELECT 'trigger ' || quote_ident(tgname) FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal
             UNION ALL
             SELECT 'foreign key ' || quote_ident(conname) || ' of ' || conrelid::regclass::text
               FROM pg_constraint WHERE contype = 'f' AND (confrelid = $1 OR conrelid = $1)
             UNION ALL
             SELECT 'inheritance with ' || inhrelid::regclass::text FROM pg_inherits WHERE inhparent = $1
             UNION ALL
             SELECT 'inheritance from ' || inhparent::regclass::text FROM pg_inherits WHERE inhrelid = $1
             UNION ALL
             SELECT 'publication ' || p.pubname FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
              WHERE pr.prrelid = $1
         ) b",
        &[table.oid.into()],
    ));
    if let Some(blockers) = blockers {
        Report::new(
            PgSqlErrorCode::ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
            format!(
                "cannot distribute table \"{}\" because other objects depend on it",
                table.name
            ),
        )
        .detail(format!("Depending or dependent objects: {blockers}."))
        .hint("Drop them, create the distributed hypertable, then recreate them.")
        .raise();
    }
}

/// The column's type name; the column must exist.
fn column_type(table: &Table, column: &str) -> String {
    spi_optional(Spi::get_one_with_args::<String>(
        "SELECT format_type(atttypid, NULL) FROM pg_attribute
          WHERE attrelid = $1 AND attname = $2 AND attnum > 0 AND NOT attisdropped",
        &[table.oid.into(), column.into()],
    ))
    .unwrap_or_else(|| {
        Report::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
            format!("column \"{column}\" does not exist"),
        )
        .hint(format!(
            "The table \"{}\" has no column of that name.",
            table.name
        ))
        .raise()
    })
}

/// The chunk interval in the dimension's internal unit.
fn interval(time_type: TimeType, column: &str, given: Option<&(String, String)>) -> i64 {
    let Some((value, given_type)) = given else {
        if time_type.is_integer() {
            invalid_argument(
                format!("integer dimensions require an explicit interval (column \"{column}\")"),
                "Give chunk_time_interval in the column's own unit, e.g. chunk_time_interval => 86400.",
            );
        }
        return DEFAULT_INTERVAL_US;
    };
    let integer_given = matches!(given_type.as_str(), "smallint" | "integer" | "bigint");
    let interval = if integer_given || (time_type.is_integer() && given_type != "interval") {
        value.trim().parse::<i64>().ok()
    } else if time_type.is_integer() {
        invalid_argument(
            format!("invalid interval type for column \"{column}\""),
            "An integer time column takes an integer chunk_time_interval.",
        )
    } else {
        spi_optional(Spi::get_one_with_args::<i64>(
            "SELECT (extract(epoch FROM $1::interval) * 1000000)::bigint",
            &[value.as_str().into()],
        ))
    };
    match interval {
        Some(v) if v > 0 => {
            if time_type == TimeType::Date && v % 86_400_000_000 != 0 {
                invalid_argument(
                    format!("invalid interval for date column \"{column}\""),
                    "A date column takes whole days, e.g. chunk_time_interval => interval '7 days'.",
                );
            }
            v
        }
        _ => invalid_argument(
            format!("invalid interval \"{value}\" for column \"{column}\""),
            "chunk_time_interval must be positive: an interval for timestamp and date columns, a number for integer columns.",
        ),
    }
}

fn choose_data_nodes(requested: Option<&Vec<Option<String>>>) -> Vec<String> {
    let nodes: Vec<String> = match requested {
        Some(list) => {
            let mut names = Vec::new();
            for name in list {
                let name = node::require_name(name.clone());
                let data_node = node::get(&name);
                if names.contains(&data_node.name) {
                    invalid_argument(
                        format!("data node \"{name}\" is listed twice"),
                        "List each data node once.",
                    );
                }
                names.push(data_node.name);
            }
            names
        }
        None => node::available_names(),
    };
    if nodes.is_empty() {
        Report::new(
            SqlState::INSUFFICIENT_NUM_DATA_NODES,
            "no data nodes can be assigned to the hypertable",
        )
        .detail("No data nodes where available to assign to the hypertable.")
        .hint("Add data nodes to the database.")
        .raise();
    }
    if nodes.len() == 1 {
        Report::new(
            SqlState::INSUFFICIENT_NUM_DATA_NODES,
            "only one data node was assigned to the hypertable",
        )
        .detail(
            "A distributed hypertable should have at least two data nodes for best performance.",
        )
        .hint("Add more data nodes and attach them with attach_data_node().")
        .warn();
    }
    nodes
}

pub fn check_replication_factor(requested: Option<i32>, nodes: usize, table: &str) -> i16 {
    let factor = requested.unwrap_or(1);
    if factor as i64 > nodes as i64 {
        Report::new(
            SqlState::INSUFFICIENT_NUM_DATA_NODES,
            format!("replication factor too large for hypertable \"{table}\""),
        )
        .detail(format!(
            "The hypertable has {nodes} data nodes attached, while the replication factor is {factor}."
        ))
        .hint("Decrease the replication factor or attach more data nodes to the hypertable.")
        .raise();
    }
    if !(1..=32767).contains(&factor) {
        invalid_argument(
            "invalid replication factor",
            "A hypertable's replication factor must be between 1 and 32767.",
        );
    }
    factor as i16
}

pub fn insufficient_partitions_warning(column: &str) {
    Report::new(
        SqlState::INSUFFICIENT_NUM_DATA_NODES,
        format!("insufficient number of partitions for dimension \"{column}\""),
    )
    .detail("There are not enough partitions to make use of all data nodes.")
    .hint("Increase the number of partitions to at least the number of data nodes.")
    .warn();
}

#[allow(clippy::too_many_arguments)]
fn record(
    id: i32,
    table: &Table,
    associated_schema: &str,
    associated_prefix: &str,
    replication_factor: i16,
    (time_column, interval): (&str, i64),
    space: Option<(&str, i16)>,
    nodes: &[String],
) {
    spi(Spi::run_with_args(
        "INSERT INTO _hyperdist_catalog.hypertable
             (id, schema_name, table_name, associated_schema_name, associated_table_prefix, replication_factor)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            id.into(),
            table.schema.as_str().into(),
            table.name.as_str().into(),
            associated_schema.into(),
            associated_prefix.into(),
            replication_factor.into(),
        ],
    ));
    spi(Spi::run_with_args(
        "INSERT INTO _hyperdist_catalog.dimension (hypertable_id, column_name, column_type, interval_length)
         SELECT $1, $2, atttypid, $4 FROM pg_attribute WHERE attrelid = $3 AND attname = $2",
        &[id.into(), time_column.into(), table.oid.into(), interval.into()],
    ));
    if let Some((space_column, partitions)) = space {
        spi(Spi::run_with_args(
            "INSERT INTO _hyperdist_catalog.dimension (hypertable_id, column_name, column_type, num_slices)
             SELECT $1, $2, atttypid, $4 FROM pg_attribute WHERE attrelid = $3 AND attname = $2",
            &[id.into(), space_column.into(), table.oid.into(), partitions.into()],
        ));
    }
    for (position, name) in nodes.iter().enumerate() {
        spi(Spi::run_with_args(
            "INSERT INTO _hyperdist_catalog.hypertable_data_node (hypertable_id, node_name, position)
             VALUES ($1, $2, $3)",
            &[id.into(), name.as_str().into(), (position as i32).into()],
        ));
    }
}

/// What each data node runs: the table as [`TableDefinition::data_node_ddl`] has it, plus the
/// default indexes.
fn data_node_ddl(
    definition: &TableDefinition,
    table: &Table,
    time_column: &str,
    space_column: Option<&str>,
    default_indexes: bool,
) -> String {
    let qualified = format!(
        "{}.{}",
        quote::ident(&table.schema),
        quote::ident(&table.name)
    );
    let mut ddl = vec![
        format!(
            "CREATE SCHEMA IF NOT EXISTS {}",
            quote::ident(&table.schema)
        ),
        definition.data_node_table(&qualified),
    ];
    ddl.extend(definition.indexes.iter().cloned());
    if default_indexes {
        let time = quote::ident(time_column);
        if !definition.has_index_leading_with(&[time_column]) {
            ddl.push(format!("CREATE INDEX ON {qualified} ({time} DESC)"));
        }
        if let Some(space) = space_column
            && !definition.has_index_leading_with(&[space, time_column])
        {
            ddl.push(format!(
                "CREATE INDEX ON {qualified} ({}, {time} DESC)",
                quote::ident(space)
            ));
        }
    }
    ddl.join(";\n")
}

/// Swaps the local table for a foreign table with the same name, columns, owner and grants, moving
/// its rows (if any) through the distributed insert path.
fn replace_with_foreign_table(table: &Table, definition: &TableDefinition, has_rows: bool) {
    let qualified = format!(
        "{}.{}",
        quote::ident(&table.schema),
        quote::ident(&table.name)
    );
    let grants = spi(Spi::get_one_with_args::<Vec<String>>(
        "SELECT coalesce(array_agg(format('GRANT %s ON %s TO %s%s', a.privilege_type, $2,
                    CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(a.grantee::regrole::text) END,
                    CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)), '{}')
           FROM pg_class c, aclexplode(c.relacl) a
          WHERE c.oid = $1 AND a.grantee <> c.relowner",
        &[table.oid.into(), qualified.as_str().into()],
    ))
    .unwrap_or_default();
    let comments = spi(Spi::get_one_with_args::<Vec<String>>(
        "SELECT coalesce(array_agg(CASE WHEN d.objsubid = 0
                    THEN format('COMMENT ON FOREIGN TABLE %s IS %L', $2, d.description)
                    ELSE format('COMMENT ON COLUMN %s.%I IS %L', $2, a.attname, d.description) END), '{}')
           FROM pg_description d
           LEFT JOIN pg_attribute a ON a.attrelid = d.objoid AND a.attnum = d.objsubid
          WHERE d.objoid = $1 AND d.classoid = 'pg_class'::regclass",
        &[table.oid.into(), qualified.as_str().into()],
    ))
    .unwrap_or_default();
    // Sequences owned by the table's columns (serial) would be dropped with it: keep them.
    let owned_sequences = spi(Spi::get_one_with_args::<Vec<String>>(
        "SELECT coalesce(array_agg(format('%s|%I', d.objid::regclass::text, a.attname)), '{}')
           FROM pg_depend d JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
          WHERE d.refobjid = $1 AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
            AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'",
        &[table.oid.into()],
    ))
    .unwrap_or_default();
    for owned in &owned_sequences {
        let (sequence, _) = owned.split_once('|').unwrap_or((owned, ""));
        spi(Spi::run(&format!(
            "ALTER SEQUENCE {sequence} OWNED BY NONE"
        )));
    }

    let old = if has_rows {
        let temporary = format!("{}_hyperdist_migrating", table.name);
        spi(Spi::run(&format!(
            "ALTER TABLE {qualified} RENAME TO {}",
            quote::ident(&temporary)
        )));
        Some(format!(
            "{}.{}",
            quote::ident(&table.schema),
            quote::ident(&temporary)
        ))
    } else {
        spi(Spi::run(&format!("DROP TABLE {qualified}")));
        None
    };
    let foreign_table =
        with_qualified_names(|| definition.foreign_table(&qualified, HYPERTABLE_SERVER));
    spi(Spi::run(&foreign_table));
    spi(Spi::run(&format!(
        "ALTER FOREIGN TABLE {qualified} OWNER TO {}",
        quote::ident(&table.owner)
    )));
    for statement in grants.iter().chain(&comments) {
        spi(Spi::run(statement));
    }
    for owned in &owned_sequences {
        if let Some((sequence, column)) = owned.split_once('|') {
            spi(Spi::run(&format!(
                "ALTER SEQUENCE {sequence} OWNED BY {qualified}.{column}"
            )));
        }
    }
    if let Some(old) = old {
        spi(Spi::run(&format!(
            "INSERT INTO {qualified} SELECT * FROM {old}"
        )));
        spi(Spi::run(&format!("DROP TABLE {old}")));
    }
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    #[allow(clippy::too_many_arguments)]
    #[pg_extern(volatile)]
    fn create_distributed_hypertable(
        relation: Option<pg_sys::Oid>,
        time_column_name: Option<String>,
        partitioning_column: Option<String>,
        number_partitions: Option<i32>,
        associated_schema_name: Option<String>,
        associated_table_prefix: Option<String>,
        chunk_time_interval: Option<String>,
        chunk_time_interval_type: Option<String>,
        create_default_indexes: Option<bool>,
        if_not_exists: Option<bool>,
        partitioning_func_given: Option<bool>,
        migrate_data: Option<bool>,
        chunk_target_size_given: Option<bool>,
        chunk_sizing_func_given: Option<bool>,
        time_partitioning_func_given: Option<bool>,
        replication_factor: Option<i32>,
        data_nodes: Option<Vec<Option<String>>>,
    ) -> TableIterator<
        'static,
        (
            name!(hypertable_id, i32),
            name!(schema_name, String),
            name!(table_name, String),
            name!(created, bool),
        ),
    > {
        TableIterator::once(create(CreateArgs {
            relation,
            time_column: time_column_name,
            partitioning_column,
            number_partitions,
            associated_schema: associated_schema_name,
            associated_prefix: associated_table_prefix,
            interval: chunk_time_interval.zip(chunk_time_interval_type),
            create_default_indexes: create_default_indexes.unwrap_or(true),
            if_not_exists: if_not_exists.unwrap_or(false),
            unsupported: vec![
                (
                    "partitioning_func",
                    partitioning_func_given.unwrap_or(false),
                ),
                (
                    "chunk_target_size",
                    chunk_target_size_given.unwrap_or(false),
                ),
                (
                    "chunk_sizing_func",
                    chunk_sizing_func_given.unwrap_or(false),
                ),
                (
                    "time_partitioning_func",
                    time_partitioning_func_given.unwrap_or(false),
                ),
            ],
            migrate_data: migrate_data.unwrap_or(false),
            replication_factor,
            data_nodes,
        }))
    }
}

pgrx::extension_sql_file!(
    "../../sql/hypertable_views.sql",
    name = "hypertable_views",
    requires = ["catalog"]
);
pgrx::extension_sql_file!(
    "../../sql/hypertable_settings.sql",
    name = "hypertable_settings",
    requires = ["catalog"]
);
pgrx::extension_sql_file!(
    "../../sql/hypertables.sql",
    name = "hypertable_api",
    requires = [
        _hyperdist_internal::create_distributed_hypertable,
        "catalog"
    ]
);
