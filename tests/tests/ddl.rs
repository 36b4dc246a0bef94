//! Schema changes on distributed hypertables against real servers: after each DDL statement the
//! table on every data node, and every chunk there (old and new), has the access node's
//! definition; a statement that fails on one node changes no node; DDL that cannot be distributed
//! is refused by name.

use hyperdist_tests::{Cluster, db_error};
use postgres::Client;

const DB: &str = "ddl";

/// The parts of a table's definition both node kinds must agree on, as text: columns (name,
/// type, NOT NULL), CHECK constraints, and indexes by shape (uniqueness and definition after the
/// table name).
#[derive(Debug, PartialEq, Eq, Clone)]
struct Shape {
    columns: String,
    checks: String,
    indexes: String,
}

const COLUMNS: &str = "coalesce((SELECT string_agg(format('%I %s%s', attname, format_type(atttypid, atttypmod),
                                        CASE WHEN attnotnull THEN ' not null' ELSE '' END), ', ' ORDER BY attname)
                 FROM pg_attribute WHERE attrelid = t.oid AND attnum > 0 AND NOT attisdropped), '')";
const CHECKS: &str = "coalesce((SELECT string_agg(d, ', ' ORDER BY d) FROM
                   (SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint
                     WHERE conrelid = t.oid AND contype = 'c') s), '')";

/// The shape of the table `relation` and of each of its inheritance children, on a data node.
fn data_node_shapes(client: &mut Client, relation: &str) -> Vec<(String, Shape)> {
    let sql = format!(
        "SELECT t.oid::regclass::text, {COLUMNS}, {CHECKS},
                coalesce((SELECT string_agg(d, ', ' ORDER BY d) FROM
                   (SELECT CASE WHEN indisunique THEN 'unique ' ELSE '' END
                           || substring(pg_get_indexdef(indexrelid) from ' USING .*') AS d
                      FROM pg_index WHERE indrelid = t.oid) s), '')
           FROM pg_class t
          WHERE t.oid = $1::text::regclass
             OR t.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::text::regclass)
          ORDER BY t.oid = $1::text::regclass DESC, 1"
    );
    client
        .query(&sql, &[&relation])
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                Shape {
                    columns: r.get(1),
                    checks: r.get(2),
                    indexes: r.get(3),
                },
            )
        })
        .collect()
}

/// The access node's definition of the hypertable: the foreign table's columns and CHECK
/// constraints, and the indexes it records for the data nodes.
fn access_node_shape(an: &mut Client, relation: &str) -> Shape {
    let sql = format!(
        "SELECT {COLUMNS}, {CHECKS},
                coalesce((SELECT string_agg(d, ', ' ORDER BY d) FROM
                   (SELECT CASE WHEN definition LIKE 'CREATE UNIQUE %' THEN 'unique ' ELSE '' END
                           || substring(definition from ' USING .*') AS d
                      FROM _hyperdist_catalog.hypertable_index i
                      JOIN _hyperdist_catalog.hypertable h ON h.id = i.hypertable_id
                     WHERE format('%I.%I', h.schema_name, h.table_name)::regclass = t.oid) s), '')
           FROM pg_class t WHERE t.oid = $1::text::regclass"
    );
    let row = an.query_one(&sql, &[&relation]).unwrap();
    Shape {
        columns: row.get(0),
        checks: row.get(1),
        indexes: row.get(2),
    }
}

/// Asserts that every data node's table and chunks have the access node's definition, and that
/// each data node has exactly the chunks the access node places there.
fn assert_same_schema(cluster: &Cluster, an: &mut Client, relation: &str, context: &str) {
    let expected = access_node_shape(an, relation);
    for (i, dn) in cluster.data_nodes().iter().enumerate() {
        let node = format!("dn{}", i + 1);
        let mut client = dn.connect_to(DB);
        let shapes = data_node_shapes(&mut client, relation);
        assert!(
            !shapes.is_empty(),
            "{context}: {node} has no table {relation}"
        );
        for (table, shape) in &shapes {
            assert_eq!(shape, &expected, "{context}: {table} on {node}");
        }
        // (A chunk table whose creating transaction rolled back stays behind, empty and unused;
        // it must still have the definition.)
        let placed: Vec<String> = an
            .query(
                "SELECT format('%I.%I', c.schema_name, c.table_name)
                   FROM _hyperdist_catalog.chunk c
                   JOIN _hyperdist_catalog.chunk_data_node r ON r.chunk_id = c.id
                  WHERE r.node_name = $1",
                &[&node],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!placed.is_empty(), "{context}: no chunk on {node}");
        for chunk in &placed {
            assert!(
                shapes.iter().any(|(table, _)| table == chunk),
                "{context}: {chunk} missing on {node}"
            );
        }
    }
}

