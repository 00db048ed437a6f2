//go:build tools

// Package tools pins OLM v0 (olm, catalog and package-server operators, the
// bundle-unpack helpers cpb and copy-content) and opm from the
// operator-registry version OLM itself requires, so the catalog tooling and
// OLM always agree. Their CRDs and release manifests come from the same
// module (deploy/chart/crds, deploy/upstream/quickstart). grpc_health_probe,
// at the version operator-registry pins, is the catalog pod's probe.
package tools

import (
	_ "github.com/grpc-ecosystem/grpc-health-probe"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/catalog"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/copy-content"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/olm"
	_ "github.com/operator-framework/operator-lifecycle-manager/cmd/package-server"
	_ "github.com/operator-framework/operator-lifecycle-manager/util/cpb"
	_ "github.com/operator-framework/operator-registry/cmd/opm"
)
