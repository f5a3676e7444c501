//go:build tools

// Package tools pins h2spec, the HTTP/2 conformance checker that
// `make h2spec` runs against our server. h2spec has no go.mod of its own,
// so this module records the versions of its dependencies; it stays out of
// the main module's go.mod.
package tools

import _ "github.com/summerwind/h2spec/cmd/h2spec"
