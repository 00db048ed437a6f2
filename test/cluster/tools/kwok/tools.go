//go:build tools

// Package tools pins kwok (fake nodes and pod status) and kwokctl (which
// starts the control plane as plain processes).
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
	_ "sigs.k8s.io/kwok/cmd/kwokctl"
)
