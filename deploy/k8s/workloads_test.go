package k8s

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Environment variables that carry secrets: they must come from a Secret by
// name, never from a literal or a ConfigMap.
var secretEnv = []string{"MONGODB_URI", jwtSecretEnv, jwtPreviousSecretEnv, "NOCONTACT_KEK", "NOCONTACT_KEK_PREVIOUS"}

// Every binary serves Prometheus metrics on a listener of its own
// (METRICS_ADDR): GET /metrics on 9464, the port the network policies open
// to the scraper only.
const (
	metricsPortName = "metrics"
	metricsPort     = 9464
	metricsPath     = "/metrics"
)

// Every service also serves the gRPC health service alone, in plaintext, on
// PROBE_ADDR (:9091), the container port "probes": the kubelet's gRPC probes
// cannot speak the mutual TLS the API port (9090) requires with
// components/service-tls. Readiness asks the health service "" (MongoDB and
// NATS answer), liveness the service "liveness" (the process runs). Only the
// kubelet reaches that port: no Service port leads to it, and no
// NetworkPolicy opens it (probePorts tries it).
const (
	probesPortName      = "probes"
	probesPort          = 9091
	readinessHealthName = ""
	livenessHealthName  = "liveness"
)

// checkWorkloads returns what is wrong with the workloads of m, one line per
// problem: every Deployment and StatefulSet needs probes, requests and
// limits and a non-root read-only security context; every Deployment also
// needs a PodDisruptionBudget and a HorizontalPodAutoscaler of its own, a
// Service and a ServiceAccount, the Go runtime sized from its limits, secrets
// from Secrets, exactly one way to verify tokens (checkTokenKeys), a grace
// period longer than its shutdown, and its metrics port declared, announced
// and served (checkMetrics); the services' probes ask their plaintext health
// listener (checkProbes).
func checkWorkloads(m *manifest) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	for _, d := range m.deployments {
		id := "Deployment " + d.Name
		pod := &d.Spec.Template
		problems = append(problems, checkPod(id, &pod.Spec)...)

		if d.Spec.Selector == nil {
			report("%s: no selector", id)
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			report("%s: the selector does not select its own pods", id)
			continue
		}

		if pdbs := pdbsFor(m, d.Namespace, pod.Labels); len(pdbs) != 1 {
			report("%s: %d PodDisruptionBudgets select its pods, want exactly 1", id, len(pdbs))
		}
		if hpas := hpasFor(m, d); len(hpas) != 1 {
			report("%s: %d HorizontalPodAutoscalers target it, want exactly 1", id, len(hpas))
		} else if h := hpas[0]; h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			report("%s: HorizontalPodAutoscaler %s needs 1 <= minReplicas <= maxReplicas", id, h.Name)
		}
		if !servedBy(m, d.Namespace, pod) {
			report("%s: no Service selects its pods on a port they expose", id)
		}
		problems = append(problems, checkMetrics(m, d)...)
		if pod.Labels["app.kubernetes.io/component"] == "service" {
			problems = append(problems, checkProbes(m, d)...)
			problems = append(problems, checkHeadless(m, d)...)
		}
		if sa := pod.Spec.ServiceAccountName; sa == "" || !slices.ContainsFunc(m.serviceAccounts, func(s *corev1.ServiceAccount) bool { return s.Name == sa && s.Namespace == d.Namespace }) {
			report("%s: needs its own ServiceAccount (serviceAccountName %q)", id, sa)
		}
		if len(pod.Spec.TopologySpreadConstraints) == 0 {
			report("%s: no topologySpreadConstraints", id)
		}
		for _, c := range pod.Spec.Containers {
			cid := id + " container " + c.Name
			env := containerEnv(m, d.Namespace, &c)
			for name, want := range map[string]string{"GOMAXPROCS": "limits.cpu", "GOMEMLIMIT": "limits.memory"} {
				if r, ok := env[name]; !ok || r.valueFrom == nil || r.valueFrom.ResourceFieldRef == nil || r.valueFrom.ResourceFieldRef.Resource != want {
					report("%s: %s must come from resourceFieldRef %s", cid, name, want)
				}
			}
			for _, name := range secretEnv {
				r, ok := env[name]
				if !ok {
					continue
				}
				if r.fromConfigMap != "" || r.valueFrom == nil || r.valueFrom.SecretKeyRef == nil || r.valueFrom.SecretKeyRef.Name == "" {
					report("%s: %s must come from a Secret by name (secretKeyRef), never inline or from a ConfigMap", cid, name)
				}
			}
			problems = append(problems, checkTokenKeys(cid, env)...)
			if pod.Labels["app.kubernetes.io/component"] == "service" {
				if _, ok := env["MONGODB_URI"]; !ok {
					report("%s: no MONGODB_URI", cid)
				}
			}
			shutdown := 15 * time.Second // the binaries' default
			if r, ok := env["SHUTDOWN_TIMEOUT"]; ok {
				if shutdown, err = time.ParseDuration(r.value); err != nil {
					report("%s: SHUTDOWN_TIMEOUT %q: %v", cid, r.value, err)
				}
			}
			var preStop time.Duration
			if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
				preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			}
			grace := 30 * time.Second // Kubernetes' default
			if g := pod.Spec.TerminationGracePeriodSeconds; g != nil {
				grace = time.Duration(*g) * time.Second
			}
			if grace <= preStop+shutdown {
				report("%s: terminationGracePeriodSeconds (%v) must exceed the preStop sleep plus SHUTDOWN_TIMEOUT (%v + %v)", cid, grace, preStop, shutdown)
			}
		}
	}
	for _, s := range m.statefulSets {
		problems = append(problems, checkPod("StatefulSet "+s.Name, &s.Spec.Template.Spec)...)
	}
	return problems
}

