// Package k8s holds the suite's Kubernetes manifests (kustomize base,
// components, infra and overlays under this folder) and their offline
// checks. The package has no code of its own: its tests build every overlay
// in-process with kustomize, decode each object strictly into the
// Kubernetes API types, and check the workloads' hardening, their probes
// and mutual TLS wiring, and that the NetworkPolicies allow exactly the
// suite's flows (see docs/operations.md).
package k8s
