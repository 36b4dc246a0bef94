-- Schemas of hyperdist. Plain CREATE SCHEMA (no IF NOT EXISTS): a leftover schema of the same name
-- must stop the install rather than be silently adopted.
CREATE SCHEMA _hyperdist_catalog;
COMMENT ON SCHEMA _hyperdist_catalog IS 'hyperdist metadata: data nodes, hypertables, dimensions, chunks';
CREATE SCHEMA _hyperdist_internal;
COMMENT ON SCHEMA _hyperdist_internal IS 'hyperdist internal functions; on data nodes, the chunk tables';
CREATE SCHEMA timescaledb_information;
COMMENT ON SCHEMA timescaledb_information IS 'information views, compatible with TimescaleDB 2.13';
CREATE SCHEMA timescaledb_experimental;
COMMENT ON SCHEMA timescaledb_experimental IS 'chunk replica operations and views, compatible with TimescaleDB 2.13';
