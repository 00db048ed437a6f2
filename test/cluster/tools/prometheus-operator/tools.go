//go:build tools

// Package tools pins prometheus-operator for the monitoring proofs: its
// operator and config reloader (built into local images for the kind spec,
// test/kind/images.sh) and its example CRDs (PodMonitor, PrometheusRule,
// ...), which the integration test installs and removes while the operator
// runs (test/cluster/build-monitoring-crds.sh copies them out of this module).
package tools

import (
	_ "github.com/prometheus-operator/prometheus-operator/cmd/operator"
	_ "github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader"
)