/// `m (time, host, v)`, distributed by host in 1-day chunks.
const HYPERTABLE_M: &str =
    "CREATE TABLE m (time timestamptz NOT NULL, host text NOT NULL, v int);
     SELECT create_distributed_hypertable('m', 'time', 'host', chunk_time_interval => interval '1 day');";

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

fn insert_day(an: &mut Client, table: &str, day: &str) {
    an.batch_execute(&format!(
        "INSERT INTO {table} (time, \"Device Id\", \"Temp C\", humidity)
         SELECT timestamptz '{day}' + i * interval '1 minute', 'd' || (i % 7), i % 50, i % 13
           FROM generate_series(0, 1439) i"
    ))
    .unwrap();
}

#[test]
fn ddl_reaches_every_data_node_old_and_new_chunks() {
    let cluster = Cluster::start(3);
    let mut an = cluster.distributed_database(DB, "dn", 3);
    let table = r#""My Schema"."Sensor Data""#;
    an.batch_execute(&format!(
        r#"CREATE SCHEMA "My Schema";
           CREATE TABLE {table} (time timestamptz NOT NULL, "Device Id" text NOT NULL,
                                 "Temp C" double precision, humidity int);
           SELECT create_distributed_hypertable('{table}', 'time', 'Device Id',
                                                chunk_time_interval => interval '1 day',
                                                replication_factor => 2);"#
    ))
    .unwrap();
    insert_day(&mut an, table, "2024-03-01");
    insert_day(&mut an, table, "2024-03-02");
    assert_same_schema(&cluster, &mut an, table, "created");

    let steps = [
        format!(r#"CREATE INDEX "Temp Idx" ON {table} ("Temp C")"#),
        format!(r#"CREATE INDEX ON {table} ("Device Id", humidity) WHERE humidity > 3"#),
        format!("ALTER TABLE {table} ADD COLUMN note text DEFAULT 'n/a'"),
        format!(r#"ALTER TABLE {table} ADD CONSTRAINT "Plausible" CHECK ("Temp C" > -300)"#),
        format!(r#"ALTER TABLE {table} ADD CONSTRAINT one_per_minute UNIQUE (time, "Device Id")"#),
        format!("ALTER TABLE {table} ALTER COLUMN humidity SET NOT NULL"),
        format!(r#"ALTER TABLE {table} ALTER COLUMN "Temp C" TYPE numeric(8,2)"#),
        format!("ALTER TABLE {table} RENAME COLUMN note TO remark"),
        format!("ALTER TABLE {table} ALTER COLUMN remark SET DEFAULT 'none'"),
        format!(
            "SELECT 1; ALTER FOREIGN TABLE {table} ADD COLUMN extra int, ADD COLUMN gone int; SELECT 2"
        ),
        format!("ALTER TABLE {table} DROP COLUMN gone"),
        format!("ALTER TABLE {table} ALTER COLUMN remark SET NOT NULL"),
        format!(
            "ALTER TABLE {table} ALTER COLUMN remark DROP NOT NULL, ALTER COLUMN humidity SET DEFAULT 0"
        ),
        format!("ALTER TABLE {table} ALTER COLUMN humidity DROP DEFAULT"),
        format!("COMMENT ON TABLE {table} IS 'sensor readings'"),
        format!(r#"COMMENT ON COLUMN {table}."Temp C" IS 'degrees'"#),
    ];
    for step in &steps {
        an.batch_execute(step)
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        assert_same_schema(&cluster, &mut an, table, step);
    }
    // Rows from before the new column read its default as of ADD COLUMN; new rows get the
    // default of now.
    assert_eq!(
        count(
            &mut an,
            &format!("SELECT count(*) FROM {table} WHERE remark = 'n/a'")
        ),
        2 * 1440
    );
    insert_day(&mut an, table, "2024-03-05");
    assert_same_schema(&cluster, &mut an, table, "new chunks");
    assert_eq!(
        count(
            &mut an,
            &format!("SELECT count(*) FROM {table} WHERE remark = 'none'")
        ),
        1440
    );
    // The comments are the access node's, and the data nodes have them too.
    for dn in cluster.data_nodes() {
        let comment: Option<String> = dn
            .connect_to(DB)
            .query_one(
                &format!(r#"SELECT col_description('{table}'::regclass, 3)"#),
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(comment.as_deref(), Some("degrees"));
    }

    // Constraints hold on old chunks and new ones.
    let duplicate = db_error(an.batch_execute(&format!(
        r#"INSERT INTO {table} (time, "Device Id", "Temp C", humidity) VALUES ('2024-03-01 00:07', 'd0', 1, 1)"#
    )));
    assert_eq!(duplicate.code().code(), "23505", "{duplicate:?}");
    let implausible = db_error(an.batch_execute(&format!(
        r#"INSERT INTO {table} (time, "Device Id", "Temp C", humidity) VALUES ('2024-03-09', 'd0', -500, 1)"#
    )));
    assert_eq!(implausible.code().code(), "23514", "{implausible:?}");

    // DROP INDEX and DROP CONSTRAINT of what exists only on the data nodes.
    for step in [
        r#"DROP INDEX "My Schema"."Temp Idx""#.to_string(),
        format!("ALTER TABLE {table} DROP CONSTRAINT one_per_minute"),
        format!(r#"ALTER TABLE {table} DROP CONSTRAINT "Plausible""#),
    ] {
        an.batch_execute(&step)
            .unwrap_or_else(|e| panic!("{step}: {e}"));
        assert_same_schema(&cluster, &mut an, table, &step);
    }
    an.batch_execute(&format!(
        r#"INSERT INTO {table} (time, "Device Id", "Temp C", humidity) VALUES ('2024-03-01 00:07', 'd0', -500, 1)"#
    ))
    .unwrap();

    // Renaming and moving the table; the space column renamed keeps routing rows.
    an.batch_execute(&format!(
        r#"ALTER TABLE {table} RENAME COLUMN "Device Id" TO device;
           ALTER TABLE {table} RENAME TO "Readings";
           CREATE SCHEMA archive;"#
    ))
    .unwrap();
    for dn in cluster.data_nodes() {
        dn.connect_to(DB)
            .batch_execute("CREATE SCHEMA archive")
            .unwrap();
    }
    an.batch_execute(r#"ALTER TABLE "My Schema"."Readings" SET SCHEMA archive"#)
        .unwrap();
    let moved = r#"archive."Readings""#;
    assert_same_schema(&cluster, &mut an, moved, "renamed and moved");
    an.batch_execute(&format!(
        "INSERT INTO {moved} (time, device, \"Temp C\", humidity) VALUES ('2024-03-20', 'd1', 1, 1)"
    ))
    .unwrap();
    assert_eq!(
        count(&mut an, &format!("SELECT count(*) FROM {moved}")),
        3 * 1440 + 2
    );
    assert_eq!(
        count(
            &mut an,
            "SELECT count(*) FROM timescaledb_information.dimensions
              WHERE hypertable_schema = 'archive' AND hypertable_name = 'Readings'
                AND column_name IN ('time', 'device')"
        ),
        2
    );

    // DROP TABLE (not DROP FOREIGN TABLE) removes it everywhere.
    an.batch_execute(&format!("DROP TABLE {moved}")).unwrap();
    for dn in cluster.data_nodes() {
        assert_eq!(
            count(
                &mut dn.connect_to(DB),
                "SELECT count(*) FROM pg_tables
                  WHERE schemaname IN ('_hyperdist_internal', 'archive', 'My Schema')"
            ),
            0
        );
    }
}

#[test]
fn failed_or_refused_ddl_changes_no_node() {
    let cluster = Cluster::start(2);
    let mut an = cluster.distributed_database(DB, "dn", 2);
    an.batch_execute(HYPERTABLE_M).unwrap();
    an.batch_execute(
        "INSERT INTO m SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 'h' || (i % 5), i
                         FROM generate_series(1, 100) i;",
    )
    .unwrap();
    let before = access_node_shape(&mut an, "m");
    assert_same_schema(&cluster, &mut an, "m", "created");

    // A column that already exists on dn2 alone: the statement fails there and nowhere changes.
    cluster.data_nodes()[1]
        .connect_to(DB)
        .batch_execute("ALTER TABLE public.m ADD COLUMN extra int")
        .unwrap();
    let err = db_error(an.batch_execute("ALTER TABLE m ADD COLUMN extra text"));
    assert_eq!(err.code().code(), "42701", "{err:?}");
    assert!(err.message().starts_with("[dn2]: "), "{err:?}");
    assert_eq!(access_node_shape(&mut an, "m"), before);
    let dn1 = data_node_shapes(&mut cluster.data_nodes()[0].connect_to(DB), "m");
    assert!(dn1.iter().all(|(_, shape)| shape == &before), "{dn1:?}");
    cluster.data_nodes()[1]
        .connect_to(DB)
        .batch_execute("ALTER TABLE public.m DROP COLUMN extra")
        .unwrap();

    // An index whose name is taken on dn1.
    cluster.data_nodes()[0]
        .connect_to(DB)
        .batch_execute("CREATE TABLE public.taken ()")
        .unwrap();
    let err = db_error(an.batch_execute("CREATE INDEX taken ON m (v)"));
    assert_eq!(err.code().code(), "42P07", "{err:?}");
    cluster.data_nodes()[0]
        .connect_to(DB)
        .batch_execute("DROP TABLE public.taken")
        .unwrap();
    assert_same_schema(&cluster, &mut an, "m", "failed CREATE INDEX");
    assert_eq!(access_node_shape(&mut an, "m"), before);

    // Refused with an error that names the statement.
    let refused = [
        ("CREATE UNIQUE INDEX ON m (v)", "TS103", "\"time\""),
        ("CREATE UNIQUE INDEX ON m (time, v)", "TS103", "\"host\""),
        ("ALTER TABLE m ADD PRIMARY KEY (time)", "TS103", "\"host\""),
        (
            "CREATE INDEX CONCURRENTLY ON m (v)",
            "0A000",
            "CONCURRENTLY",
        ),
        ("ALTER TABLE m CLUSTER ON m_time_idx", "0A000", "CLUSTER ON"),
        (
            "ALTER TABLE m ALTER COLUMN v SET STATISTICS 10",
            "0A000",
            "SET STATISTICS",
        ),
        ("ALTER TABLE m DROP COLUMN host", "0A000", "\"host\""),
        (
            "ALTER TABLE m ALTER COLUMN time TYPE timestamp",
            "0A000",
            "\"time\"",
        ),
        (
            "ALTER TABLE m ALTER COLUMN time DROP NOT NULL",
            "0A000",
            "\"time\"",
        ),
        (
            "ALTER TABLE m ADD COLUMN g int GENERATED ALWAYS AS (v * 2) STORED",
            "0A000",
            "\"g\"",
        ),
        ("ALTER TABLE m ADD COLUMN k int UNIQUE", "0A000", "\"k\""),
        (
            "CREATE TABLE r (id int PRIMARY KEY); ALTER TABLE m ADD FOREIGN KEY (v) REFERENCES r (id)",
            "0A000",
            "foreign keys",
        ),
        (
            "CREATE TABLE other (x int); GRANT SELECT ON m, other TO PUBLIC",
            "0A000",
            "\"m\"",
        ),
        (
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC",
            "0A000",
            "ALL TABLES IN SCHEMA",
        ),
    ];
    for (sql, code, mentions) in refused {
        let err = db_error(an.batch_execute(&format!("BEGIN; {sql}; COMMIT")));
        an.batch_execute("ROLLBACK").unwrap();
        assert_eq!(err.code().code(), code, "{sql}: {err:?}");
        assert!(err.message().contains(mentions), "{sql}: {err:?}");
        assert!(err.hint().is_some(), "{sql}: {err:?}");
    }
    assert_same_schema(&cluster, &mut an, "m", "refused DDL");
    assert_eq!(access_node_shape(&mut an, "m"), before);
    assert_eq!(count(&mut an, "SELECT count(*) FROM m"), 100);

    // A data node that is not available stops DDL.
    an.batch_execute("SELECT alter_data_node('dn2', available => false)")
        .unwrap();
    let err = db_error(an.batch_execute("ALTER TABLE m ADD COLUMN w int"));
    assert_eq!(
        err.message(),
        "some data nodes are not available for DDL commands"
    );
    an.batch_execute("SELECT alter_data_node('dn2', available => true)")
        .unwrap();
    assert_eq!(access_node_shape(&mut an, "m"), before);

    // DROP TABLE with a dependent view: refused; with CASCADE, both go, on every node.
    an.batch_execute("CREATE VIEW recent AS SELECT * FROM m WHERE v > 50")
        .unwrap();
    let err = db_error(an.batch_execute("DROP TABLE m"));
    assert_eq!(err.code().code(), "2BP01", "{err:?}");
    assert_same_schema(&cluster, &mut an, "m", "refused DROP");
    an.batch_execute("DROP TABLE m CASCADE").unwrap();
    assert_eq!(
        count(
            &mut an,
            "SELECT count(*) FROM pg_class WHERE relname IN ('m', 'recent')"
        ),
        0
    );
    for dn in cluster.data_nodes() {
        assert_eq!(
            count(
                &mut dn.connect_to(DB),
                "SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', '_hyperdist_internal')"
            ),
            0
        );
    }
}

#[test]
fn owner_and_privileges_reach_chunks() {
    let cluster = Cluster::start(2);
    let mut an = cluster.distributed_database(DB, "dn", 2);
    for server in cluster.servers() {
        server
            .connect_to(DB)
            .batch_execute("CREATE ROLE keeper LOGIN; CREATE ROLE reader LOGIN")
            .unwrap();
    }
    an.batch_execute(HYPERTABLE_M).unwrap();
    an.batch_execute(
        "INSERT INTO m SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 'h' || (i % 5), i
                         FROM generate_series(1, 100) i;
         ALTER TABLE m OWNER TO keeper;
         GRANT SELECT ON m TO reader;",
    )
    .unwrap();
    let as_reader = |an: &mut Client, sql: &str| -> Result<i64, postgres::Error> {
        an.batch_execute("SET ROLE reader")?;
        let result = an.query_one(sql, &[]).map(|r| r.get::<_, i64>(0));
        an.batch_execute("RESET ROLE").unwrap();
        result
    };
    assert_eq!(as_reader(&mut an, "SELECT count(*) FROM m").unwrap(), 100);
    // Chunks made after the GRANT carry it too; every chunk has the table's owner.
    an.batch_execute(
        "INSERT INTO m SELECT '2024-02-01'::timestamptz + i * interval '1 hour', 'h' || (i % 5), i
           FROM generate_series(1, 100) i",
    )
    .unwrap();
    assert_eq!(as_reader(&mut an, "SELECT count(*) FROM m").unwrap(), 200);
    for dn in cluster.data_nodes() {
        let owners: Vec<String> = dn
            .connect_to(DB)
            .query(
                "SELECT DISTINCT pg_get_userbyid(relowner)::text FROM pg_class
                  WHERE oid = 'public.m'::regclass
                     OR oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = 'public.m'::regclass)",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(owners, vec!["keeper".to_string()]);
    }
    an.batch_execute("REVOKE SELECT ON m FROM reader").unwrap();
    let err = db_error(as_reader(&mut an, "SELECT count(*) FROM m"));
    assert_eq!(err.code().code(), "42501", "{err:?}");
    // Column privileges too: the data nodes check them on the chunks the query reads.
    an.batch_execute("GRANT SELECT (time, v) ON m TO reader")
        .unwrap();
    assert_eq!(as_reader(&mut an, "SELECT count(v) FROM m").unwrap(), 200);
    let err = db_error(as_reader(&mut an, "SELECT count(host) FROM m"));
    assert_eq!(err.code().code(), "42501", "{err:?}");
}

/// The planner's row estimate for `query`, from EXPLAIN.
fn estimated_rows(an: &mut Client, query: &str) -> f64 {
    let plan = an
        .simple_query(&format!("EXPLAIN (FORMAT JSON) {query}"))
        .unwrap()
        .into_iter()
        .find_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap();
    // The top plan node's estimate comes first.
    let at = plan.find("\"Plan Rows\": ").unwrap() + "\"Plan Rows\": ".len();
    let digits: String = plan[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap()
}

#[test]
fn analyze_gives_the_planner_estimates_from_the_data_nodes() {
    let cluster = Cluster::start(3);
    let mut an = cluster.distributed_database(DB, "dn", 3);
    an.batch_execute(HYPERTABLE_M).unwrap();
    an.batch_execute(
        "INSERT INTO m SELECT '2024-01-01'::timestamptz + i * interval '8 seconds',
                              'h' || (i % 40) * (i % 3), i % 1000
                         FROM generate_series(0, 99999) i;",
    )
    .unwrap();
    let queries = [
        "SELECT * FROM m",
        "SELECT * FROM m WHERE v < 100",
        "SELECT * FROM m WHERE v BETWEEN 200 AND 700",
        "SELECT * FROM m WHERE host = 'h0'",
        "SELECT * FROM m WHERE host = 'h26'",
        "SELECT * FROM m WHERE time >= '2024-01-09'",
        "SELECT * FROM m WHERE v < 500 AND time < '2024-01-03'",
    ];
    let before = estimated_rows(&mut an, queries[0]);
    an.batch_execute("ANALYZE m").unwrap();
    for query in queries {
        let estimate = estimated_rows(&mut an, query);
        let actual = count(&mut an, &format!("SELECT count(*) FROM ({query}) q")) as f64;
        assert!(
            estimate <= 2.0 * actual && actual <= 2.0 * estimate,
            "{query}: estimated {estimate}, actual {actual}"
        );
    }
    assert!(before < 100_000.0 / 2.0, "unanalyzed guess {before}");
    // The data nodes analyzed their chunks too.
    for dn in cluster.data_nodes() {
        assert!(
            count(
                &mut dn.connect_to(DB),
                "SELECT count(*) FROM pg_class WHERE relnamespace = '_hyperdist_internal'::regnamespace
                   AND relkind = 'r' AND reltuples < 0"
            ) == 0
        );
    }
}

#[test]
fn vacuum_reaches_the_chunks_on_the_data_nodes() {
    let cluster = Cluster::start(2);
    let mut an = cluster.distributed_database(DB, "dn", 2);
    an.batch_execute(HYPERTABLE_M).unwrap();
    an.batch_execute(
        "INSERT INTO m SELECT '2024-01-01'::timestamptz + i * interval '1 minute', 'h' || (i % 5), i
                         FROM generate_series(0, 4999) i;
         CREATE TABLE plain (x int);",
    )
    .unwrap();
    // The files of every chunk table on the data nodes, to see VACUUM FULL rewrite them.
    let files = |cluster: &Cluster| -> Vec<Vec<(String, u32)>> {
        cluster
            .data_nodes()
            .iter()
            .map(|dn| {
                dn.connect_to(DB)
                    .query(
                        "SELECT relname::text, relfilenode::oid FROM pg_class
                          WHERE relnamespace = '_hyperdist_internal'::regnamespace AND relkind = 'r'
                          ORDER BY 1",
                        &[],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| (r.get(0), r.get::<_, u32>(1)))
                    .collect()
            })
            .collect()
    };
    let before = files(&cluster);
    assert!(before.iter().all(|node| !node.is_empty()));
    let (mut client, notices) = cluster.access_node().connect_with_notices(DB);
    client
        .batch_execute("VACUUM (FULL, ANALYZE) m, plain")
        .unwrap();
    let after = files(&cluster);
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old.len(), new.len());
        assert!(
            old.iter().zip(new).all(|(a, b)| a.0 == b.0 && a.1 != b.1),
            "every chunk rewritten: {old:?} -> {new:?}"
        );
    }
    assert!(
        notices
            .take()
            .iter()
            .all(|n| !n.message().contains("skipping")),
        "no warning about a foreign table"
    );
    // With ANALYZE, the access node has statistics.
    assert_eq!(
        count(
            &mut an,
            "SELECT reltuples::bigint FROM pg_class WHERE relname = 'm'"
        ),
        5000
    );
    let err = db_error(an.batch_execute("BEGIN; VACUUM m"));
    an.batch_execute("ROLLBACK").unwrap();
    assert_eq!(err.code().code(), "25001", "{err:?}");
}
