//! The differential query corpus: rows loaded into a distributed hypertable (`conditions`) and a
//! plain local table with the same rows (`local_conditions`), and query shapes (`{t}` stands for
//! the table) whose results must match on both. Used by the query suite and by the backup suite
//! (a restored access node must answer them alike).

/// 120 000 rows, one every 4 s over 5.5 days, 37 locations, NULLs in every nullable column,
/// multibyte text, analyzed; a local `sites` table to join with. Needs a database with data nodes
/// added.
pub const CONDITIONS: &str = "CREATE TABLE conditions (
             time timestamptz NOT NULL, location text NOT NULL, temperature float8, humidity real,
             reading integer, code bigint, price numeric(12,3), flag boolean, note text);
         SELECT create_distributed_hypertable('conditions', 'time', 'location',
                                              chunk_time_interval => interval '1 day');
         CREATE TABLE local_conditions (LIKE conditions);
         INSERT INTO local_conditions
         SELECT '2024-03-01'::timestamptz + i * interval '4 seconds',
                'loc' || (i * 7919 % 37),
                CASE WHEN i % 17 = 0 THEN NULL ELSE ((i * 31) % 1000) / 10.0 - 20 END,
                CASE WHEN i % 23 = 0 THEN NULL ELSE (i % 100)::real / 4 END,
                CASE WHEN i % 29 = 0 THEN NULL ELSE (i * 13) % 500 END,
                i::bigint * 1000003 % 1000000007,
                CASE WHEN i % 31 = 0 THEN NULL ELSE ((i * 7) % 100000) / 1000.0 END,
                CASE WHEN i % 19 = 0 THEN NULL ELSE i % 3 = 0 END,
                CASE WHEN i % 11 = 0 THEN NULL
                     ELSE 'n' || (i % 50) || CASE WHEN i % 13 = 0 THEN ' é€😀' ELSE '' END END
           FROM generate_series(1, 120000) i;
         INSERT INTO conditions SELECT * FROM local_conditions;
         -- Statistics on the chunks: the data nodes then plan with them (hashed time buckets).
         ANALYZE conditions;
         CREATE TABLE sites (location text PRIMARY KEY, region text);
         INSERT INTO sites SELECT 'loc' || i, 'r' || (i % 4) FROM generate_series(0, 40) i;";

