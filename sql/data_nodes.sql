-- Data node management, with TimescaleDB 2.13's signatures. The work is done by the Rust
-- functions in _hyperdist_internal; these wrappers give the `name` types, argument names and
-- defaults existing scripts call them with.

CREATE FUNCTION add_data_node(
    node_name name,
    host text,
    database name = NULL,
    port integer = NULL,
    if_not_exists boolean = false,
    bootstrap boolean = true,
    password text = NULL
) RETURNS TABLE (
    node_name name,
    host text,
    port integer,
    database name,
    node_created boolean,
    database_created boolean,
    extension_created boolean
) LANGUAGE sql VOLATILE AS $$
    SELECT r.node_name::name, r.host, r.port, r.database::name,
           r.node_created, r.database_created, r.extension_created
      FROM _hyperdist_internal.add_data_node($1::text, $2, $3::text, $4, $5, $6, $7) r
$$;

CREATE FUNCTION delete_data_node(
    node_name name,
    if_exists boolean = false,
    force boolean = false,
    repartition boolean = true,
    drop_database boolean = false
) RETURNS boolean LANGUAGE sql VOLATILE AS $$
    SELECT _hyperdist_internal.delete_data_node($1::text, $2, $3, $4, $5)
$$;

CREATE FUNCTION alter_data_node(
    node_name name,
    host text = NULL,
    database name = NULL,
    port integer = NULL,
    available boolean = NULL
) RETURNS TABLE (
    node_name name,
    host text,
    port integer,
    database name,
    available boolean
) LANGUAGE sql VOLATILE AS $$
    SELECT r.node_name::name, r.host, r.port, r.database::name, r.available
      FROM _hyperdist_internal.alter_data_node($1::text, $2, $3::text, $4, $5) r
$$;
