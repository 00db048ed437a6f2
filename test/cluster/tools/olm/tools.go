//go:build tools

// Package tools pins OLM's olm operator (the ClusterServiceVersion and
// OperatorGroup controllers), run out of cluster by the OLM proof. Its CRDs
// come from the same module (deploy/chart/crds).
package tools

import (
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
)
