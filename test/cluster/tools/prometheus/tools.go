//go:build tools

// Package tools pins Prometheus for the kind monitoring proof
// (test/e2e/kind/7-monitoring.spec.ts). build-monitoring-tools.sh builds
// cmd/prometheus from a copy of this module version whose plugins/plugins.go
// is replaced by plugins.go.overlay (Kubernetes service discovery only), in a
// go.work it writes into the tools cache. go.sum holds the hashes of what that
// build loads; `go mod tidy` here would pull in every discovery's SDK, so it is
// not tidied.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
)
