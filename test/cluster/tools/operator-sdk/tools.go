//go:build tools

// Package tools pins operator-sdk, used by `make bundle` to validate the
// generated OLM bundle (operator-sdk bundle validate), and its scorecard-test
// runner, whose image the scorecard runs in the cluster.
package tools

import (
	_ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"
	_ "github.com/operator-framework/operator-sdk/images/scorecard-test"
)
