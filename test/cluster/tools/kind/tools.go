//go:build tools

// Package tools pins kind, which creates the e2e cluster from the node image
// test/kind/node-image.sh builds offline.
package tools

import (
	_ "sigs.k8s.io/kind"
)
