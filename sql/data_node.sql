-- Functions an access node calls on its data nodes.

-- Stamps this database as a data node of the access node `access_node` (idempotent for the same
-- access node; refused for another one, for the access node itself, and for an access node).
CREATE FUNCTION _hyperdist_internal.set_dist_id(access_node uuid) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    own uuid := (SELECT value::uuid FROM _hyperdist_catalog.metadata WHERE key = 'uuid');
    member_of uuid := (SELECT value::uuid FROM _hyperdist_catalog.metadata WHERE key = 'dist_uuid');
BEGIN
    IF access_node = own THEN
        RAISE EXCEPTION 'cannot add the current database as a data node to itself'
            USING ERRCODE = 'TS174',
                  HINT = 'Check that the ''port'' parameter refers to a different instance or that the ''database'' parameter refers to a different database.';
    ELSIF member_of = own THEN
        RAISE EXCEPTION 'node is already an access node'
            USING ERRCODE = 'TS174',
                  DETAIL = format('Database %I has data nodes of its own.', current_database()),
                  HINT = 'An access node cannot also be a data node.';
    ELSIF member_of IS NOT NULL AND member_of <> access_node THEN
        RAISE EXCEPTION 'database is already a member of a distributed database'
            USING ERRCODE = 'TS171',
                  DETAIL = format('Database %I is a data node of the access node with id %s.', current_database(), member_of),
                  HINT = 'A data node serves one access node. Delete it there first (delete_data_node with drop_database => true).';
    ELSIF member_of IS NULL THEN
        INSERT INTO _hyperdist_catalog.metadata (key, value) VALUES ('dist_uuid', access_node::text);
    END IF;
END
$$;

-- Bytes of hyperdist data (chunk tables with their indexes and TOAST) in this database.
CREATE FUNCTION _hyperdist_internal.data_node_size() RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
    SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = '_hyperdist_internal' AND c.relkind = 'r'
$$;
