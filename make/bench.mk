# Benchmarks (bench/, issue #7): convergence against a floor measured in the
# same run, idle cost, API cost, footprint, churn and failover, on the
# benchmark's own local cluster (BENCH_STATE_DIR, apart from the tests' one).
# Benchmarks assert nothing about time; they write bench/results/.

BENCH_STATE_DIR ?= .cluster-bench
BENCH_SIZES ?= 1,100,1000
BENCH_ARGS ?=
BENCH = CLUSTER_STATE_DIR=$(BENCH_STATE_DIR) node .build/bench/cli.js

##@ Benchmarks

.PHONY: bench
bench: build build-test ## Full benchmark on a fresh ha cluster (N=1,100,1000; Go peer and floor sweep; ~40-50 min): bench/results/latest.{json,md,svg}.
	$(BENCH) --fresh --sizes $(BENCH_SIZES) --out bench/results $(BENCH_ARGS)

.PHONY: bench-smoke
bench-smoke: build build-test ## Tiny benchmark (N=1,5, short windows, one failover each, Go peer, floor sweep 4,16) proving the harness: bench/results/smoke.*.
	$(BENCH) --smoke --out bench/results $(BENCH_ARGS)

.PHONY: bench-compare
bench-compare: build build-test ## Also run another operator side by side: make bench-compare OPERATOR_CMD='<command>'.
	@test -n "$(OPERATOR_CMD)" || { echo "usage: make bench-compare OPERATOR_CMD='<command>' ({kubeconfig}, {namespace}, {metricsPort} are substituted; OPERATOR_NAME names it in peers[])" >&2; exit 2; }
	$(BENCH) --fresh --sizes $(BENCH_SIZES) --out bench/results --operator-cmd '$(OPERATOR_CMD)' --operator-name '$(or $(OPERATOR_NAME),operator-cmd)' $(BENCH_ARGS)

.PHONY: test-bench-smoke
test-bench-smoke: build build-test ## The harness's smoke run as a mocha spec (stable keys, sane values; no timing thresholds).
	$(MOCHA) --timeout 1200000 .build/test/integration/bench-smoke.spec.js

.PHONY: bench-peer-go
bench-peer-go: ## Build the Go peer (bench/peer-go, controller-runtime) into the tools cache; every bench run does this itself.
	bench/peer-go/build.sh

# CI runs the smoke size as part of make test: test/integration/bench-smoke.spec.ts
# is one of the integration specs.