pub const CORPUS: &[&str] = &[
    // Rows, filtered and ordered.
    "SELECT * FROM {t} WHERE location = 'loc5' ORDER BY time",
    "SELECT location, reading FROM {t} WHERE location IN ('loc3', 'loc4') ORDER BY time DESC, location LIMIT 10",
    "SELECT time, location, temperature FROM {t}
      WHERE time >= '2024-03-02' AND time < '2024-03-02 01:00' ORDER BY time",
    "SELECT * FROM {t} WHERE temperature IS NULL ORDER BY time LIMIT 100",
    "SELECT * FROM {t} WHERE note IS NULL AND flag ORDER BY time LIMIT 50",
    "SELECT location, time FROM {t} WHERE location IN ('loc1', 'loc2', 'loc3') AND reading > 400 ORDER BY time",
    "SELECT * FROM {t} WHERE note LIKE 'n1%' AND humidity BETWEEN 3 AND 4 ORDER BY time",
    "SELECT * FROM {t} ORDER BY time DESC LIMIT 20",
    "SELECT count(*) FROM {t} WHERE time > '2030-01-01'",
    // Sorted by the data nodes and merged; LIMIT on each node when nothing filters after it.
    "SELECT time, location, reading FROM {t} WHERE reading > 250 ORDER BY time LIMIT 37 OFFSET 5",
    "SELECT location, temperature, time FROM {t} WHERE time < '2024-03-01 03:00'
      ORDER BY temperature DESC NULLS LAST, time LIMIT 25",
    "SELECT note, time FROM {t} WHERE location = 'loc6' ORDER BY note NULLS FIRST, time DESC LIMIT 40",
    "SELECT count(*) FROM (SELECT * FROM {t} WHERE humidity > 10 LIMIT 1000) s",
    "SELECT time, reading FROM {t} WHERE location = 'loc2' ORDER BY reading * -1, time LIMIT 10",
    "SELECT time, reading FROM {t} WHERE location = 'loc2' AND random() < 2 ORDER BY time DESC LIMIT 10",
    // IN lists read only the chunks of their values' space slices.
    "SELECT location, count(*) FROM {t} WHERE location IN ('loc1', 'loc2', 'loc30') AND time < '2024-03-02'
      GROUP BY 1 ORDER BY 1",
    "SELECT count(*) FROM {t} WHERE location IN ('nowhere', 'loc5')",
    "SELECT count(*) FROM {t} WHERE time < '2024-03-01' OR location = 'nowhere'",
    // Grouped by the space column: the data nodes aggregate.
    "SELECT location, count(*), count(temperature), sum(reading), max(temperature), min(humidity)
       FROM {t} GROUP BY location ORDER BY location",
    "SELECT location, avg(temperature), avg(reading), avg(price) FROM {t} GROUP BY 1 ORDER BY 1",
    // Whole-group aggregates in expressions, HAVING, FILTER and DISTINCT.
    "SELECT location, avg(temperature) * 2, avg(temperature) FILTER (WHERE flag), avg(DISTINCT temperature)
       FROM {t} GROUP BY 1 HAVING avg(temperature) > 29.5 ORDER BY 1",
    "SELECT location, avg(temperature) FROM {t} WHERE temperature IS NULL OR location = 'loc2'
       GROUP BY 1 ORDER BY 1",
    "SELECT location, stddev(temperature), variance(reading), stddev_pop(humidity), var_samp(price)
       FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, bool_and(flag), bool_or(flag), every(reading > 10), bit_and(reading), bit_or(reading)
       FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, count(DISTINCT note), count(DISTINCT reading) FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, string_agg(DISTINCT note, ',' ORDER BY note) FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, array_agg(reading ORDER BY time) FILTER (WHERE time < '2024-03-01 00:10')
       FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, percentile_cont(0.5) WITHIN GROUP (ORDER BY temperature),
            mode() WITHIN GROUP (ORDER BY reading) FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, count(*) FROM {t} GROUP BY 1 HAVING location < 'loc2' AND max(reading) > 0 ORDER BY 1",
    "SELECT time_bucket('1 hour', time) h, location, max(temperature), avg(humidity)
       FROM {t} WHERE time < '2024-03-02' GROUP BY h, location ORDER BY h, location",
    "SELECT location, time_bucket('1 day', time) d, sum(code), sum(price) FROM {t} GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT location, date_trunc('hour', time) h, count(*) FROM {t} WHERE location = 'loc3' GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT location, max(temperature) * 2 + 1, min(reading) - max(reading) FROM {t} GROUP BY location ORDER BY 1",
    "SELECT upper(location), count(*) FROM {t} GROUP BY location ORDER BY 1",
    "SELECT location, count(*) FROM {t} WHERE flag AND note <> 'n7' GROUP BY location ORDER BY 2 DESC, 1 LIMIT 5",
    "SELECT location, max(time), min(time) FROM {t} GROUP BY location ORDER BY 1",
    "SELECT location, flag, count(*) FROM {t} GROUP BY location, flag ORDER BY 1, 2 NULLS FIRST",
    "SELECT location, max(temperature) FROM {t} WHERE time >= '2024-03-03' GROUP BY location ORDER BY location",
    "SELECT location, count(*) FILTER (WHERE flag), sum(reading) FILTER (WHERE note IS NULL)
       FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, sum(price * reading), avg(price)::numeric(20,6) FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, (array_agg(temperature ORDER BY time DESC))[1] FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, min(note), max(note COLLATE \"C\") FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, covar_pop(temperature, humidity), regr_count(reading, temperature) FROM {t} GROUP BY 1 ORDER BY 1",
    // One location: all its chunks are on one data node.
    "SELECT count(*), sum(reading), max(temperature) FROM {t} WHERE location = 'loc11'",
    "SELECT time_bucket('15 minutes', time) b, avg(temperature) FROM {t}
      WHERE location = 'loc8' AND time < '2024-03-03' GROUP BY b ORDER BY b",
    "SELECT max(code), min(code), sum(code) FROM {t}
      WHERE location = 'loc20' AND time BETWEEN '2024-03-02' AND '2024-03-03'",
    "SELECT time_bucket('1 hour', time, '2024-03-01 00:30'::timestamptz) b, count(*) FROM {t}
      WHERE location = 'loc2' GROUP BY b ORDER BY b",
    "SELECT coalesce(note, '-'), count(*) FROM {t} WHERE location = 'loc4' GROUP BY 1 ORDER BY 1",
    "SELECT json_agg(reading ORDER BY time) FROM {t} WHERE location = 'loc9' AND time < '2024-03-01 01:00'",
    // Groups that span data nodes: the access node aggregates.
    "SELECT max(temperature), min(temperature), count(*) FROM {t}",
    "SELECT time_bucket('1 day', time) d, count(*), avg(temperature), stddev(reading) FROM {t} GROUP BY d ORDER BY d",
    "SELECT flag, count(*), sum(price) FROM {t} GROUP BY flag ORDER BY flag",
    "SELECT note, count(*) FROM {t} GROUP BY note ORDER BY 2 DESC, 1 NULLS FIRST LIMIT 10",
    "SELECT time::date, extract(hour FROM time), count(*) FROM {t} GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT CASE WHEN temperature > 50 THEN 'hot' WHEN temperature IS NULL THEN 'none' ELSE 'cold' END, count(*)
       FROM {t} GROUP BY 1 ORDER BY 1",
    "SELECT location, count(*) FROM {t} WHERE temperature > 50 OR humidity < 1
      GROUP BY ROLLUP (location) ORDER BY 1 NULLS FIRST",
    "SELECT sum(code), avg(price), stddev(price), variance(reading), max(note), min(time),
            bit_and(reading), bool_or(flag), count(humidity) FROM {t}",
    "SELECT time_bucket('6 hours', time) b, sum(code), avg(reading), max(note) FROM {t}
      GROUP BY b HAVING sum(reading) > 1000 ORDER BY b",
    "SELECT flag, covar_samp(temperature, reading), regr_avgx(reading, temperature), regr_count(reading, temperature)
       FROM {t} GROUP BY flag ORDER BY flag",
    "SELECT reading % 7, count(*), max(temperature) * 2 FROM {t}
      WHERE location IN ('loc1', 'loc9', 'loc30') GROUP BY 1 ORDER BY 1",
    // What must not ship: volatile and stable functions.
    "SELECT count(*) FROM {t} WHERE random() < 2",
    "SELECT location, max(temperature) FROM {t} WHERE random() < 2 GROUP BY location ORDER BY 1",
    "SELECT location, count(*) FROM {t} WHERE time > now() - interval '100 years' GROUP BY location ORDER BY 1",
    "SELECT count(*) FROM {t} WHERE time > now() - interval '1 day'",
    // Joins with local tables, subqueries, CTEs.
    "SELECT s.region, count(*), max(c.temperature) FROM {t} c JOIN sites s USING (location)
      GROUP BY s.region ORDER BY 1",
    "SELECT c.location, s.region FROM {t} c LEFT JOIN sites s ON s.location = c.location
      WHERE c.time = '2024-03-01 01:00:00+00' ORDER BY 1",
    "SELECT * FROM sites s WHERE EXISTS (SELECT 1 FROM {t} c WHERE c.location = s.location AND c.reading = 499)
      ORDER BY 1",
    "SELECT location FROM sites WHERE location NOT IN (SELECT location FROM {t}) ORDER BY 1",
    "SELECT count(*) FROM {t} WHERE location IN (SELECT location FROM sites WHERE region = 'r1')",
    "SELECT (SELECT max(temperature) FROM {t} c WHERE c.location = s.location) m FROM sites s ORDER BY 1 NULLS LAST",
    // Parameters from the outer query change at each rescan (time and space exclusion follow).
    "SELECT s.location, (SELECT count(*) FROM {t} c WHERE c.location = s.location
                           AND c.time < '2024-03-01'::timestamptz + (length(s.location) || ' hours')::interval)
       FROM sites s ORDER BY 1",
    "SELECT s.location, l.time, l.reading FROM sites s
       CROSS JOIN LATERAL (SELECT time, reading FROM {t} c WHERE c.location = s.location
                            ORDER BY time DESC LIMIT 1) l ORDER BY 1",
    "WITH daily AS (SELECT location, time_bucket('1 day', time) d, avg(temperature) a FROM {t} GROUP BY 1, 2)
     SELECT d, max(a), min(a) FROM daily GROUP BY d ORDER BY d",
    "WITH x AS MATERIALIZED (SELECT * FROM {t} WHERE reading < 5) SELECT location, count(*) FROM x GROUP BY 1 ORDER BY 1",
    "SELECT * FROM (SELECT location, max(temperature) m FROM {t} GROUP BY location) s WHERE m > 70 ORDER BY 1",
    "SELECT a.location, count(*) FROM {t} a JOIN {t} b ON a.time = b.time AND a.location = b.location
      WHERE a.time < '2024-03-01 02:00' GROUP BY 1 ORDER BY 1",
    // Window functions, DISTINCT, set operations.
    "SELECT location, time, temperature,
            avg(temperature) OVER (PARTITION BY location ORDER BY time ROWS 3 PRECEDING)
       FROM {t} WHERE time < '2024-03-01 00:30' ORDER BY location, time",
    "SELECT location, rank() OVER (ORDER BY max(temperature) DESC, location) FROM {t} GROUP BY location ORDER BY 2",
    "SELECT DISTINCT location FROM {t} ORDER BY 1",
    "SELECT DISTINCT ON (location) location, time, temperature FROM {t} ORDER BY location, time DESC",
    "SELECT DISTINCT ON (location) * FROM {t} WHERE time < '2024-03-03' ORDER BY location, time DESC",
    "SELECT DISTINCT ON (location) location, time, humidity FROM {t}
      WHERE humidity > 20 AND time >= '2024-03-02' ORDER BY location DESC, time",
    "SELECT DISTINCT ON (location) location, reading, time FROM {t} ORDER BY location, reading DESC, time",
    // Grouped by time, ordered and limited: read one time slice after another.
    "SELECT time_bucket('1 hour', time) AS h, max(temperature), count(*) FROM {t} GROUP BY h ORDER BY h DESC LIMIT 5",
    "SELECT time_bucket('30 minutes', time) AS h, avg(reading), min(note) FROM {t}
      WHERE time < '2024-03-04 07:00' GROUP BY h ORDER BY h LIMIT 7",
    "SELECT time_bucket('1 hour', time) AS h, sum(price) FROM {t} GROUP BY h ORDER BY h DESC LIMIT 3 OFFSET 30",
    "SELECT time_bucket('7 hours', time) AS h, sum(reading) FROM {t} GROUP BY h ORDER BY h DESC LIMIT 3",
    "SELECT time, max(reading) FROM {t} GROUP BY time ORDER BY time DESC LIMIT 4",
    "SELECT time_bucket('1 hour', time) AS h, count(*) FROM {t} WHERE time > now() - interval '100 years'
      AND time < '2024-03-04 12:00'::timestamptz + (SELECT interval '1 hour') GROUP BY h ORDER BY h DESC LIMIT 2",
    "SELECT time_bucket('1 hour', time) AS h, count(*) FROM {t} GROUP BY h HAVING max(reading) > 498
      ORDER BY h DESC LIMIT 3",
    "SELECT DISTINCT ON (location, flag) location, flag, reading FROM {t} ORDER BY location, flag, time",
    "SELECT DISTINCT location, flag FROM {t} WHERE reading < 50 ORDER BY 1, 2",
    "SELECT DISTINCT ON (note) note, time FROM {t} ORDER BY note, time",
    "SELECT count(DISTINCT location) FROM {t}",
    "SELECT location FROM {t} WHERE reading = 1 UNION SELECT location FROM {t} WHERE reading = 2 ORDER BY 1",
    "SELECT time FROM {t} WHERE location = 'loc1' AND reading = 13
     UNION ALL SELECT time FROM {t} WHERE location = 'loc2' AND reading = 13 ORDER BY 1",
    "SELECT location, time FROM {t} WHERE reading = 7 INTERSECT SELECT location, time FROM {t} WHERE flag ORDER BY 1, 2",
];
