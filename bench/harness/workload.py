"""The TSBS "cpu-only" data set and query set, both deterministic for a given seed."""

import datetime
import math
import os
import random

START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
INTERVAL_S = 10  # one row per host every 10 s, as TSBS does
METRICS = [
    "usage_user", "usage_system", "usage_idle", "usage_nice", "usage_iowait",
    "usage_irq", "usage_softirq", "usage_steal", "usage_guest", "usage_guest_nice",
]
COLUMNS_SQL = ("time timestamptz NOT NULL, hostname text NOT NULL, "
               + ", ".join(f"{m} double precision" for m in METRICS))
# Bump when the generator changes, so cached files of the old one are not reused.
GENERATOR_VERSION = 1
# TSBS steps each metric by a normal(0, 1) draw; a uniform draw with the same standard deviation
# gives the same walk statistics at a fraction of the cost of random.gauss.
STEP_HALF_WIDTH = math.sqrt(3)


class Dataset:
    """`hosts` hosts (host_0 ...), `hours` hours from START, one CSV row per host per 10 s."""

    def __init__(self, hosts, hours, seed):
        self.hosts = hosts
        self.hours = hours
        self.seed = seed
        self.rows = hosts * hours * 3600 // INTERVAL_S
        self.path = f"/tmp/hyperdist-bench-cpu-v{GENERATOR_VERSION}-{hosts}hosts-{hours}h-seed{seed}.csv"

    def ensure(self, progress):
        """Writes the CSV unless a previous run already did (generation is the slow part)."""
        if os.path.exists(self.path):
            return
        progress.note(f"generating {self.rows} rows ({self.hosts} hosts x {self.hours} h) into {self.path}")
        temporary = self.path + ".partial"
        with open(temporary, "w") as out:
            self._write(out)
        # Server-side COPY reads the file as the postgres OS user.
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.path)

    def _write(self, out):
        rng = random.Random(self.seed)
        uniform = rng.random
        width = 2 * STEP_HALF_WIDTH
        state = [[rng.uniform(0, 100) for _ in METRICS] for _ in range(self.hosts)]
        names = [f"host_{h}" for h in range(self.hosts)]
        line = "%s,%s," + ",".join(["%.2f"] * len(METRICS)) + "\n"
        for step in range(self.rows // self.hosts):
            stamp = sql_time(START + datetime.timedelta(seconds=step * INTERVAL_S))
            chunk = []
            for h in range(self.hosts):
                values = [min(100.0, max(0.0, v + width * uniform() - STEP_HALF_WIDTH)) for v in state[h]]
                state[h] = values
                chunk.append(line % (stamp, names[h], *values))
            out.write("".join(chunk))

    def head(self, rows, progress):
        """A CSV of the first `rows` rows (the ingest runs), made once and cached like the data set."""
        path = self.path.replace(".csv", f"-head{rows}.csv")
        if not os.path.exists(path):
            self.ensure(progress)
            with open(self.path) as source, open(path + ".partial", "w") as out:
                for _ in range(rows):
                    out.write(source.readline())
            os.chmod(path + ".partial", 0o644)
            os.replace(path + ".partial", path)
        return path


def sql_time(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


class Query:
    def __init__(self, name, template):
        self.name = name
        self.template = template

    def sql(self, table):
        return self.template.format(table=table)


def tsbs_queries(hosts, hours, seed):
    """The TSBS devops queries, with their random hosts and time windows drawn once from `seed`.

    Parameters come from the scale-1 host set and the data set's time span, so the scale-2 pass
    runs the very same statements on twice the data."""
    rng = random.Random(f"queries-{seed}")
    span_s = hours * 3600

    def window(window_hours):
        """A random [start, end) of `window_hours` (at most the whole span), on a whole second."""
        length = min(window_hours * 3600, span_s)
        start = START + datetime.timedelta(seconds=rng.randrange(span_s - length + 1))
        return (f"time >= '{sql_time(start)}' AND "
                f"time < '{sql_time(start + datetime.timedelta(seconds=length))}'")

    def some_hosts(count):
        names = ", ".join(f"'host_{h}'" for h in sorted(rng.sample(range(hosts), count)))
        return f"hostname IN ({names})"

    def maxes(count):
        return ", ".join(f"max({m}) AS max_{m}" for m in METRICS[:count])

    def avgs(count):
        return ", ".join(f"avg({m}) AS mean_{m}" for m in METRICS[:count])

    def single_groupby(metrics, host_count, window_hours):
        return (f"SELECT time_bucket('1 minute', time) AS minute, {maxes(metrics)} FROM {{table}} "
                f"WHERE {some_hosts(host_count)} AND {window(window_hours)} GROUP BY minute ORDER BY minute")

    def double_groupby(metrics):
        return (f"SELECT time_bucket('1 hour', time) AS hour, hostname, {avgs(metrics)} FROM {{table}} "
                f"WHERE {window(12)} GROUP BY hour, hostname ORDER BY hour, hostname")

    def high_cpu(host_filter):
        return f"SELECT * FROM {{table}} WHERE usage_user > 90.0 AND {window(12)}{host_filter}"

    limit_before = sql_time(START + datetime.timedelta(seconds=rng.randrange(3600, span_s + 1)))
    return [
        Query("single-groupby-1-1-1", single_groupby(1, 1, 1)),
        Query("single-groupby-5-1-12", single_groupby(5, 1, 12)),
        Query("single-groupby-5-8-1", single_groupby(5, 8, 1)),
        Query("double-groupby-1", double_groupby(1)),
        Query("double-groupby-all", double_groupby(len(METRICS))),
        Query("high-cpu-1", high_cpu(f" AND {some_hosts(1)}")),
        Query("high-cpu-all", high_cpu("")),
        Query("lastpoint", "SELECT DISTINCT ON (hostname) * FROM {table} ORDER BY hostname, time DESC"),
        Query("groupby-orderby-limit",
              "SELECT time_bucket('1 minute', time) AS minute, max(usage_user) AS max_usage_user "
              f"FROM {{table}} WHERE time < '{limit_before}' GROUP BY minute ORDER BY minute DESC LIMIT 5"),
        Query("cpu-max-all-8",
              f"SELECT time_bucket('1 hour', time) AS hour, {maxes(len(METRICS))} FROM {{table}} "
              f"WHERE {some_hosts(8)} AND {window(8)} GROUP BY hour ORDER BY hour"),
    ]


def point_query(seed, hours):
    """The planning-time probe: one row, by host and exact time (both exclude all but one chunk)."""
    rng = random.Random(f"point-{seed}")
    moment = START + datetime.timedelta(seconds=INTERVAL_S * rng.randrange(hours * 3600 // INTERVAL_S))
    return Query("point query", f"EXPLAIN (ANALYZE) SELECT * FROM {{table}} "
                                f"WHERE hostname = 'host_1' AND time = '{sql_time(moment)}'")
