package k8s

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// A peer is a source or destination of traffic in the model the network
// check evaluates the NetworkPolicies against: one pod of each workload of
// the manifest (subject to its policies), plus pods and addresses outside
// it (not subject to them).
type peer struct {
	name      string
	namespace string
	nsLabels  map[string]string
	labels    map[string]string
	ip        netip.Addr
	ports     []corev1.ContainerPort // named ports, for policies that use names
	inScope   bool                   // a pod of the manifest's namespace
}

// outsiders are the peers beyond the manifest, each a way a policy could be
// too wide: another namespace's pod wearing a suite label, the metrics
// scraper's and the trace collector's neighbours, a private or metadata
// address, the internet, the external MongoDB (prod).
func outsiders(m *manifest) []peer {
	ns := func(name string) map[string]string { return map[string]string{"kubernetes.io/metadata.name": name} }
	return []peer{
		{name: "ingress-nginx", namespace: "ingress-nginx", nsLabels: ns("ingress-nginx"), labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}, ip: netip.MustParseAddr("10.0.9.1")},
		{name: "kube-dns", namespace: "kube-system", nsLabels: ns("kube-system"), labels: map[string]string{"k8s-app": "kube-dns"}, ip: netip.MustParseAddr("10.0.9.2")},
		{name: "impostor-gateway", namespace: "other", nsLabels: ns("other"), labels: map[string]string{"app.kubernetes.io/name": "gateway"}, ip: netip.MustParseAddr("10.0.9.3")},
		{name: "impostor-nats", namespace: "other", nsLabels: ns("other"), labels: map[string]string{"app.kubernetes.io/name": "nats"}, ip: netip.MustParseAddr("10.0.9.4")},
		// The metrics scraper (components/network-policies/metrics.yaml),
		// another pod of its namespace, and a pod with its label elsewhere:
		// only the first may reach 9464.
		{name: "prometheus", namespace: "monitoring", nsLabels: ns("monitoring"), labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, ip: netip.MustParseAddr("10.0.9.5")},
		{name: "monitoring-grafana", namespace: "monitoring", nsLabels: ns("monitoring"), labels: map[string]string{"app.kubernetes.io/name": "grafana"}, ip: netip.MustParseAddr("10.0.9.6")},
		{name: "impostor-prometheus", namespace: "other", nsLabels: ns("other"), labels: map[string]string{"app.kubernetes.io/name": "prometheus"}, ip: netip.MustParseAddr("10.0.9.7")},
		// The OpenTelemetry collector (components/tracing), another pod of
		// its namespace, and a pod with its label elsewhere: only the first
		// may be reached, on 4318, and only with tracing on.
		{name: collectorPeer, namespace: collectorNamespace, nsLabels: ns(collectorNamespace), labels: map[string]string{"app.kubernetes.io/name": "opentelemetry-collector"}, ip: netip.MustParseAddr("10.0.9.8")},
		{name: "observability-jaeger", namespace: collectorNamespace, nsLabels: ns(collectorNamespace), labels: map[string]string{"app.kubernetes.io/name": "jaeger"}, ip: netip.MustParseAddr("10.0.9.9")},
		{name: "impostor-otel-collector", namespace: "other", nsLabels: ns("other"), labels: map[string]string{"app.kubernetes.io/name": "opentelemetry-collector"}, ip: netip.MustParseAddr("10.0.9.10")},
		{name: "private-host", ip: netip.MustParseAddr("10.200.0.10")},
		{name: "cloud-metadata", ip: netip.MustParseAddr("169.254.169.254")},
		{name: "internet", ip: netip.MustParseAddr("203.0.113.10")},
		{name: "internet-v6", ip: netip.MustParseAddr("2001:db8::10")},
		{name: "mongodb-external", ip: mongoDBExternal(m)},
	}
}

// mongoDBExternal is the address of the external MongoDB in the model: the
// first address of the range the overlay's allow-egress-mongodb opens (prod,
// so that the check follows the range the operator sets there), else a
// documentation address (dev, where the policy names the in-cluster pods).
func mongoDBExternal(m *manifest) netip.Addr {
	for _, np := range m.policies {
		if np.Name != "allow-egress-mongodb" {
			continue
		}
		for _, r := range np.Spec.Egress {
			for _, to := range r.To {
				if to.IPBlock == nil {
					continue
				}
				pfx, err := netip.ParsePrefix(to.IPBlock.CIDR)
				if err != nil {
					continue
				}
				pfx = pfx.Masked()
				if a := pfx.Addr().Next(); pfx.Contains(a) {
					return a
				}
				return pfx.Addr()
			}
		}
	}
	return netip.MustParseAddr("192.0.2.10")
}

