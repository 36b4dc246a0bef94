-- Information views about distributed hypertables, with TimescaleDB 2.13's columns.

-- An internal bound of a time dimension as timestamptz (timestamp and date dimensions count
-- microseconds since 1970-01-01); NULL for integer dimensions.
CREATE FUNCTION _hyperdist_internal.time_bound(value bigint, column_type regtype) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
    SELECT CASE
        WHEN column_type NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN NULL
        WHEN value = -9223372036854775808 THEN '-infinity'::timestamptz
        WHEN value = 9223372036854775807 THEN 'infinity'::timestamptz
        ELSE '1970-01-01 00:00:00+00'::timestamptz + value * interval '1 microsecond'
    END
$$;

CREATE VIEW timescaledb_information.hypertables AS
SELECT h.schema_name AS hypertable_schema,
       h.table_name AS hypertable_name,
       c.relowner::regrole::name AS owner,
       (SELECT count(*) FROM _hyperdist_catalog.dimension d WHERE d.hypertable_id = h.id)::smallint AS num_dimensions,
       (SELECT count(*) FROM _hyperdist_catalog.chunk k WHERE k.hypertable_id = h.id) AS num_chunks,
       false AS compression_enabled,
       true AS is_distributed,
       h.replication_factor,
       (SELECT array_agg(n.node_name ORDER BY n.position) FROM _hyperdist_catalog.hypertable_data_node n
         WHERE n.hypertable_id = h.id) AS data_nodes,
       NULL::name[] AS tablespaces
  FROM _hyperdist_catalog.hypertable h
  LEFT JOIN pg_catalog.pg_namespace s ON s.nspname = h.schema_name
  LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = s.oid AND c.relname = h.table_name;

CREATE VIEW timescaledb_information.chunks AS
SELECT h.schema_name AS hypertable_schema,
       h.table_name AS hypertable_name,
       k.schema_name AS chunk_schema,
       k.table_name AS chunk_name,
       d.column_name AS primary_dimension,
       d.column_type AS primary_dimension_type,
       _hyperdist_internal.time_bound(k.time_start, d.column_type) AS range_start,
       _hyperdist_internal.time_bound(k.time_end, d.column_type) AS range_end,
       CASE WHEN d.column_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN k.time_start END AS range_start_integer,
       CASE WHEN d.column_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
            THEN k.time_end END AS range_end_integer,
       false AS is_compressed,
       NULL::name AS chunk_tablespace,
       (SELECT array_agg(r.node_name ORDER BY r.node_name) FROM _hyperdist_catalog.chunk_data_node r
         WHERE r.chunk_id = k.id) AS data_nodes
  FROM _hyperdist_catalog.chunk k
  JOIN _hyperdist_catalog.hypertable h ON h.id = k.hypertable_id
  JOIN _hyperdist_catalog.dimension d ON d.hypertable_id = h.id AND d.interval_length IS NOT NULL;

CREATE VIEW timescaledb_information.dimensions AS
SELECT h.schema_name AS hypertable_schema,
       h.table_name AS hypertable_name,
       row_number() OVER (PARTITION BY h.id ORDER BY d.id)::integer AS dimension_number,
       d.column_name,
       d.column_type,
       CASE WHEN d.interval_length IS NOT NULL THEN 'Time' ELSE 'Space' END AS dimension_type,
       CASE WHEN d.column_type IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype)
            THEN justify_hours(d.interval_length * interval '1 microsecond') END AS time_interval,
       CASE WHEN d.column_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype)
             AND d.interval_length IS NOT NULL THEN d.interval_length END AS integer_interval,
       NULL::name AS integer_now_func,
       d.num_slices AS num_partitions
  FROM _hyperdist_catalog.dimension d
  JOIN _hyperdist_catalog.hypertable h ON h.id = d.hypertable_id;

GRANT SELECT ON timescaledb_information.hypertables, timescaledb_information.chunks,
                timescaledb_information.dimensions TO PUBLIC;
