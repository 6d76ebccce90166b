package k8s

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// Tracing (components/tracing) is off unless an overlay lists the
// component. With it, every workload exports its spans with OTLP to the
// OpenTelemetry collector, and the network policies allow exactly that one
// flow more per workload.
const (
	collectorPeer      = "otel-collector" // the collector's pods in the network model
	collectorNamespace = "observability"
	otlpHTTPPort       = 4318 // OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, the default
	otlpGRPCPort       = 4317 // OTEL_EXPORTER_OTLP_PROTOCOL=grpc
)

// tracingFixture is the overlay with components/tracing added.
func (o overlay) tracingFixture() string { return "testdata/" + o.name + "-tracing" }

// TestTracingIsOffByDefault: the overlays as they are record no spans: no
// workload names a trace exporter (the binaries' default is none).
func TestTracingIsOffByDefault(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			m := mustBuild(t, o.dir)
			for _, d := range m.deployments {
				for _, c := range d.Spec.Template.Spec.Containers {
					r, ok := containerEnv(m, d.Namespace, &c)["OTEL_TRACES_EXPORTER"]
					if ok && (r.valueFrom != nil || !slices.Contains([]string{"", "none"}, strings.ToLower(strings.TrimSpace(r.value)))) {
						t.Errorf("Deployment %s container %s: OTEL_TRACES_EXPORTER %q: tracing is on without components/tracing", d.Name, c.Name, r.value)
					}
				}
			}
		})
	}
}

// TestTracingComponent builds each overlay with components/tracing: the
// workloads still pass every check, each exports to the collector on the
// port its protocol uses, and the network policies allow exactly the
// overlay's flows plus each workload's flow to the collector on that port.
func TestTracingComponent(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			m := mustBuildWithComponent(t, o, o.tracingFixture())

			problems, flows := checkTracing(m)
			for _, p := range problems {
				t.Error(p)
			}
			if len(flows) != len(binaries) {
				t.Errorf("flows to the collector: %v, want one per workload", flows)
			}
			netProblems, err := checkNetwork(m, append(o.flows(m), flows...))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range netProblems {
				t.Error(p)
			}
		})
	}
}

// TestTracingMismatchIsRejected: the tracing settings broken four ways, one
// per workload, each reported; and an endpoint on another port than the
// policy opens is a flow the policies block.
func TestTracingMismatchIsRejected(t *testing.T) {
	good := mustBuild(t, overlays[0].tracingFixture())
	m := *good
	m.configMaps = nil
	set := map[string]map[string]string{
		"plans-config":   {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4317"},
		"journal-config": {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
		"notify-config":  {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.monitoring.svc:4318"},
		"gateway-config": {"OTEL_SERVICE_NAME": "nocontact", "OTEL_TRACES_SAMPLER": "always_on"},
	}
	for _, c := range good.configMaps {
		c = c.DeepCopy()
		for name, kv := range set {
			if strings.HasPrefix(c.Name, name+"-") { // generated: name-<hash>
				for k, v := range kv {
					c.Data[k] = v
				}
			}
		}
		m.configMaps = append(m.configMaps, c)
	}
	problems, flows := checkTracing(&m)
	requireReported(t, problems,
		`Deployment plans container plans: OTLP endpoint "http://otel-collector.observability.svc:4317" is on port 4317, but http/protobuf is served on 4318`,
		`Deployment journal container journal: OTLP endpoint "http://otel-collector.observability.svc:4318" is on port 4318, but grpc is served on 4317`,
		`Deployment notify container notify: OTLP endpoint "http://otel-collector.monitoring.svc:4318" is not a Service of the namespace observability`,
		`Deployment gateway container gateway: OTEL_SERVICE_NAME "nocontact" set: each binary names itself`,
		`Deployment gateway container gateway: OTEL_TRACES_SAMPLER "always_on", want parentbased_traceidratio`,
	)
	netProblems, err := checkNetwork(&m, append(overlays[0].flows(&m), flows...))
	if err != nil {
		t.Fatal(err)
	}
	requireReported(t, netProblems,
		"egress blocks a wanted flow: plans -> otel-collector:4317/TCP",
		"egress allows an unexpected flow: plans -> otel-collector:4318/TCP",
		"egress allows an unexpected flow: notify -> otel-collector:4318/TCP",
	)
	if t.Failed() {
		t.Logf("reported:\n%s\n%s", strings.Join(problems, "\n"), strings.Join(netProblems, "\n"))
	}
}

// checkTracing returns what is wrong with the tracing settings of m's
// Deployments, which must all trace, and the flow each one's exporter
// needs: every container exports with OTLP (over HTTP or gRPC) to a
// Service of the collector's namespace on the port the collector serves
// that protocol on, samples parent-based at a ratio in (0, 1] (a trace is
// started at the gateway or by a background job, and every span below
// follows its parent's decision), and leaves its service name to the
// binary.
func checkTracing(m *manifest) (problems, flows []string) {
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			cid := "Deployment " + d.Name + " container " + c.Name
			report := func(format string, args ...any) { problems = append(problems, cid+": "+fmt.Sprintf(format, args...)) }
			env := containerEnv(m, d.Namespace, &c)
			get := func(names ...string) (string, bool) {
				for _, n := range names {
					if r, ok := env[n]; ok {
						if r.valueFrom != nil || r.fromConfigMap == "" {
							report("%s must come from the workload's ConfigMap (a change then rolls the pods)", n)
						}
						return r.value, true
					}
				}
				return "", false
			}

			if v, _ := get("OTEL_TRACES_EXPORTER"); v != "otlp" {
				report("OTEL_TRACES_EXPORTER %q, want otlp", v)
				continue
			}
			if v, ok := get("OTEL_SERVICE_NAME"); ok {
				report("OTEL_SERVICE_NAME %q set: each binary names itself", v)
			}
			if v, _ := get("OTEL_TRACES_SAMPLER"); v != "parentbased_traceidratio" {
				report("OTEL_TRACES_SAMPLER %q, want parentbased_traceidratio", v)
			}
			arg, _ := get("OTEL_TRACES_SAMPLER_ARG")
			if r, err := strconv.ParseFloat(arg, 64); err != nil || r <= 0 || r > 1 {
				report("OTEL_TRACES_SAMPLER_ARG %q is not a ratio in (0, 1]", arg)
			}

			// The signal's own variables win over the generic ones.
			protocol, ok := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
			if !ok {
				protocol = "http/protobuf"
			}
			var port int32
			switch protocol {
			case "http/protobuf":
				port = otlpHTTPPort
			case "grpc":
				port = otlpGRPCPort
			default:
				report("OTLP protocol %q, want http/protobuf or grpc", protocol)
				continue
			}
			endpoint, _ := get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
			u, err := url.Parse(endpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Port() == "" {
				report("OTLP endpoint %q: want http(s)://<service>.%s.svc:<port>", endpoint, collectorNamespace)
				continue
			}
			if labels := strings.Split(u.Hostname(), "."); len(labels) < 2 || labels[1] != collectorNamespace || (len(labels) > 2 && labels[2] != "svc") {
				report("OTLP endpoint %q is not a Service of the namespace %s", endpoint, collectorNamespace)
				continue
			}
			if u.Port() != strconv.Itoa(int(port)) {
				report("OTLP endpoint %q is on port %s, but %s is served on %d", endpoint, u.Port(), protocol, port)
			}
			p, _ := strconv.ParseInt(u.Port(), 10, 32)
			flows = append(flows, flow(d.Name, collectorPeer, int32(p), corev1.ProtocolTCP))
		}
	}
	return problems, flows
}
