//go:build tools

// Package tools pins the distribution registry that runs next to the kind
// nodes (test/kind/registry.sh): bundle and catalog images are pushed to it
// and the nodes' containerd pulls them from it.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
)
