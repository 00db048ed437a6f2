# memcached-operator: targets mirror an Operator SDK project's.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PROFILE ?= ha
KUBECONFIG_LOCAL := $(CURDIR)/.cluster/kubeconfig
MOCHA := node_modules/.bin/mocha
TSC := node_modules/.bin/tsc

# The pinned Node (.nvmrc) goes first on PATH when the system one is older;
# scripts/node.sh installs it into the tools cache (target node). A machine
# with Node 26.10+ already gets nothing new.
NODE_BIN := $(shell scripts/node.sh dir 2>/dev/null)
export PATH := $(if $(NODE_BIN),$(NODE_BIN):)$(PATH)

# Each area keeps its targets in its own fragment.
include $(wildcard make/*.mk)

##@ General

.PHONY: help
help: ## List every target.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target> [VAR=value]\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: node
node: ## Install the pinned Node (.nvmrc) into the tools cache if the system one is older.
	@scripts/node.sh install >/dev/null

node_modules: package.json package-lock.json | node
	npm ci --no-audit --no-fund
	@touch node_modules

.PHONY: deps
deps: node_modules ## Install what a fresh machine lacks: Debian packages (memcached) and npm packages.
	scripts/install-deps.sh

# The controller runtime is a workspace package (packages/runtime); the
# operator compiles against its built declarations.
.PHONY: build-runtime
build-runtime: node_modules
	$(TSC) -b packages/runtime

.PHONY: build
build: build-runtime ## Compile the operator into dist/ (and the runtime package into packages/runtime/dist/).
	$(TSC) -p tsconfig.json

.PHONY: build-test
build-test: build-runtime
	rm -rf .build packages/runtime/.build
	$(TSC) -p tsconfig.test.json
	$(TSC) -p packages/runtime/tsconfig.test.json

.PHONY: lint
# Type-aware rules need the runtime package's declarations (packages/runtime/dist).
lint: build-runtime ## Run eslint (typescript-eslint, type-aware).
	node_modules/.bin/eslint .

##@ Local cluster

.PHONY: tools
tools: ## Build (once) the pinned etcd, Kubernetes and kwok binaries into the cache.
	test/cluster/build-tools.sh

.PHONY: cluster-up
cluster-up: ## Start the local cluster: make cluster-up PROFILE=sno|compact|ha|dual|arbiter|external|vanilla.
	test/cluster/cluster.sh up $(PROFILE)

.PHONY: cluster-down
cluster-down: ## Stop the local cluster and remove its state.
	test/cluster/cluster.sh down

##@ Test

.PHONY: test-unit
test-unit: build-test ## Unit tests: pure logic, no cluster (the operator's and the runtime package's).
	$(MOCHA) '.build/test/unit/**/*.spec.js' 'packages/runtime/.build/test/**/*.spec.js'

.PHONY: test-cluster
test-cluster: build-test ## Prove the local cluster is a real one.
	$(MOCHA) --timeout 180000 '.build/test/cluster/**/*.spec.js'

.PHONY: test-integration
test-integration: build build-test ## Integration suites on the local cluster: reconciler, topology, leader election, packaging, bench smoke.
	$(MOCHA) --timeout 600000 '.build/test/integration/**/*.spec.js'

# The kind e2e comes last, on a bed of its own: the local cluster is stopped
# first (it would only compete for the CPU), and the kind cluster and its
# dockerd are removed at the end, pass or fail.
.PHONY: test
test: lint test-unit test-cluster test-integration ## Run every suite (lint, unit, cluster, integration, e2e; e2e on kind); make deps first on a fresh machine.
	test/cluster/cluster.sh down
	@rc=0; { $(MAKE) --no-print-directory kind-up && $(MAKE) --no-print-directory test-e2e-kind; } || rc=$$?; \
	$(MAKE) --no-print-directory kind-down || echo "warning: make kind-down failed" >&2; \
	exit $$rc

##@ Try it

.PHONY: demo
demo: node_modules ## One command on a fresh machine: local cluster up, operator running, sample Available.
	scripts/demo.sh

##@ Run

KUBECONFIG_RUN := $(or $(KUBECONFIG),$(if $(wildcard $(HOME)/.kube/config),$(HOME)/.kube/config),$(KUBECONFIG_LOCAL))

.PHONY: run
run: build ## Run the operator on the host against $KUBECONFIG (else ~/.kube/config, else .cluster/kubeconfig).
	node dist/main.js --kubeconfig "$(KUBECONFIG_RUN)" $(ARGS)
