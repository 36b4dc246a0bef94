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

CREATE FUNCTION attach_data_node(
    node_name name,
    hypertable regclass,
    if_not_attached boolean = false,
    repartition boolean = true
) RETURNS TABLE (hypertable_id integer, node_hypertable_id integer, node_name name)
LANGUAGE sql VOLATILE AS $$
    SELECT r.hypertable_id, r.node_hypertable_id, r.node_name::name
      FROM _hyperdist_internal.attach_data_node($1::text, $2, $3, $4) r
$$;

CREATE FUNCTION detach_data_node(
    node_name name,
    hypertable regclass = NULL,
    if_attached boolean = false,
    force boolean = false,
    repartition boolean = true,
    drop_remote_data boolean = false
) RETURNS integer LANGUAGE sql VOLATILE AS $$
    SELECT _hyperdist_internal.detach_data_node($1::text, $2, $3, $4, $5, $6)
$$;
