-- Changing a distributed hypertable's partitioning. Only new chunks follow new settings; existing
-- chunks keep theirs.

-- The catalog id of the distributed hypertable `relation`, or an error saying why there is none.
CREATE FUNCTION _hyperdist_internal.hypertable_id(relation regclass) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    id integer;
BEGIN
    IF relation IS NULL THEN
        RAISE EXCEPTION 'invalid hypertable: cannot be NULL' USING ERRCODE = '22023';
    END IF;
    SELECT h.id INTO id FROM _hyperdist_catalog.hypertable h
      JOIN pg_class c ON c.relname = h.table_name
      JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = h.schema_name
     WHERE c.oid = relation;
    IF id IS NULL THEN
        RAISE EXCEPTION 'table "%" is not a hypertable', relation
            USING ERRCODE = 'TS001', HINT = 'Create it with create_distributed_hypertable().';
    END IF;
    RETURN id;
END
$$;

-- A chunk interval in the dimension's internal unit: microseconds for timestamp and date columns
-- (given as an interval, or as a number of microseconds), the column's own unit for integers.
CREATE FUNCTION _hyperdist_internal.interval_length(value anyelement, column_type regtype) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
DECLARE
    length bigint;
    given regtype := pg_typeof(value);
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION 'invalid interval: cannot be NULL' USING ERRCODE = '22023';
    END IF;
    IF given IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        length := value::text::bigint;
    ELSIF column_type IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype) THEN
        IF given = 'interval'::regtype THEN
            RAISE EXCEPTION 'invalid interval type for integer dimension'
                USING ERRCODE = '22023', HINT = 'An integer time column takes an integer interval.';
        END IF;
        length := value::text::bigint;
    ELSE
        length := (extract(epoch FROM value::text::interval) * 1000000)::bigint;
    END IF;
    IF length IS NULL OR length <= 0 THEN
        RAISE EXCEPTION 'invalid interval: must be positive' USING ERRCODE = '22023';
    END IF;
    IF column_type = 'date'::regtype AND length % 86400000000 <> 0 THEN
        RAISE EXCEPTION 'invalid interval for a date dimension'
            USING ERRCODE = '22023', HINT = 'A date column takes whole days.';
    END IF;
    RETURN length;
END
$$;

