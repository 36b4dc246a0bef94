"""Timing loops. Every measurement interleaves the systems round-robin, so background noise lands
on all of them alike, and rotates which system goes first, so none always runs on the caches the
previous one warmed (or evicted)."""

import math
import re
import statistics
import sys
import threading
import time

from .pgwire import FLOAT_TYPES, PgError

INSERT_BATCH_ROWS = 1000
CONCURRENT_CLIENTS = 4
FLOAT_TOLERANCE = 1e-9  # relative, in the correctness check


class Progress:
    """`[step/total elapsed] what ...` lines on stderr."""

    def __init__(self, total):
        self.total = total
        self.done = 0
        self.started = time.monotonic()

    def _elapsed(self):
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def step(self, what):
        self.done += 1
        print(f"[{self.done}/{self.total} {self._elapsed()}] {what} ...", file=sys.stderr, flush=True)

    def note(self, what):
        print(f"[{self._elapsed()}] {what}", file=sys.stderr, flush=True)


def rotations(systems, runs):
    """The systems in a different order for each run."""
    for run in range(runs):
        shift = run % len(systems)
        yield run, systems[shift:] + systems[:shift]


def timed(action):
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


# --- ingest -----------------------------------------------------------------------------------

INGEST_METHODS = ["COPY", "INSERT, 1 client", f"INSERT, {CONCURRENT_CLIENTS} clients"]


def ingest_steps(systems, runs):
    return len(INGEST_METHODS) * runs * len(systems)


def measure_ingest(systems, csv_path, rows, runs, progress):
    """Seconds per run of each ingest method into a fresh table of each system."""
    batches = _insert_batches(csv_path)
    seconds = {method: {s.name: [] for s in systems} for method in INGEST_METHODS}
    for method in INGEST_METHODS:
        for run, order in rotations(systems, runs):
            for system in order:
                progress.step(f"ingest {rows} rows: {method} into {system.name} (run {run + 1}/{runs})")
                table = system.table + "_ingest"
                system.create(table)
                try:
                    seconds[method][system.name].append(_ingest(system, table, method, csv_path, batches))
                finally:
                    system.drop(table)
    return seconds


def _ingest(system, table, method, csv_path, batches):
    if method == "COPY":
        return timed(lambda: system.session.query(f"COPY {table} FROM '{csv_path}' (FORMAT csv)"))
    statements = [f"INSERT INTO {table} VALUES {values}" for values in batches]
    if method == "INSERT, 1 client":
        return timed(lambda: [system.session.query(sql) for sql in statements])
    return _concurrent_inserts(system, statements)


def _concurrent_inserts(system, statements):
    """Wall time for CONCURRENT_CLIENTS sessions to insert the batches, dealt out round-robin."""
    clients = [system.connect() for _ in range(CONCURRENT_CLIENTS)]
    errors = []
    start_together = threading.Barrier(CONCURRENT_CLIENTS + 1)

    def client(index):
        start_together.wait()
        try:
            for sql in statements[index::CONCURRENT_CLIENTS]:
                clients[index].query(sql)
        except Exception as e:  # noqa: BLE001 -- re-raised in the main thread below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONCURRENT_CLIENTS)]
    for thread in threads:
        thread.start()
    start_together.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    for connection in clients:
        connection.close()
    if errors:
        raise errors[0]
    return elapsed


def _insert_batches(csv_path):
    """VALUES lists of INSERT_BATCH_ROWS rows each, built once before any timing starts."""
    rows = []
    with open(csv_path) as source:
        for line in source:
            stamp, host, rest = line.rstrip("\n").split(",", 2)
            rows.append(f"('{stamp}','{host}',{rest})")
    return [",".join(rows[i:i + INSERT_BATCH_ROWS]) for i in range(0, len(rows), INSERT_BATCH_ROWS)]


# --- queries ----------------------------------------------------------------------------------