// How the binaries verify tokens: exactly one of two modes.
//   - HS256: NOCONTACT_JWT_SECRET from a Secret (base), and
//     NOCONTACT_JWT_PREVIOUS_SECRET, the retiring key during a rotation,
//     from an optional key of the same Secret;
//   - JWKS (components/jwks): NOCONTACT_JWT_JWKS_URL, the https URL of the
//     identity provider's JWK Set, and neither HS256 variable (a binary
//     given both modes refuses to start).
const (
	jwtSecretEnv         = "NOCONTACT_JWT_SECRET"
	jwtPreviousSecretEnv = "NOCONTACT_JWT_PREVIOUS_SECRET"
	jwksURLEnv           = "NOCONTACT_JWT_JWKS_URL"
)

// jwksMode reports whether env sets a JWK Set URL: an empty value is unset
// to the binaries.
func jwksMode(env map[string]envRef) bool {
	r, ok := env[jwksURLEnv]
	return ok && (r.value != "" || r.valueFrom != nil)
}

// parseJWKSURL accepts what the binaries fetch a key set from: an absolute
// https URL with a host and no credentials (the keys are public).
func parseJWKSURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, err
	case u.Scheme != "https":
		return nil, errors.New("not https: the keys that sign every token would travel unauthenticated")
	case u.Hostname() == "":
		return nil, errors.New("no host")
	case u.User != nil:
		return nil, errors.New("credentials in the URL: a JWK Set is public")
	}
	return u, nil
}

// checkTokenKeys: a container verifies tokens in exactly one mode, HS256
// or JWKS, wired as the mode wants (secretEnv checks where the secrets come
// from).
func checkTokenKeys(cid string, env map[string]envRef) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, cid+": "+fmt.Sprintf(format, args...)) }
	_, hs256 := env[jwtSecretEnv]
	_, previous := env[jwtPreviousSecretEnv]
	if jwksMode(env) {
		if hs256 {
			report("%s and %s are both set: the binary refuses two token modes (want exactly one)", jwksURLEnv, jwtSecretEnv)
		}
		if previous {
			report("%s is set beside %s: the binary refuses HS256 keys in JWKS mode", jwtPreviousSecretEnv, jwksURLEnv)
		}
		r := env[jwksURLEnv]
		if r.valueFrom != nil || r.fromConfigMap == "" {
			report("%s must come from the workload's ConfigMap (a change then rolls the pods)", jwksURLEnv)
		} else if _, err := parseJWKSURL(r.value); err != nil {
			report("%s %q: %v", jwksURLEnv, r.value, err)
		}
		return problems
	}
	if !hs256 {
		report("neither %s nor %s: the binary has no key to verify tokens with (want exactly one)", jwtSecretEnv, jwksURLEnv)
		return problems
	}
	// A key rotation puts the retiring key beside the new one in the same
	// Secret; the pods must start while it is absent.
	if r, ok := env[jwtPreviousSecretEnv]; !ok || r.valueFrom == nil || r.valueFrom.SecretKeyRef == nil ||
		r.valueFrom.SecretKeyRef.Optional == nil || !*r.valueFrom.SecretKeyRef.Optional {
		report("%s must come from an optional secretKeyRef", jwtPreviousSecretEnv)
	} else if jwt := env[jwtSecretEnv]; jwt.valueFrom != nil && jwt.valueFrom.SecretKeyRef != nil &&
		r.valueFrom.SecretKeyRef.Name != jwt.valueFrom.SecretKeyRef.Name {
		report("%s must come from the same Secret as %s", jwtPreviousSecretEnv, jwtSecretEnv)
	}
	return problems
}

