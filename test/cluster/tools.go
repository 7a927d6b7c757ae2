//go:build tools

// Package testcluster pins the kube-apiserver command in go.mod so that `go build k8s.io/kubernetes/cmd/kube-apiserver`
// resolves inside this module.
package testcluster

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
