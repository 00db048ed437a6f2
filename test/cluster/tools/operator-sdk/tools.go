//go:build tools

// Package tools pins operator-sdk, used by `make bundle` to validate the
// generated OLM bundle (operator-sdk bundle validate).
package tools

import (
	_ "github.com/operator-framework/operator-sdk/cmd/operator-sdk"
)