// checkMetrics: a Deployment's pods declare exactly one container port named
// metrics, 9464/TCP; the prometheus.io scrape annotations name that port and
// /metrics; the container's METRICS_ADDR is set and listens on that port on
// every interface; and a Service has a port named metrics that leads to it
// (what a Prometheus Operator ServiceMonitor selects).
func checkMetrics(m *manifest, d *appsv1.Deployment) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	id := "Deployment " + d.Name
	pod := &d.Spec.Template

	port, container, found := namedPort(pod, metricsPortName)
	want := int32(metricsPort)
	switch {
	case found == 0:
		report("%s: no container port named %s", id, metricsPortName)
	case found > 1:
		report("%s: %d container ports named %s, want 1", id, found, metricsPortName)
	case port.ContainerPort != metricsPort || (port.Protocol != "" && port.Protocol != corev1.ProtocolTCP):
		report("%s: container port %s is %d/%s, want %d/TCP", id, metricsPortName, port.ContainerPort, port.Protocol, metricsPort)
	}
	if port != nil {
		want = port.ContainerPort
	}

	a := pod.Annotations
	if got := a["prometheus.io/scrape"]; got != "true" {
		report("%s: pod annotation prometheus.io/scrape is %q, want \"true\"", id, got)
	}
	if got := a["prometheus.io/port"]; got != strconv.Itoa(int(want)) {
		report("%s: pod annotation prometheus.io/port %q does not match the metrics container port %d", id, got, want)
	}
	if got := a["prometheus.io/path"]; got != metricsPath {
		report("%s: pod annotation prometheus.io/path is %q, want %q", id, got, metricsPath)
	}
	if port == nil {
		return problems
	}

	cid := id + " container " + container.Name
	r, ok := containerEnv(m, d.Namespace, container)["METRICS_ADDR"]
	switch host, p, err := net.SplitHostPort(r.value); {
	case !ok || r.valueFrom != nil:
		report("%s: METRICS_ADDR is not set to a literal address (the port it opens is stated where it is declared)", cid)
	case err != nil || p != strconv.Itoa(int(port.ContainerPort)):
		report("%s: METRICS_ADDR %q does not listen on the metrics container port %d", cid, r.value, port.ContainerPort)
	case host != "" && host != "0.0.0.0" && host != "::":
		report("%s: METRICS_ADDR %q listens on %s only: the scraper cannot reach it", cid, r.value, host)
	}

	if !slices.ContainsFunc(m.services, func(s *corev1.Service) bool {
		if s.Namespace != d.Namespace || len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			return false
		}
		return slices.ContainsFunc(s.Spec.Ports, func(sp corev1.ServicePort) bool {
			t := sp.TargetPort
			if t == (intstr.IntOrString{}) {
				t = intstr.FromInt32(sp.Port)
			}
			return sp.Name == metricsPortName &&
				((t.Type == intstr.String && t.StrVal == port.Name) || (t.Type == intstr.Int && t.IntVal == port.ContainerPort))
		})
	}) {
		report("%s: no Service port named %s leads to the metrics container port (a ServiceMonitor selects it by that name)", id, metricsPortName)
	}
	return problems
}

