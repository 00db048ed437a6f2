# Leader election under faults (issue #5): several real operator processes
# against one local ha cluster (SIGKILL, SIGTERM, a TCP partition, apiserver
# outages, leader-for-life eviction and node loss), with the audit-log proof
# that no two processes ever wrote in overlapping leadership windows.
# Included by the Makefile. The suite stops the apiserver and freezes kwok, so
# it runs on its own cluster (state in .cluster-le), never on one another suite
# is using; its measurements land in bench/results/failover-raw.json.

LEADER_ELECTION_CLUSTER_STATE_DIR ?= .cluster-le

.PHONY: test-leader-election
test-leader-election: build build-test ## Leader-election fault suites on an ha cluster of their own (.cluster-le); records failover times.
	CLUSTER_STATE_DIR=$(LEADER_ELECTION_CLUSTER_STATE_DIR) test/cluster/cluster.sh up ha
	CLUSTER_STATE_DIR=$(LEADER_ELECTION_CLUSTER_STATE_DIR) $(MOCHA) --timeout 300000 '.build/test/integration/leaderelection/**/*.spec.js'