CREATE FUNCTION set_chunk_time_interval(hypertable regclass, chunk_time_interval anyelement,
                                        dimension_name name = NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    ht integer := _hyperdist_internal.hypertable_id(hypertable);
    dim record;
BEGIN
    SELECT d.id, d.column_type INTO dim FROM _hyperdist_catalog.dimension d
     WHERE d.hypertable_id = ht AND d.interval_length IS NOT NULL
       AND (dimension_name IS NULL OR d.column_name = dimension_name);
    IF dim.id IS NULL THEN
        RAISE EXCEPTION 'time dimension "%" does not exist in hypertable "%"', dimension_name, hypertable
            USING ERRCODE = '42703';
    END IF;
    UPDATE _hyperdist_catalog.dimension
       SET interval_length = _hyperdist_internal.interval_length(chunk_time_interval, dim.column_type)
     WHERE id = dim.id;
END
$$;

CREATE FUNCTION set_number_partitions(hypertable regclass, number_partitions integer,
                                      dimension_name name = NULL) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    ht integer := _hyperdist_internal.hypertable_id(hypertable);
    dim record;
    nodes integer;
BEGIN
    SELECT d.id, d.column_name INTO dim FROM _hyperdist_catalog.dimension d
     WHERE d.hypertable_id = ht AND d.num_slices IS NOT NULL
       AND (dimension_name IS NULL OR d.column_name = dimension_name);
    IF dim.id IS NULL THEN
        RAISE EXCEPTION 'hypertable "%" has no space dimension%', hypertable,
            coalesce(format(' named "%s"', dimension_name), '')
            USING ERRCODE = '42703', HINT = 'Add one with add_dimension(hypertable, column, number_partitions).';
    END IF;
    IF number_partitions IS NULL OR number_partitions < 1 OR number_partitions > 32767 THEN
        RAISE EXCEPTION 'invalid number of partitions: must be between 1 and 32767' USING ERRCODE = '22023';
    END IF;
    SELECT count(*) INTO nodes FROM _hyperdist_catalog.hypertable_data_node WHERE hypertable_id = ht;
    IF number_partitions < nodes THEN
        RAISE WARNING 'insufficient number of partitions for dimension "%"', dim.column_name
            USING ERRCODE = 'TS170', DETAIL = 'There are not enough partitions to make use of all data nodes.',
                  HINT = 'Increase the number of partitions to at least the number of data nodes.';
    END IF;
    UPDATE _hyperdist_catalog.dimension SET num_slices = number_partitions WHERE id = dim.id;
END
$$;

CREATE FUNCTION set_replication_factor(hypertable regclass, replication_factor integer) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    ht integer := _hyperdist_internal.hypertable_id(hypertable);
    nodes integer;
    factor integer := coalesce(replication_factor, 0);
BEGIN
    SELECT count(*) INTO nodes FROM _hyperdist_catalog.hypertable_data_node WHERE hypertable_id = ht;
    IF factor > nodes THEN
        RAISE EXCEPTION 'replication factor too large for hypertable "%"', hypertable
            USING ERRCODE = 'TS170',
                  DETAIL = format('The hypertable has %s data nodes attached, while the replication factor is %s.', nodes, factor),
                  HINT = 'Decrease the replication factor or attach more data nodes to the hypertable.';
    END IF;
    IF factor < 1 OR factor > 32767 THEN
        RAISE EXCEPTION 'invalid replication factor'
            USING ERRCODE = '22023', HINT = 'A hypertable''s replication factor must be between 1 and 32767.';
    END IF;
    UPDATE _hyperdist_catalog.hypertable SET replication_factor = factor WHERE id = ht;
    IF EXISTS (SELECT FROM _hyperdist_catalog.chunk k WHERE k.hypertable_id = ht
                 AND (SELECT count(*) FROM _hyperdist_catalog.chunk_data_node r WHERE r.chunk_id = k.id) < factor) THEN
        RAISE WARNING 'hypertable "%" is under-replicated', hypertable
            USING ERRCODE = 'TS170', DETAIL = format('Some chunks have less than %s replicas.', factor),
                  HINT = 'Existing chunks keep their replicas; new chunks get the new replication factor.';
    END IF;
END
$$;

CREATE FUNCTION add_dimension(hypertable regclass, column_name name, number_partitions integer = NULL,
                              chunk_time_interval anyelement = NULL::bigint, partitioning_func regproc = NULL,
                              if_not_exists boolean = false)
RETURNS TABLE (dimension_id integer, schema_name name, table_name name, column_name name, created boolean)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    ht integer := _hyperdist_internal.hypertable_id(hypertable);
    col_type regtype;
    existing integer;
    new_id integer;
BEGIN
    SELECT a.atttypid INTO col_type FROM pg_attribute a
     WHERE a.attrelid = hypertable AND a.attname = add_dimension.column_name AND a.attnum > 0 AND NOT a.attisdropped;
    IF col_type IS NULL THEN
        RAISE EXCEPTION 'column "%" does not exist', add_dimension.column_name USING ERRCODE = '42703';
    END IF;
    SELECT d.id INTO existing FROM _hyperdist_catalog.dimension d
     WHERE d.hypertable_id = ht AND d.column_name = add_dimension.column_name;
    IF existing IS NOT NULL THEN
        IF if_not_exists THEN
            RAISE NOTICE 'column "%" is already a dimension, skipping', add_dimension.column_name;
            RETURN QUERY SELECT existing, h.schema_name, h.table_name, add_dimension.column_name, false
                           FROM _hyperdist_catalog.hypertable h WHERE h.id = ht;
            RETURN;
        END IF;
        RAISE EXCEPTION 'column "%" is already a dimension', add_dimension.column_name
            USING ERRCODE = '42710', HINT = 'Use if_not_exists => true to skip it.';
    END IF;
    IF partitioning_func IS NOT NULL THEN
        RAISE EXCEPTION 'partitioning_func is not supported on distributed hypertables'
            USING ERRCODE = '0A000', HINT = 'Leave it NULL: hyperdist partitions by a hash of the column.';
    END IF;
    IF number_partitions IS NULL THEN
        RAISE EXCEPTION 'hyperdist supports one time dimension and one space dimension per hypertable'
            USING ERRCODE = '0A000', HINT = 'Give number_partitions to add a space (hash) dimension.';
    END IF;
    IF EXISTS (SELECT FROM _hyperdist_catalog.dimension d WHERE d.hypertable_id = ht AND d.num_slices IS NOT NULL) THEN
        RAISE EXCEPTION 'hypertable "%" already has a space dimension', hypertable
            USING ERRCODE = '0A000', HINT = 'hyperdist supports one space dimension; change its partitions with set_number_partitions().';
    END IF;
    IF number_partitions < 1 OR number_partitions > 32767 THEN
        RAISE EXCEPTION 'invalid number of partitions: must be between 1 and 32767' USING ERRCODE = '22023';
    END IF;
    INSERT INTO _hyperdist_catalog.dimension (hypertable_id, column_name, column_type, num_slices)
    VALUES (ht, add_dimension.column_name, col_type, number_partitions) RETURNING id INTO new_id;
    RETURN QUERY SELECT new_id, h.schema_name, h.table_name, add_dimension.column_name, true
                   FROM _hyperdist_catalog.hypertable h WHERE h.id = ht;
END
$$;
