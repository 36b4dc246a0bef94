-- The access node's metadata (and, on a data node, its identity). Read-only to users; written by
-- hyperdist's functions.

CREATE TABLE _hyperdist_catalog.metadata (
    key text PRIMARY KEY,
    value text NOT NULL
);
COMMENT ON TABLE _hyperdist_catalog.metadata IS
    'uuid: this database''s id; dist_uuid: the access node it belongs to (its own uuid on an access node)';
INSERT INTO _hyperdist_catalog.metadata (key, value) VALUES ('uuid', pg_catalog.gen_random_uuid()::text);

CREATE TABLE _hyperdist_catalog.hypertable (
    id serial PRIMARY KEY,
    schema_name name NOT NULL,
    table_name name NOT NULL,
    replication_factor smallint NOT NULL CHECK (replication_factor > 0),
    UNIQUE (schema_name, table_name)
);

CREATE TABLE _hyperdist_catalog.hypertable_data_node (
    hypertable_id integer NOT NULL REFERENCES _hyperdist_catalog.hypertable (id) ON DELETE CASCADE,
    node_name name NOT NULL,
    PRIMARY KEY (hypertable_id, node_name)
);
CREATE INDEX hypertable_data_node_node_name_idx ON _hyperdist_catalog.hypertable_data_node (node_name);

CREATE TABLE _hyperdist_catalog.chunk (
    id serial PRIMARY KEY,
    hypertable_id integer NOT NULL REFERENCES _hyperdist_catalog.hypertable (id) ON DELETE CASCADE,
    schema_name name NOT NULL,
    table_name name NOT NULL,
    UNIQUE (schema_name, table_name)
);

-- Where each chunk's replicas are.
CREATE TABLE _hyperdist_catalog.chunk_data_node (
    chunk_id integer NOT NULL REFERENCES _hyperdist_catalog.chunk (id) ON DELETE CASCADE,
    node_name name NOT NULL,
    PRIMARY KEY (chunk_id, node_name)
);
CREATE INDEX chunk_data_node_node_name_idx ON _hyperdist_catalog.chunk_data_node (node_name);

GRANT USAGE ON SCHEMA _hyperdist_catalog TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA _hyperdist_catalog TO PUBLIC;
GRANT USAGE ON SCHEMA _hyperdist_internal TO PUBLIC;
GRANT USAGE ON SCHEMA timescaledb_information TO PUBLIC;
