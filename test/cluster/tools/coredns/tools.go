//go:build tools

// Package tools pins CoreDNS, built into the kind node image as the cluster
// DNS at the version kubeadm v1.36 expects (constants.CoreDNSVersion).
package tools

import (
	_ "github.com/coredns/coredns"
)
