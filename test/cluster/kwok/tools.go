//go:build tools

// Package testclusterkwok pins KWOK's controller command in go.mod so that `go build sigs.k8s.io/kwok/cmd/kwok`
// resolves inside this module. It is a module of its own because KWOK needs newer k8s.io libraries than the
// Kubernetes release the other binaries are built from.
package testclusterkwok

import _ "sigs.k8s.io/kwok/cmd/kwok"
