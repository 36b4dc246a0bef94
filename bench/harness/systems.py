"""The benchmark's own cluster and the three systems set up on it, all holding the same data.

- local:     one plain table on the access node;
- fdw-shard: PostgreSQL's native sharding, a hash-partitioned table whose partitions are
             postgres_fdw foreign tables on the data nodes (database `fdwshard` there);
- hyperdist: a distributed hypertable.
"""

import os
import pathlib
import re
import subprocess

from .pgwire import Connection
from .workload import COLUMNS_SQL

REPO = pathlib.Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
DATA_NODES = 3
FDW_DATABASE = "fdwshard"


class Cluster:
    """An access node `an` and data nodes dn1..dn3, run by scripts/cluster in a directory of its own."""

    def __init__(self, directory):
        self._env = dict(os.environ, HYPERDIST_CLUSTER_DIR=directory)
        self.ports = {}

    def _tool(self, *args):
        done = subprocess.run([str(REPO / "scripts" / "cluster"), *args], env=self._env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"scripts/cluster {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def up(self):
        # A run that was killed may have left its cluster behind: start from scratch.
        self._tool("down", "--purge")
        self._tool("up", "--data-nodes", str(DATA_NODES))
        for line in self._tool("status").splitlines():
            match = re.match(r"\s+(\S+)\s+.*127\.0\.0\.1:(\d+)\s+running", line)
            if match:
                self.ports[match.group(1)] = int(match.group(2))
        if len(self.ports) != DATA_NODES + 1:
            raise RuntimeError(f"expected {DATA_NODES + 1} running servers, found {self.ports}")

    def down(self):
        self._tool("down", "--purge")

    def connect(self, node="an", dbname="postgres"):
        return Connection(HOST, self.ports[node], dbname)

    @property
    def data_nodes(self):
        return [f"dn{i}" for i in range(1, DATA_NODES + 1)]


class System:
    """One way of storing the `cpu` table. Subclasses say how to create, drop and load it."""

    name = ""
    table = ""
    session_settings = "SET TimeZone = 'UTC'"
    load_method = "COPY"

    def __init__(self, cluster):
        self.cluster = cluster
        self.session = self.connect()

    def connect(self):
        """A session on the access node, set up the way this system's queries run."""
        connection = self.cluster.connect()
        connection.query(self.session_settings)
        return connection

    def create(self, table):
        raise NotImplementedError

    def drop(self, table):
        raise NotImplementedError

    def load(self, table, csv_path):
        """Fills `table` with the whole data set (the local table is loaded first)."""
        self.session.query(f"COPY {table} FROM '{csv_path}' (FORMAT csv)")

    def analyze(self, table):
        """Fresh statistics and visibility maps, so no autovacuum runs during the queries."""
        raise NotImplementedError

    def close(self):
        self.session.close()


class Local(System):
    name = "local"
    table = "cpu_local"

    def create(self, table):
        self.session.query(f"CREATE TABLE {table} ({COLUMNS_SQL}); "
                           f"CREATE INDEX ON {table} (hostname, time DESC); "
                           f"CREATE INDEX ON {table} (time DESC)")

    def drop(self, table):
        self.session.query(f"DROP TABLE {table}")

    def analyze(self, table):
        self.session.query(f"VACUUM ANALYZE {table}")


class FdwShard(System):
    name = "fdw-shard"
    table = "cpu_fdw"
    session_settings = System.session_settings + "; SET enable_partitionwise_aggregate = on"
    load_method = f"INSERT ... SELECT from {Local.table}"

    def __init__(self, cluster):
        super().__init__(cluster)
        self.remote = {}
        for node in cluster.data_nodes:
            with_postgres = cluster.connect(node)
            with_postgres.query(f"CREATE DATABASE {FDW_DATABASE}")
            with_postgres.close()
            self.remote[node] = cluster.connect(node, FDW_DATABASE)
        statements = ["CREATE EXTENSION postgres_fdw"]
        for node in cluster.data_nodes:
            statements += [
                f"CREATE SERVER fdw_{node} FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '{HOST}', "
                f"port '{cluster.ports[node]}', dbname '{FDW_DATABASE}', async_capable 'true', "
                "batch_size '1000', fetch_size '10000')",
                f"CREATE USER MAPPING FOR postgres SERVER fdw_{node} OPTIONS (user 'postgres')",
            ]
        self.session.query("; ".join(statements))

    def create(self, table):
        statements = [f"CREATE TABLE {table} ({COLUMNS_SQL}) PARTITION BY HASH (hostname)"]
        for remainder, node in enumerate(self.cluster.data_nodes):
            shard = f"{table}_p{remainder}"
            self.remote[node].query(f"CREATE TABLE {shard} ({COLUMNS_SQL}); "
                                    f"CREATE INDEX ON {shard} (hostname, time DESC); "
                                    f"CREATE INDEX ON {shard} (time DESC)")
            statements.append(f"CREATE FOREIGN TABLE {shard} PARTITION OF {table} FOR VALUES WITH "
                              f"(MODULUS {len(self.remote)}, REMAINDER {remainder}) SERVER fdw_{node}")
        self.session.query("; ".join(statements))

    def drop(self, table):
        self.session.query(f"DROP TABLE {table}")
        for remainder, node in enumerate(self.cluster.data_nodes):
            self.remote[node].query(f"DROP TABLE {table}_p{remainder}")

    def load(self, table, csv_path):
        # PostgreSQL 15's postgres_fdw sends a COPY one row per round trip (batching COPY came in
        # 16), which would take minutes here; INSERT ... SELECT uses batch_size. The COPY rate is
        # still measured, on the ingest subset.
        self.session.query(f"INSERT INTO {table} SELECT * FROM {Local.table}")

    def analyze(self, table):
        for remainder, node in enumerate(self.cluster.data_nodes):
            self.remote[node].query(f"VACUUM ANALYZE {table}_p{remainder}")
        self.session.query(f"ANALYZE {table}")

    def close(self):
        super().close()
        for connection in self.remote.values():
            connection.close()


class Hyperdist(System):
    name = "hyperdist"
    table = "cpu"

    def create(self, table):
        self.session.query(f"CREATE TABLE {table} ({COLUMNS_SQL}); "
                           f"SELECT create_distributed_hypertable('{table}', 'time', 'hostname', "
                           "chunk_time_interval => interval '12 hours')")

    def drop(self, table):
        self.session.query(f"DROP FOREIGN TABLE {table}")

    def analyze(self, table):
        # The rows live in chunk tables on the data nodes, in the access node's database name;
        # ANALYZE on the access node then samples them for the planner's statistics.
        for node in self.cluster.data_nodes:
            connection = self.cluster.connect(node)
            connection.query("VACUUM ANALYZE")
            connection.close()
        self.session.query(f"ANALYZE {table}")


SYSTEMS = [Local, FdwShard, Hyperdist]
