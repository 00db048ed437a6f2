# Monitoring (issue #12): the alert rules, their promtool unit tests and the
# Grafana dashboard. Included by the Makefile. promtool comes from Debian's
# prometheus package (make deps installs it).

PROMTOOL ?= promtool
ALERT_RULES := config/prometheus/rules/memcached-alerts.yaml
ALERT_TESTS := test/prometheus/memcached-alerts.test.yaml
DASHBOARD := config/grafana/memcached-dashboard.json

##@ Monitoring

.PHONY: test-alerts
test-alerts: ## Check the alert rules, run their promtool unit tests, and parse every dashboard query.
	@command -v $(PROMTOOL) >/dev/null 2>&1 || { echo "error: $(PROMTOOL) not found: run make deps (Debian's prometheus package has it)" >&2; exit 1; }
	$(PROMTOOL) check rules $(ALERT_RULES)
	$(PROMTOOL) test rules $(ALERT_TESTS)
	node hack/check-dashboard.js $(DASHBOARD) $(PROMTOOL)
	@# Every alert has a runbook and a unit test.
	@for alert in $$(sed -n 's/^ *- alert: *//p' $(ALERT_RULES)); do \
	  test -f docs/runbooks/$$alert.md || { echo "error: alert $$alert has no runbook docs/runbooks/$$alert.md" >&2; exit 1; }; \
	  grep -q "alertname: $$alert$$" $(ALERT_TESTS) || { echo "error: alert $$alert has no test in $(ALERT_TESTS)" >&2; exit 1; }; \
	  grep -q "runbooks/$$alert.md$$" $(ALERT_RULES) || { echo "error: alert $$alert's runbook_url does not name docs/runbooks/$$alert.md" >&2; exit 1; }; \
	done; echo "every alert has a runbook and a unit test"

# make test runs these too (prerequisites add up across rules).
test: test-alerts

.PHONY: bench-exporter
bench-exporter: build build-test ## Exporter footprint per memcached pod (idle, scrapes every 5 s and 15 s; 1 and 10 targets): bench/results/exporter.json.
	node .build/bench/exporter.js --out bench/results
