# Benchmarks (bench/): convergence against a floor measured in the same run,
# idle cost, API cost, footprint, churn and failover, on the benchmark's own
# local cluster (BENCH_STATE_DIR, apart from the tests' one), and the
# exporter's footprint. Included by the Makefile. Benchmarks assert nothing
# about time; they write bench/results/. Every run builds the Go peer
# (bench/peer-go/build.sh) into the tools cache when it is missing. The smoke
# size also runs in make test: make test-integration SUITE=bench-smoke.

BENCH_STATE_DIR ?= .cluster-bench
BENCH_SIZES ?= 1,100,1000
BENCH_ARGS ?=
BENCH = CLUSTER_STATE_DIR=$(BENCH_STATE_DIR) node .build/bench/cli.js
# OPERATOR_CMD: another operator to run side by side ({kubeconfig},
# {namespace}, {metricsPort} are substituted; OPERATOR_NAME names it in peers[]).
OPERATOR_CMD ?=
OPERATOR_NAME ?= operator-cmd

##@ Benchmarks

.PHONY: bench
bench: build build-test ## Full benchmark on a fresh ha cluster (N=1,100,1000; Go peer, floor sweep, OPERATOR_CMD='...' too; ~40-50 min): bench/results/latest.*.
	$(BENCH) --fresh --sizes $(BENCH_SIZES) --out bench/results \
	  $(if $(OPERATOR_CMD),--operator-cmd '$(OPERATOR_CMD)' --operator-name '$(OPERATOR_NAME)') $(BENCH_ARGS)

.PHONY: bench-smoke
bench-smoke: build build-test ## Tiny benchmark (N=1,5, short windows, one failover each, Go peer, floor sweep 4,16) proving the harness: bench/results/smoke.*.
	$(BENCH) --smoke --out bench/results $(BENCH_ARGS)

.PHONY: bench-exporter
bench-exporter: build build-test ## Exporter footprint per memcached pod (idle, scrapes every 5 s and 15 s; 1 and 10 targets): bench/results/exporter.json.
	scripts/install-deps.sh memcached
	node .build/bench/exporter.js --out bench/results

.PHONY: bench-memcached-memory
bench-memcached-memory: build-test ## memcached's memory at full cache (-m 16 to 1024, warm and cold, tiny/small/mid values; root: a memory cgroup each) that the container limit is derived from: bench/results/memcached-memory.*.
	scripts/install-deps.sh memcached
	node .build/bench/memcached-memory.js --out bench/results $(BENCH_ARGS)
