# The test suites. Included by the Makefile.
#
# make test checks the machine first (scripts/preflight.sh: Go's version,
# root and free disk for the kind bed), in its first seconds, then installs
# what each suite needs as it comes (npm packages, memcached, promtool, the
# pinned tools built from source) and runs every suite. Its e2e step runs on
# the kind test bed (E2E=kind, root) or, with E2E=host, on the local kwok
# cluster with the operator on the host (no root, no container engine). The
# local cluster, and the kind cluster with its dockerd, are removed at the
# end, pass or fail.

E2E ?= kind
# One integration suite instead of all: a folder or spec under
# test/integration (memcached, runtime, topology, leaderelection, packaging,
# bench-smoke). CLUSTER_STATE_DIR puts it on a cluster of its own.
SUITE ?=
ALERT_RULES := config/prometheus/rules/memcached-alerts.yaml
ALERT_TESTS := test/prometheus/memcached-alerts.test.yaml
DASHBOARD := config/grafana/memcached-dashboard.json
PROMTOOL ?= promtool

##@ Test

.PHONY: test
test: ## Every suite: lint, unit, cluster, integration, alerts, then e2e on the kind bed (root; E2E=host: no root).
	@scripts/preflight.sh test $(E2E)
	@$(MAKE) --no-print-directory lint test-unit test-cluster test-integration test-alerts
	@rc=0; if [ '$(E2E)' = host ]; then \
	  $(MAKE) --no-print-directory test-e2e || rc=$$?; \
	  test/cluster/cluster.sh down; exit $$rc; \
	fi; \
	test/cluster/cluster.sh down; \
	{ $(MAKE) --no-print-directory kind-up && $(MAKE) --no-print-directory test-e2e; } || rc=$$?; \
	$(MAKE) --no-print-directory kind-down || echo "warning: make kind-down failed" >&2; \
	exit $$rc

.PHONY: test-unit
test-unit: build-test ## Unit tests: pure logic, no cluster (the operator's and the runtime package's).
	scripts/install-deps.sh memcached promtool
	$(MOCHA) '.build/test/unit/**/*.spec.js' 'packages/runtime/.build/test/**/*.spec.js'

.PHONY: test-cluster
test-cluster: build-test ## Prove the local cluster is a real one.
	$(MOCHA) --timeout 180000 '.build/test/cluster/**/*.spec.js'

.PHONY: test-integration
test-integration: build build-test ## Integration suites on the local cluster; SUITE=topology (or another folder of test/integration) runs one.
	@specs='.build/test/integration/**/*.spec.js'; \
	if [ -n '$(SUITE)' ]; then \
	  if [ -d '.build/test/integration/$(SUITE)' ]; then specs='.build/test/integration/$(SUITE)/**/*.spec.js'; \
	  elif [ -f '.build/test/integration/$(SUITE).spec.js' ]; then specs='.build/test/integration/$(SUITE).spec.js'; \
	  else echo "error: no integration suite SUITE=$(SUITE); the suites: $$(ls test/integration | sed 's/\.spec\.ts$$//' | tr '\n' ' ')" >&2; exit 2; fi; \
	fi; \
	echo "$(MOCHA) --timeout 600000 '$$specs'"; \
	$(MOCHA) --timeout 600000 "$$specs"

.PHONY: test-alerts
test-alerts: ## Check the alert rules, run their promtool unit tests, and parse every dashboard query.
	@scripts/install-deps.sh promtool
	$(PROMTOOL) check rules $(ALERT_RULES)
	$(PROMTOOL) test rules $(ALERT_TESTS)
	node hack/check-dashboard.js $(DASHBOARD) $(PROMTOOL)
	@# Every alert has a runbook and a unit test.
	@for alert in $$(sed -n 's/^ *- alert: *//p' $(ALERT_RULES)); do \
	  test -f docs/runbooks/$$alert.md || { echo "error: alert $$alert has no runbook docs/runbooks/$$alert.md" >&2; exit 1; }; \
	  grep -q "alertname: $$alert$$" $(ALERT_TESTS) || { echo "error: alert $$alert has no test in $(ALERT_TESTS)" >&2; exit 1; }; \
	  grep -q "runbooks/$$alert.md$$" $(ALERT_RULES) || { echo "error: alert $$alert's runbook_url does not name docs/runbooks/$$alert.md" >&2; exit 1; }; \
	done; echo "every alert has a runbook and a unit test"

