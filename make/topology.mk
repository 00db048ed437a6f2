# Topology-aware sizing (issue #4): the integration suites that run the built
# operator against every local cluster profile. Included by the Makefile.
# They use their own cluster state directory, so they never replace a cluster
# another suite (or make cluster-up) is using.

TOPOLOGY_CLUSTER_STATE_DIR ?= .cluster-topo

.PHONY: test-topology
test-topology: build build-test ## Topology integration suites on every cluster profile (own cluster in .cluster-topo).
	CLUSTER_STATE_DIR=$(TOPOLOGY_CLUSTER_STATE_DIR) $(MOCHA) --timeout 300000 '.build/test/integration/topology/**/*.spec.js'