// isPublic reports whether the notify webhooks (and, with components/jwks,
// every workload) may reach ip: not a private, shared (100.64.0.0/10),
// loopback, link-local or unspecified address.
func isPublic(ip netip.Addr) bool {
	return !ip.IsPrivate() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(ip)
}

// toPublic is the flows from src to every address of the model that is
// public (isPublic), on port/TCP: what a rule open to the public internet
// allows (notify's webhooks, components/jwks), and nothing private.
func toPublic(m *manifest, src string, port int32) []string {
	var f []string
	for _, p := range outsiders(m) {
		if p.namespace == "" && isPublic(p.ip) { // an address, not a pod
			f = append(f, flow(src, p.name, port, corev1.ProtocolTCP))
		}
	}
	return f
}

// probePorts are the ports the model tries between every pair of peers
// (probesPort too: no policy may open the services' plaintext health
// listener, which only the kubelet reaches).
var probePorts = []struct {
	port  int32
	proto corev1.Protocol
}{
	{53, corev1.ProtocolUDP}, {53, corev1.ProtocolTCP}, {80, corev1.ProtocolTCP}, {443, corev1.ProtocolTCP},
	{4222, corev1.ProtocolTCP}, {otlpGRPCPort, corev1.ProtocolTCP}, {otlpHTTPPort, corev1.ProtocolTCP},
	{6222, corev1.ProtocolTCP}, {8080, corev1.ProtocolTCP}, {8222, corev1.ProtocolTCP},
	{9090, corev1.ProtocolTCP}, {probesPort, corev1.ProtocolTCP}, {metricsPort, corev1.ProtocolTCP},
	{27017, corev1.ProtocolTCP},
}

// peers returns the manifest's workloads (one pod each), a stray pod of the
// namespace with no role, and the outsiders.
func peers(m *manifest) ([]peer, error) {
	if len(m.namespaces) != 1 {
		return nil, fmt.Errorf("want exactly one Namespace in %s, got %d", m.dir, len(m.namespaces))
	}
	ns := m.namespaces[0].Name
	nsLabels := map[string]string{"kubernetes.io/metadata.name": ns}
	var out []peer
	add := func(name string, tmpl *corev1.PodTemplateSpec) {
		var ports []corev1.ContainerPort
		for _, c := range tmpl.Spec.Containers {
			ports = append(ports, c.Ports...)
		}
		out = append(out, peer{
			name: name, namespace: ns, nsLabels: nsLabels, labels: tmpl.Labels, ports: ports, inScope: true,
			ip: netip.AddrFrom4([4]byte{10, 1, 0, byte(len(out) + 1)}),
		})
	}
	for _, d := range m.deployments {
		add(d.Name, &d.Spec.Template)
	}
	for _, s := range m.statefulSets {
		add(s.Name, &s.Spec.Template)
	}
	add("stray", &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "stray"}}})
	return append(out, outsiders(m)...), nil
}

// flow is "src -> dst:port/proto".
func flow(src, dst string, port int32, proto corev1.Protocol) string {
	return fmt.Sprintf("%s -> %s:%d/%s", src, dst, port, proto)
}

// checkNetwork evaluates the manifest's NetworkPolicies on the model and
// compares what they allow with want, on each side separately: the
// destinations' ingress rules must admit exactly the wanted flows into the
// namespace's pods (so no extra source can reach a service even where the
// source's own egress would stop it), and the sources' egress rules must
// allow exactly the wanted flows out of them.
func checkNetwork(m *manifest, want []string) ([]string, error) {
	all, err := peers(m)
	if err != nil {
		return nil, err
	}
	byName := map[string]peer{}
	for _, p := range all {
		byName[p.name] = p
	}
	wantIn, wantOut := map[string]bool{}, map[string]bool{}
	for _, f := range want {
		src, rest, _ := strings.Cut(f, " -> ")
		dst, _, _ := strings.Cut(rest, ":")
		s, okS := byName[src]
		d, okD := byName[dst]
		if !okS || !okD {
			return nil, fmt.Errorf("wanted flow %q names an unknown peer", f)
		}
		if d.inScope {
			wantIn[f] = true
		}
		if s.inScope {
			wantOut[f] = true
		}
	}

	gotIn, gotOut := map[string]bool{}, map[string]bool{}
	for _, src := range all {
		for _, dst := range all {
			for _, pp := range probePorts {
				f := flow(src.name, dst.name, pp.port, pp.proto)
				if dst.inScope && allows(m.policies, dst, src, dst, pp.port, pp.proto, networkingv1.PolicyTypeIngress) {
					gotIn[f] = true
				}
				if src.inScope && allows(m.policies, src, src, dst, pp.port, pp.proto, networkingv1.PolicyTypeEgress) {
					gotOut[f] = true
				}
			}
		}
	}

	var problems []string
	diff := func(side string, got, want map[string]bool) {
		for f := range got {
			if !want[f] {
				problems = append(problems, fmt.Sprintf("%s allows an unexpected flow: %s", side, f))
			}
		}
		for f := range want {
			if !got[f] {
				problems = append(problems, fmt.Sprintf("%s blocks a wanted flow: %s", side, f))
			}
		}
	}
	diff("ingress", gotIn, wantIn)
	diff("egress", gotOut, wantOut)
	slices.Sort(problems)
	return problems, nil
}