// checkProbes: a service's pods declare one container port named probes,
// 9091/TCP; PROBE_ADDR listens on it on every interface (the kubelet probes
// the pod's address), apart from the API's GRPC_ADDR; the readiness,
// liveness and startup probes are gRPC probes on it, readiness and start-up
// for the health service "", liveness for "liveness"; and no Service port
// leads to it.
func checkProbes(m *manifest, d *appsv1.Deployment) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	id := "Deployment " + d.Name
	pod := &d.Spec.Template

	port, container, found := namedPort(pod, probesPortName)
	switch {
	case found == 0:
		report("%s: no container port named %s", id, probesPortName)
		return problems
	case found > 1:
		report("%s: %d container ports named %s, want 1", id, found, probesPortName)
		return problems
	case port.ContainerPort != probesPort || (port.Protocol != "" && port.Protocol != corev1.ProtocolTCP):
		report("%s: container port %s is %d/%s, want %d/TCP", id, probesPortName, port.ContainerPort, port.Protocol, probesPort)
	}
	cid := id + " container " + container.Name

	env := containerEnv(m, d.Namespace, container)
	r, ok := env["PROBE_ADDR"]
	host, p, err := net.SplitHostPort(r.value)
	switch {
	case !ok || r.valueFrom != nil:
		report("%s: PROBE_ADDR is not set to a literal address: the probes would find no listener", cid)
	case err != nil || p != strconv.Itoa(int(port.ContainerPort)):
		report("%s: PROBE_ADDR %q does not listen on the probes container port %d", cid, r.value, port.ContainerPort)
	case host != "" && host != "0.0.0.0" && host != "::":
		report("%s: PROBE_ADDR %q listens on %s only: the kubelet probes the pod's address", cid, r.value, host)
	}
	if g := env["GRPC_ADDR"].value; err == nil && g != "" {
		if _, gp, gerr := net.SplitHostPort(g); gerr == nil && gp == p {
			report("%s: PROBE_ADDR %q and GRPC_ADDR %q share a port", cid, r.value, g)
		}
	}

	for _, pr := range []struct {
		name    string
		probe   *corev1.Probe
		service string
	}{
		{"readinessProbe", container.ReadinessProbe, readinessHealthName},
		{"livenessProbe", container.LivenessProbe, livenessHealthName},
		{"startupProbe", container.StartupProbe, readinessHealthName},
	} {
		switch {
		case pr.probe == nil:
		// A startup probe is optional; checkPod reports the others.
		case pr.probe.GRPC == nil:
			report("%s: the %s is not a gRPC probe (the health service is gRPC)", cid, pr.name)
		case pr.probe.GRPC.Port != port.ContainerPort:
			report("%s: the %s asks port %d, not the probes container port %d (gRPC probes cannot speak TLS)", cid, pr.name, pr.probe.GRPC.Port, port.ContainerPort)
		case ptrOr(pr.probe.GRPC.Service, "") != pr.service:
			report("%s: the %s asks the health service %q, want %q", cid, pr.name, ptrOr(pr.probe.GRPC.Service, ""), pr.service)
		}
	}

	for _, s := range m.services {
		if s.Namespace != d.Namespace || len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			t := sp.TargetPort
			if t == (intstr.IntOrString{}) {
				t = intstr.FromInt32(sp.Port)
			}
			if (t.Type == intstr.String && t.StrVal == port.Name) || (t.Type == intstr.Int && t.IntVal == port.ContainerPort) {
				report("%s: Service %s port %s leads to the probes container port: only the kubelet may reach it", id, s.Name, sp.Name)
			}
		}
	}
	return problems
}

// ptrOr is *p, or def when p is nil.
func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// checkPod checks what every pod of the suite needs, whoever runs it.
func checkPod(id string, spec *corev1.PodSpec) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		report("%s: uses a host namespace", id)
	}
	podSC := spec.SecurityContext
	if podSC == nil {
		podSC = &corev1.PodSecurityContext{}
	}
	if len(spec.Containers) == 0 {
		report("%s: no containers", id)
	}
	seen := map[string]bool{}
	for _, c := range spec.TopologySpreadConstraints {
		if seen[c.TopologyKey] {
			report("%s: two topologySpreadConstraints on %s (a patch appended instead of replacing?)", id, c.TopologyKey)
		}
		seen[c.TopologyKey] = true
	}
	all := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for i, c := range all {
		cid := id + " container " + c.Name
		if i >= len(spec.InitContainers) {
			if c.ReadinessProbe == nil {
				report("%s: no readinessProbe", cid)
			} else if !probePortExists(c.ReadinessProbe, &c) {
				report("%s: the readinessProbe's port is not a port of the container", cid)
			}
			if c.LivenessProbe == nil {
				report("%s: no livenessProbe", cid)
			} else if !probePortExists(c.LivenessProbe, &c) {
				report("%s: the livenessProbe's port is not a port of the container", cid)
			}
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			switch {
			case !hasReq || req.IsZero():
				report("%s: no %s request", cid, r)
			case !hasLim || lim.IsZero():
				report("%s: no %s limit", cid, r)
			case req.Cmp(lim) > 0:
				report("%s: %s request above its limit", cid, r)
			}
		}
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		if !isTrue(sc.RunAsNonRoot) && !(sc.RunAsNonRoot == nil && isTrue(podSC.RunAsNonRoot)) {
			report("%s: runAsNonRoot is not set", cid)
		}
		if uid := sc.RunAsUser; (uid != nil && *uid == 0) || (uid == nil && podSC.RunAsUser != nil && *podSC.RunAsUser == 0) {
			report("%s: runs as uid 0", cid)
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			report("%s: readOnlyRootFilesystem is not set", cid)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			report("%s: allowPrivilegeEscalation is not false", cid)
		}
		if isTrue(sc.Privileged) {
			report("%s: privileged", cid)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			report("%s: capabilities must drop ALL and add none", cid)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = podSC.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			report("%s: seccompProfile is not RuntimeDefault", cid)
		}
	}
	return problems
}

