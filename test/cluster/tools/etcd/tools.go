//go:build tools

// Package tools pins etcd for the local cluster. Debian's etcd 3.4 is older
// than Kubernetes 1.36 supports.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
