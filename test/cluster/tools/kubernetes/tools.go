//go:build tools

// Package tools pins the binaries and manifests the local cluster is built
// from (kubelet, kubeadm and kube-proxy are for the kind node image that
// test/kind builds). Nothing here is imported by the operator.
package tools

import (
	_ "github.com/openshift/api/config/v1"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubeadm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