# End-to-end. On the kind bed (E2E=kind, make kind-up first if no kind cluster
# answers): it builds the operator image (E2E_IMG, a local name) from the
# bed's local base images, loads it, and the specs make deploy it with the
# bed's local memcached image (MEMCACHED_IMG from images.env), so the
# operator, its probes and memcached all run for real; the OLM spec (9-olm,
# last) installs OLM v0 and publishes bundles and catalogs to the bed's
# registry (REGISTRY). With KIND_CLUSTER set it uses that kind cluster instead
# (docker and the internet: the memcached image is pulled). With E2E=host,
# the deploy specs run on the local (kwok) cluster, the operator on the host.
E2E_IMG ?= localhost/memcached-operator:e2e
E2E_MOCHA = $(MOCHA) --timeout 900000
E2E_KIND_SPECS = .build/test/e2e/deploy.spec.js '.build/test/e2e/kind/*.spec.js'

.PHONY: test-e2e
test-e2e: build build-test ## e2e: deploy, install.yaml, serving, probes, failover, faults, topology, security, OLM on kind (E2E=host: deploy specs, kwok).
	@case '$(E2E)' in host|kind) ;; *) echo "error: E2E=$(E2E): it is kind or host" >&2; exit 2 ;; esac
	@if [ '$(E2E)' = host ]; then set -x; E2E_MODE=host $(E2E_MOCHA) .build/test/e2e/deploy.spec.js; exit; fi; \
	if [ -n "$${KIND_CLUSTER:-}" ]; then \
	  set -x; \
	  kubeconfig=$$(mktemp); trap 'rm -f "$$kubeconfig"' EXIT; \
	  kind get kubeconfig --name "$$KIND_CLUSTER" >"$$kubeconfig"; \
	  $(MAKE) --no-print-directory docker-build IMG=$(E2E_IMG); \
	  kind load docker-image $(E2E_IMG) --name "$$KIND_CLUSTER"; \
	  KUBECONFIG=$$kubeconfig E2E_MODE=in-cluster IMG=$(E2E_IMG) MEMCACHED_IMG=$${MEMCACHED_IMG:-docker.io/library/memcached:1.6.39} \
	    $(E2E_MOCHA) $(E2E_KIND_SPECS); \
	  exit; \
	fi; \
	kubeconfig=$(abspath $(KIND_STATE_DIR))/kubeconfig; \
	if ! [ -f "$$kubeconfig" ] || ! $(KUBECTL) --kubeconfig "$$kubeconfig" get nodes >/dev/null 2>&1; then \
	  echo "test-e2e: no kind cluster answers at $$kubeconfig; make kind-up"; \
	  $(MAKE) --no-print-directory kind-up; \
	fi; \
	set -a; . $(KIND_STATE_DIR)/images.env; set +a; \
	test -n "$${MEMCACHED_IMG:-}" || { echo "error: $(KIND_STATE_DIR)/images.env names no MEMCACHED_IMG" >&2; exit 1; }; \
	set -x; \
	$(MAKE) --no-print-directory docker-build IMG=$(E2E_IMG); \
	test/kind/kind.sh load $(E2E_IMG); \
	rm -f test/e2e/results/kind.json; \
	KUBECONFIG=$$kubeconfig E2E_MODE=in-cluster IMG=$(E2E_IMG) $(E2E_MOCHA) $(E2E_KIND_SPECS)
