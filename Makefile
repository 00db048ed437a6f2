# memcached-operator: targets mirror an Operator SDK project's. Every target is
# one a user or CI runs; make help lists them by heading.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PROFILE ?= ha
KUBECONFIG_LOCAL := $(CURDIR)/.cluster/kubeconfig
MOCHA := node_modules/.bin/mocha
TSC := node_modules/.bin/tsc

# The pinned Node (.nvmrc) goes first on PATH when the system one is older;
# scripts/node.sh installs it into the tools cache (with node_modules). A
# machine with Node 26.10+ already gets nothing new.
NODE_BIN := $(shell scripts/node.sh dir 2>/dev/null)
export PATH := $(if $(NODE_BIN),$(NODE_BIN):)$(PATH)

##@ General

# Each "##@ Heading" line opens a section and each "target: ## text" line
# lists a target, in the order make reads them.
.PHONY: help
help: ## List every target.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target> [VAR=value]\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-17s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Try it

.PHONY: demo
demo: node_modules ## Local (kwok) cluster up, operator running, sample Available: pods are simulated, no root or docker.
	scripts/demo.sh

.PHONY: demo-kind
demo-kind: node_modules ## The same on the kind test bed (root): real containers, memcached answers a set and a get.
	scripts/demo-kind.sh

##@ Development

node_modules: package.json package-lock.json
	@scripts/node.sh install >/dev/null
	npm ci --no-audit --no-fund
	@touch node_modules

.PHONY: build
build: node_modules ## Compile the operator into dist/ (and the runtime package into packages/runtime/dist/).
	$(TSC) -b packages/runtime
	$(TSC) -p tsconfig.json

# The image's entry point (hack/bundle-js.js says why). Named bundle-js:
# make bundle is OLM's.
.PHONY: bundle-js
bundle-js: build ## Bundle dist/main.js and all it imports, minified, into dist/bundle/main.js (the image runs it as dist/main.js) and a lazy chunk for the client library.
	node hack/bundle-js.js

# The test sources compile against the runtime package's declarations.
.PHONY: build-test
build-test: node_modules
	$(TSC) -b packages/runtime
	rm -rf .build packages/runtime/.build
	$(TSC) -p tsconfig.test.json
	$(TSC) -p packages/runtime/tsconfig.test.json

# Type-aware rules need the runtime package's declarations (packages/runtime/dist).
.PHONY: lint
lint: node_modules ## Run eslint (typescript-eslint, type-aware).
	$(TSC) -b packages/runtime
	node_modules/.bin/eslint .

.PHONY: alerts
alerts: build ## Regenerate config/prometheus/rules/memcached-alerts.yaml from src/memcached/alerts.ts.
	node hack/generate-alerts.js $(ALERT_RULES)

KUBECONFIG_RUN := $(or $(KUBECONFIG),$(if $(wildcard $(HOME)/.kube/config),$(HOME)/.kube/config),$(KUBECONFIG_LOCAL))

.PHONY: run
run: build ## Run the operator on the host against $KUBECONFIG (else ~/.kube/config, else .cluster/kubeconfig).
	node dist/main.js --kubeconfig "$(KUBECONFIG_RUN)" $(ARGS)

##@ Local cluster

.PHONY: cluster-up
cluster-up: ## Start the local cluster: make cluster-up PROFILE=sno|compact|ha|dual|arbiter|external|vanilla.
	test/cluster/cluster.sh up $(PROFILE)

.PHONY: cluster-down
cluster-down: ## Stop the local cluster (and the operator make demo started) and remove its state.
	test/cluster/cluster.sh down

# Each area keeps its targets in its own fragment, listed by make help in
# this order.
include make/test.mk make/kind.mk make/packaging.mk make/bench.mk
