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
    associated_schema_name name NOT NULL,
    associated_table_prefix name NOT NULL,
    replication_factor smallint NOT NULL CHECK (replication_factor > 0),
    UNIQUE (schema_name, table_name)
);

-- At most one open (time) and one closed (space, hash) dimension per hypertable. Values are kept in
-- an internal bigint form: microseconds since 1970-01-01 for timestamp types and date, the value
-- itself for integer types, the 31-bit hash for a closed dimension.
CREATE TABLE _hyperdist_catalog.dimension (
    id serial PRIMARY KEY,
    hypertable_id integer NOT NULL REFERENCES _hyperdist_catalog.hypertable (id) ON DELETE CASCADE,
    column_name name NOT NULL,
    column_type regtype NOT NULL,
    interval_length bigint CHECK (interval_length > 0),
    num_slices smallint CHECK (num_slices BETWEEN 1 AND 32767),
    CHECK ((interval_length IS NULL) <> (num_slices IS NULL)),
    UNIQUE (hypertable_id, column_name)
);

-- The data nodes a hypertable places new chunks on, in placement order.
CREATE TABLE _hyperdist_catalog.hypertable_data_node (
    hypertable_id integer NOT NULL REFERENCES _hyperdist_catalog.hypertable (id) ON DELETE CASCADE,
    node_name name NOT NULL,
    position integer NOT NULL,
    PRIMARY KEY (hypertable_id, node_name)
);
CREATE INDEX hypertable_data_node_node_name_idx ON _hyperdist_catalog.hypertable_data_node (node_name);

-- A chunk covers [time_start, time_end) of the time dimension and [space_start, space_end) of the
-- space dimension (the whole line when there is none). The unique key makes two sessions that create
-- the same chunk at once wait for each other instead of making it twice.
CREATE TABLE _hyperdist_catalog.chunk (
    id serial PRIMARY KEY,
    hypertable_id integer NOT NULL REFERENCES _hyperdist_catalog.hypertable (id) ON DELETE CASCADE,
    schema_name name NOT NULL,
    table_name name NOT NULL,
    time_start bigint NOT NULL,
    time_end bigint NOT NULL,
    space_start bigint NOT NULL,
    space_end bigint NOT NULL,
    CHECK (time_start < time_end AND space_start < space_end),
    UNIQUE (schema_name, table_name),
    UNIQUE (hypertable_id, time_start, space_start)
);
CREATE INDEX chunk_time_idx ON _hyperdist_catalog.chunk (hypertable_id, time_end, time_start);

-- Where each chunk's replicas are.
CREATE TABLE _hyperdist_catalog.chunk_data_node (
    chunk_id integer NOT NULL REFERENCES _hyperdist_catalog.chunk (id) ON DELETE CASCADE,
    node_name name NOT NULL,
    PRIMARY KEY (chunk_id, node_name)
);
CREATE INDEX chunk_data_node_node_name_idx ON _hyperdist_catalog.chunk_data_node (node_name);

-- The indexes of each hypertable's table as its data nodes have them (the foreign table on the access
-- node has none), read back from a data node after every change: DROP INDEX and ALTER TABLE ... DROP
-- CONSTRAINT find them here.
CREATE TABLE _hyperdist_catalog.hypertable_index (
    hypertable_id integer NOT NULL REFERENCES _hyperdist_catalog.hypertable (id) ON DELETE CASCADE,
    index_name name NOT NULL,
    definition text NOT NULL,
    constraint_name name,
    -- The key columns of a plain index (not partial, no expressions), else NULL.
    key_columns name[],
    PRIMARY KEY (hypertable_id, index_name)
);

-- Two-phase commit log (presumed abort): a row is written, in the local transaction, for every
-- data node that prepared; its being committed is the decision to commit there too. The healer
-- resolves prepared transactions by it and removes rows once resolved.
CREATE TABLE _hyperdist_catalog.remote_txn (
    gid text PRIMARY KEY,
    node_name name NOT NULL,
    created timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX remote_txn_node_name_idx ON _hyperdist_catalog.remote_txn (node_name);

-- pg_dump of the access node keeps hyperdist's metadata: the rows of the catalog tables (and the
-- sequences of their ids) are dumped with the database, so a restored access node knows its data
-- nodes' hypertables, chunks and pending two-phase decisions.
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.metadata', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.hypertable', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.hypertable_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.dimension', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.dimension_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.hypertable_data_node', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.chunk', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.chunk_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.chunk_data_node', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.hypertable_index', '');
SELECT pg_catalog.pg_extension_config_dump('_hyperdist_catalog.remote_txn', '');

-- A restore brings back the database's identity: the dumped uuid replaces the one CREATE EXTENSION
-- made (the data nodes know the access node by it).
CREATE FUNCTION _hyperdist_internal.metadata_replace() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    DELETE FROM _hyperdist_catalog.metadata WHERE key = NEW.key;
    RETURN NEW;
END
$$;
CREATE TRIGGER replace_existing BEFORE INSERT ON _hyperdist_catalog.metadata
    FOR EACH ROW EXECUTE FUNCTION _hyperdist_internal.metadata_replace();

GRANT USAGE ON SCHEMA _hyperdist_catalog TO PUBLIC;
GRANT SELECT ON ALL TABLES IN SCHEMA _hyperdist_catalog TO PUBLIC;
GRANT USAGE ON SCHEMA _hyperdist_internal TO PUBLIC;
GRANT USAGE ON SCHEMA timescaledb_information TO PUBLIC;

-- Records, in the current transaction, that `node_name` prepared `gid` (any user's transaction
-- commits this way; the gid must carry this transaction's id, so nobody can log another's).
CREATE FUNCTION _hyperdist_internal.log_prepared(gid text, node_name name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    IF split_part(gid, '-', 7) IS DISTINCT FROM pg_current_xact_id()::text THEN
        RAISE EXCEPTION 'remote transaction id "%" does not belong to this transaction', gid
            USING ERRCODE = '42501';
    END IF;
    INSERT INTO _hyperdist_catalog.remote_txn (gid, node_name) VALUES (gid, node_name);
END
$$;