def query_steps(systems, queries, runs):
    return len(queries) * (1 + runs) * len(systems)


def measure_queries(systems, queries, runs, label, progress):
    """For each query: one warm-up per system, whose rows are kept for the correctness check, then
    `runs` timed runs. Returns ({query: {system: [ms]}}, {query: {system: rows or PgError}})."""
    times = {q.name: {s.name: [] for s in systems} for q in queries}
    answers = {q.name: {} for q in queries}
    for query in queries:
        for system in systems:
            progress.step(f"{label}: {query.name} on {system.name} (warm-up)")
            try:
                answers[query.name][system.name] = canonical_rows(system.session.query(query.sql(system.table)))
            except PgError as e:
                answers[query.name][system.name] = e
        working = [s for s in systems if not isinstance(answers[query.name][s.name], PgError)]
        for run, order in rotations(systems, runs):
            for system in order:
                skipped = "" if system in working else ", skipped: it failed"
                progress.step(f"{label}: {query.name} on {system.name} (run {run + 1}/{runs}{skipped})")
                if system in working:
                    sql = query.sql(system.table)
                    times[query.name][system.name].append(
                        1000 * timed(lambda: system.session.query(sql, keep_rows=False)))
    return times, answers


def canonical_rows(result):
    """The rows in a fixed order (all columns, ascending), float columns as numbers."""
    floats = [oid in FLOAT_TYPES for oid in result.type_oids]
    rows = [tuple(float(v) if is_float and v is not None else v for v, is_float in zip(row, floats))
            for row in result.rows]
    return sorted(rows, key=lambda row: tuple((v is not None, v) for v in row))


def mismatches(answers, reference="local"):
    """(query, system, description) for every answer that differs from the reference system's."""
    found = []
    for query, by_system in answers.items():
        expected = by_system[reference]
        for system, rows in by_system.items():
            if isinstance(rows, PgError):
                found.append((query, system, f"failed: {rows}"))
            elif system != reference and not isinstance(expected, PgError) and not _rows_agree(expected, rows):
                found.append((query, system, _difference(expected, rows, reference, system)))
    return found


def _rows_agree(expected, actual):
    return len(expected) == len(actual) and all(
        len(a) == len(b) and all(_values_agree(x, y) for x, y in zip(a, b)) for a, b in zip(expected, actual))


def _values_agree(x, y):
    """Sums and averages may differ in their last bits with the order rows were added in, which is
    no disagreement. (Rounding both to N digits instead would flag values that straddle a rounding
    boundary, and averages of 2-decimal data land on those exactly.)"""
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    return x == y


def _difference(expected, actual, reference, system):
    text = f"{len(actual)} rows against {len(expected)} from {reference}"
    for index, (a, b) in enumerate(zip(expected, actual)):
        if not _rows_agree([a], [b]):
            return text + f"; row {index + 1} is {a} on {reference} but {b} on {system}"
    return text


def planning_steps(systems, runs):
    return (1 + runs) * len(systems)


def measure_planning(systems, query, runs, progress):
    """Planning and execution time (ms) of a point query as EXPLAIN (ANALYZE) reports them."""
    planning = {s.name: [] for s in systems}
    execution = {s.name: [] for s in systems}
    for system in systems:
        progress.step(f"planning: point query on {system.name} (warm-up)")
        system.session.query(query.sql(system.table))
    for run, order in rotations(systems, runs):
        for system in order:
            progress.step(f"planning: point query on {system.name} (run {run + 1}/{runs})")
            plan = "\n".join(row[0] for row in system.session.query(query.sql(system.table)).rows)
            planning[system.name].append(_explain_ms(plan, "Planning Time"))
            execution[system.name].append(_explain_ms(plan, "Execution Time"))
    return planning, execution


def _explain_ms(plan, label):
    return float(re.search(rf"{label}: ([0-9.]+) ms", plan).group(1))


def median(values):
    return statistics.median(values) if values else None
