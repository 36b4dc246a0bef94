-- Distributed hypertables, with TimescaleDB 2.13's signatures. The work is done by the Rust
-- functions in _hyperdist_internal.

CREATE FUNCTION create_distributed_hypertable(
    relation regclass,
    time_column_name name,
    partitioning_column name = NULL,
    number_partitions integer = NULL,
    associated_schema_name name = NULL,
    associated_table_prefix name = NULL,
    chunk_time_interval anyelement = NULL::bigint,
    create_default_indexes boolean = true,
    if_not_exists boolean = false,
    partitioning_func regproc = NULL,
    migrate_data boolean = false,
    chunk_target_size text = NULL,
    chunk_sizing_func regproc = NULL,
    time_partitioning_func regproc = NULL,
    replication_factor integer = NULL,
    data_nodes name[] = NULL
) RETURNS TABLE (hypertable_id integer, schema_name name, table_name name, created boolean)
LANGUAGE sql VOLATILE AS $$
    SELECT r.hypertable_id, r.schema_name::name, r.table_name::name, r.created
      FROM _hyperdist_internal.create_distributed_hypertable(
               $1, $2::text, $3::text, $4, $5::text, $6::text,
               $7::text, pg_catalog.format_type(pg_catalog.pg_typeof($7), NULL),
               $8, $9, $10 IS NOT NULL, $11,
               $12 IS NOT NULL AND lower($12) <> 'off', $13 IS NOT NULL, $14 IS NOT NULL,
               $15, $16::text[]) r
$$;