// allows evaluates NetworkPolicy semantics for one direction: traffic is
// allowed when no policy selects the subject pod for that direction, or when
// any rule of a selecting policy matches the other peer and the port.
func allows(policies []*networkingv1.NetworkPolicy, subject, src, dst peer, port int32, proto corev1.Protocol, dir networkingv1.PolicyType) bool {
	other := dst
	if dir == networkingv1.PolicyTypeIngress {
		other = src
	}
	isolated := false
	for _, np := range policies {
		if np.Namespace != subject.namespace || !selects(&np.Spec.PodSelector, subject.labels) || !slices.Contains(policyTypes(np), dir) {
			continue
		}
		isolated = true
		if dir == networkingv1.PolicyTypeIngress {
			for _, r := range np.Spec.Ingress {
				if peersMatch(r.From, np.Namespace, other) && portsMatch(r.Ports, dst, port, proto) {
					return true
				}
			}
		} else {
			for _, r := range np.Spec.Egress {
				if peersMatch(r.To, np.Namespace, other) && portsMatch(r.Ports, dst, port, proto) {
					return true
				}
			}
		}
	}
	return !isolated
}

// policyTypes applies the API's default: Ingress always, Egress when the
// policy has egress rules.
func policyTypes(np *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(np.Spec.PolicyTypes) > 0 {
		return np.Spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(np.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}

func selects(sel *metav1.LabelSelector, set map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(set))
}

// peersMatch: an empty list matches everything; a pod selector alone means
// the policy's namespace; a namespace selector picks namespaces by label; an
// ipBlock matches addresses.
func peersMatch(list []networkingv1.NetworkPolicyPeer, policyNS string, p peer) bool {
	if len(list) == 0 {
		return true
	}
	for _, np := range list {
		if np.IPBlock != nil {
			if ipBlockMatches(np.IPBlock, p.ip) {
				return true
			}
			continue
		}
		if p.namespace == "" { // a bare address is not a pod
			continue
		}
		nsOK := p.namespace == policyNS
		if np.NamespaceSelector != nil {
			nsOK = selects(np.NamespaceSelector, p.nsLabels)
		}
		podOK := np.PodSelector == nil || selects(np.PodSelector, p.labels)
		if nsOK && podOK {
			return true
		}
	}
	return false
}

func ipBlockMatches(b *networkingv1.IPBlock, ip netip.Addr) bool {
	pfx, err := netip.ParsePrefix(b.CIDR)
	if err != nil || !pfx.Contains(ip) {
		return false
	}
	for _, e := range b.Except {
		if ex, err := netip.ParsePrefix(e); err == nil && ex.Contains(ip) {
			return false
		}
	}
	return true
}

// portsMatch: an empty list matches every port; a named port is resolved on
// the destination pod.
func portsMatch(list []networkingv1.NetworkPolicyPort, dst peer, port int32, proto corev1.Protocol) bool {
	if len(list) == 0 {
		return true
	}
	for _, p := range list {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.String {
			if slices.ContainsFunc(dst.ports, func(cp corev1.ContainerPort) bool {
				return cp.Name == p.Port.StrVal && cp.ContainerPort == port && cp.Protocol == proto
			}) {
				return true
			}
			continue
		}
		end := p.Port.IntVal
		if p.EndPort != nil {
			end = *p.EndPort
		}
		if port >= p.Port.IntVal && port <= end {
			return true
		}
	}
	return false
}