func isTrue(b *bool) bool { return b != nil && *b }

// probePortExists reports whether a probe aims at a port the container
// declares (by number or name).
func probePortExists(p *corev1.Probe, c *corev1.Container) bool {
	var port intstr.IntOrString
	switch {
	case p.GRPC != nil:
		port = intstr.FromInt32(p.GRPC.Port)
	case p.HTTPGet != nil:
		port = p.HTTPGet.Port
	case p.TCPSocket != nil:
		port = p.TCPSocket.Port
	default:
		return true // exec: no port
	}
	return slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool {
		if port.Type == intstr.String {
			return cp.Name == port.StrVal
		}
		return cp.ContainerPort == port.IntVal
	})
}

// envRef is where one environment variable of a container comes from.
type envRef struct {
	value         string
	valueFrom     *corev1.EnvVarSource
	fromConfigMap string // set when it comes from an envFrom ConfigMap
}

// containerEnv resolves a container's environment: envFrom ConfigMaps of m
// first, then env (which wins, as in Kubernetes).
func containerEnv(m *manifest, ns string, c *corev1.Container) map[string]envRef {
	out := map[string]envRef{}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef == nil {
			continue
		}
		for _, cm := range m.configMaps {
			if cm.Name == ef.ConfigMapRef.Name && cm.Namespace == ns {
				for k, v := range cm.Data {
					out[ef.Prefix+k] = envRef{value: v, fromConfigMap: cm.Name}
				}
			}
		}
	}
	for _, e := range c.Env {
		out[e.Name] = envRef{value: e.Value, valueFrom: e.ValueFrom}
	}
	return out
}

func pdbsFor(m *manifest, ns string, podLabels map[string]string) []string {
	var names []string
	for _, p := range m.pdbs {
		if p.Namespace != ns || p.Spec.Selector == nil {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(podLabels)) {
			names = append(names, p.Name)
		}
	}
	return names
}

func hpasFor(m *manifest, d *appsv1.Deployment) []*autoscalingv2.HorizontalPodAutoscaler {
	var out []*autoscalingv2.HorizontalPodAutoscaler
	for _, h := range m.hpas {
		t := h.Spec.ScaleTargetRef
		if h.Namespace == d.Namespace && t.APIVersion == "apps/v1" && t.Kind == "Deployment" && t.Name == d.Name {
			out = append(out, h)
		}
	}
	return out
}

// servedBy reports whether a Service selects the pod template and targets a
// port one of its containers exposes.
func servedBy(m *manifest, ns string, pod *corev1.PodTemplateSpec) bool {
	for _, s := range m.services {
		if s.Namespace != ns || len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			if sp.TargetPort == (intstr.IntOrString{}) {
				sp.TargetPort = intstr.FromInt32(sp.Port) // Kubernetes' default
			}
			for _, c := range pod.Spec.Containers {
				for _, cp := range c.Ports {
					if (sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal == cp.Name) ||
						(sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == cp.ContainerPort) {
						return true
					}
				}
			}
		}
	}
	return false
}

// checkHeadless: the Services in front of a gRPC service are headless, so
// that DNS gives the callers every ready pod to balance over; through a
// virtual IP each caller's single HTTP/2 connection would stick to one pod
// and new replicas would get almost no calls.
func checkHeadless(m *manifest, d *appsv1.Deployment) []string {
	var problems []string
	for _, s := range m.services {
		if s.Namespace != d.Namespace || len(s.Spec.Selector) == 0 ||
			!labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		if s.Spec.ClusterIP != corev1.ClusterIPNone {
			problems = append(problems, fmt.Sprintf("Service %s (in front of gRPC service %s) is not headless (clusterIP: None): callers could not balance over its pods", s.Name, d.Name))
		}
	}
	return problems
}

// namedPort finds the container port called name in a pod template: the
// last one found, its container, and how many there are.
func namedPort(pod *corev1.PodTemplateSpec, name string) (port *corev1.ContainerPort, container *corev1.Container, found int) {
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		for j := range c.Ports {
			if c.Ports[j].Name == name {
				port, container = &c.Ports[j], c
				found++
			}
		}
	}
	return port, container, found
}
