//go:build tools

// Package testcluster pins the control-plane commands in go.mod so that `go build k8s.io/kubernetes/cmd/...`
// resolves inside this module.
package testcluster

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
