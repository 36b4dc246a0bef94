# The two commands a newcomer needs (see README.md):
#   make run    set up, build, start a local cluster (1 access node, 3 data nodes), print how to connect
#   make test   set up, build, lint, and run every test tier
.PHONY: run test setup lint unit pgrx-test bench-quick integration stop bench

run: setup
	scripts/cluster up

test: setup lint unit pgrx-test bench-quick integration

setup:
	scripts/setup

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

# Pure logic, no PostgreSQL: seconds.
unit:
	cargo test -p hyperdist-core

# In-database #[pg_test] suites, against the installed extension.
pgrx-test:
	scripts/pgrx-test

# The benchmark harness at a tiny scale: proves it still runs and that the three systems agree
# (it exits non-zero if they do not). No timing is judged.
bench-quick:
	bench/run --quick

# Multi-node suites: real servers started by the harness in tests/.
integration:
	cargo test -p hyperdist-tests

stop:
	scripts/cluster down

# TSBS cpu-only benchmark against a local table and postgres_fdw sharding, on the release build
# (see README.md, Benchmarks). make test and make run install the debug build again.
bench: setup
	cargo pgrx install --release --pg-config /usr/lib/postgresql/15/bin/pg_config
	bench/run
