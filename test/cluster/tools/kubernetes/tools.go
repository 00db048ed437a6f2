//go:build tools

// Package tools pins the binaries and manifests the local cluster is built
// from. Nothing here is imported by the operator.
package tools

import (
	_ "github.com/openshift/api/config/v1"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
