-- Chunk replicas: which chunks have fewer replicas than their hypertable wants, and the procedures
-- that add (copy_chunk) or move (move_chunk) a replica. TimescaleDB 2.13 names and columns; the
-- chunk is given by name (text) because on the access node chunks are catalog rows, not relations.

CREATE VIEW timescaledb_experimental.chunk_replication_status AS
SELECT h.schema_name AS hypertable_schema,
       h.table_name AS hypertable_name,
       k.schema_name AS chunk_schema,
       k.table_name AS chunk_name,
       h.replication_factor AS desired_num_replicas,
       (SELECT count(*) FROM _hyperdist_catalog.chunk_data_node r WHERE r.chunk_id = k.id) AS num_replicas,
       ARRAY(SELECT r.node_name FROM _hyperdist_catalog.chunk_data_node r
              WHERE r.chunk_id = k.id ORDER BY r.node_name) AS replica_nodes,
       ARRAY(SELECT n.node_name FROM _hyperdist_catalog.hypertable_data_node n WHERE n.hypertable_id = h.id
             EXCEPT
             SELECT r.node_name FROM _hyperdist_catalog.chunk_data_node r WHERE r.chunk_id = k.id
             ORDER BY 1) AS non_replica_nodes
  FROM _hyperdist_catalog.chunk k
  JOIN _hyperdist_catalog.hypertable h ON h.id = k.hypertable_id;

GRANT USAGE ON SCHEMA timescaledb_experimental TO PUBLIC;
GRANT SELECT ON timescaledb_experimental.chunk_replication_status TO PUBLIC;

CREATE PROCEDURE timescaledb_experimental.copy_chunk(
    chunk text, source_node name = NULL, destination_node name = NULL, operation_id name = NULL)
LANGUAGE sql AS $$
    SELECT _hyperdist_internal.replicate_chunk(chunk, source_node, destination_node, operation_id, false)
$$;
COMMENT ON PROCEDURE timescaledb_experimental.copy_chunk(text, name, name, name) IS
    'adds a replica of the chunk on destination_node, copied from source_node, in one distributed transaction';

CREATE PROCEDURE timescaledb_experimental.move_chunk(
    chunk text, source_node name = NULL, destination_node name = NULL, operation_id name = NULL)
LANGUAGE sql AS $$
    SELECT _hyperdist_internal.replicate_chunk(chunk, source_node, destination_node, operation_id, true)
$$;
COMMENT ON PROCEDURE timescaledb_experimental.move_chunk(text, name, name, name) IS
    'moves the chunk''s replica from source_node to destination_node, in one distributed transaction';
