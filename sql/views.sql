-- Information views, compatible with TimescaleDB's. None of them fails because a data node is down.

CREATE VIEW timescaledb_information.data_nodes AS
SELECT s.srvname AS node_name,
       s.srvowner::regrole AS owner,
       s.srvoptions AS options,
       coalesce(st.node_up, false) AS node_up,
       (SELECT count(*) FROM _hyperdist_catalog.hypertable_data_node h
         WHERE h.node_name = s.srvname) AS num_dist_tables,
       (SELECT count(*)::numeric FROM _hyperdist_catalog.chunk_data_node c
         WHERE c.node_name = s.srvname) AS num_dist_chunks,
       pg_catalog.pg_size_pretty(st.total_size) AS total_dist_size
  FROM pg_catalog.pg_foreign_server s
  JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw AND w.fdwname = 'hyperdist_fdw'
  LEFT JOIN _hyperdist_internal.data_node_status() st ON st.node_name = s.srvname::text
 WHERE s.srvname <> '_hyperdist_distributed';

GRANT SELECT ON timescaledb_information.data_nodes TO PUBLIC;
