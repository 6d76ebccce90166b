package k8s

import (
	"fmt"
	"net"
	"os"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/kyaml/kio"
)

// Mutual TLS between the workloads (components/service-tls, in prod): each
// of the four reads its certificate, key and CA bundle from a cert-manager
// Secret of its own, mounted read-only, named by TLS_CERT_FILE, TLS_KEY_FILE
// and TLS_CA_FILE. All three set turn mTLS on; none leaves plaintext (dev);
// a partial set stops the binary at start-up.

// tlsFiles are the three variables and the key of the Secret each must name
// (the keys of a cert-manager Certificate's Secret, type kubernetes.io/tls).
var tlsFiles = []struct{ env, key string }{
	{"TLS_CERT_FILE", "tls.crt"},
	{"TLS_KEY_FILE", "tls.key"},
	{"TLS_CA_FILE", "ca.crt"},
}

// tlsSecretFor is the Secret holding a workload's certificate. The
// gateway's is its client certificate: gateway-tls is the Ingress's public
// one.
func tlsSecretFor(workload string) string {
	if workload == "gateway" {
		return "gateway-grpc-tls"
	}
	return workload + "-tls"
}

// serverNames are the DNS names a service's certificate carries: every name
// a client of the namespace may dial it by.
func serverNames(service, namespace string) []string {
	return []string{service, service + "." + namespace + ".svc", service + "." + namespace + ".svc.cluster.local"}
}

// dialEnv are the variables naming the services a binary dials, by service.
var dialEnv = map[string]string{"PLANS_ADDR": "plans", "JOURNAL_ADDR": "journal", "NOTIFY_ADDR": "notify"}

// checkTLS returns what is wrong with the TLS settings of m's Deployments.
// With on false no workload sets any TLS_* variable. With on true each sets
// all three, to literal paths on a read-only, whole-volume mount of its own
// Secret (tlsSecretFor, not optional), each path the Secret's right key,
// readable by the pod's non-root user; and every service it dials is named
// by a host its certificate carries (serverNames), the name the client
// verifies.
func checkTLS(m *manifest, on bool) []string {
	var problems []string
	for _, d := range m.deployments {
		spec := &d.Spec.Template.Spec
		for i := range spec.Containers {
			c := &spec.Containers[i]
			cid := "Deployment " + d.Name + " container " + c.Name
			report := func(format string, args ...any) { problems = append(problems, cid+": "+fmt.Sprintf(format, args...)) }
			env := containerEnv(m, d.Namespace, c)
			if !on {
				for _, f := range tlsFiles {
					if r, ok := env[f.env]; ok && (r.value != "" || r.valueFrom != nil) {
						report("%s is set, but this overlay speaks plaintext between the workloads", f.env)
					}
				}
				continue
			}

			reported := map[string]bool{} // a mount's problems, once
			once := func(key, format string, args ...any) {
				if !reported[key] {
					reported[key] = true
					report(format, args...)
				}
			}
			for _, f := range tlsFiles {
				r := env[f.env]
				switch {
				case r.valueFrom != nil:
					report("%s must be a literal path (in the workload's ConfigMap)", f.env)
					continue
				case r.value == "": // unset or empty: the binary reads both as unset
					report("%s is not set: mutual TLS needs TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE", f.env)
					continue
				}
				file := r.value
				if !path.IsAbs(file) || path.Clean(file) != file {
					report("%s %q is not a clean absolute path", f.env, file)
					continue
				}
				var mount *corev1.VolumeMount
				for j := range c.VolumeMounts {
					vm := &c.VolumeMounts[j]
					if (strings.HasPrefix(file, strings.TrimSuffix(vm.MountPath, "/")+"/") || file == vm.MountPath) &&
						(mount == nil || len(vm.MountPath) > len(mount.MountPath)) {
						mount = vm
					}
				}
				if mount == nil {
					report("%s %q is not on a volume mount (the workload's Secret %s)", f.env, file, tlsSecretFor(d.Name))
					continue
				}
				var vol *corev1.Volume
				for j := range spec.Volumes {
					if spec.Volumes[j].Name == mount.Name {
						vol = &spec.Volumes[j]
					}
				}
				if vol == nil || vol.Secret == nil {
					report("%s %q is on the mount of volume %s, which is not a Secret", f.env, file, mount.Name)
					continue
				}
				if !mount.ReadOnly {
					once("ro "+mount.MountPath, "the TLS mount of volume %s at %s is not read-only", mount.Name, mount.MountPath)
				}
				if mount.SubPath != "" || mount.SubPathExpr != "" {
					once("subpath "+mount.MountPath, "the TLS mount of volume %s at %s uses subPath: the kubelet never updates it, so a renewed certificate would not reach the pod", mount.Name, mount.MountPath)
				}
				sec := vol.Secret
				if want := tlsSecretFor(d.Name); sec.SecretName != want {
					once("secret "+vol.Name, "the TLS files come from Secret %q, want %q", sec.SecretName, want)
				}
				if sec.Optional != nil && *sec.Optional {
					once("optional "+vol.Name, "the TLS Secret %s is optional: a pod would start without its certificate", sec.SecretName)
				}

				// Which key of the Secret the file is, and its mode.
				rel := strings.TrimPrefix(strings.TrimPrefix(file, mount.MountPath), "/")
				if mount.SubPath != "" {
					rel = path.Join(mount.SubPath, rel)
				}
				key, mode := rel, ptrOr(sec.DefaultMode, corev1.SecretVolumeSourceDefaultMode)
				if len(sec.Items) > 0 {
					key = ""
					for _, it := range sec.Items {
						if it.Path == rel {
							key, mode = it.Key, ptrOr(it.Mode, mode)
						}
					}
					if key == "" {
						report("%s %q is none of the items of volume %s", f.env, file, vol.Name)
						continue
					}
				}
				if key != f.key {
					report("%s %q is the key %q of Secret %s, want %q", f.env, file, key, sec.SecretName, f.key)
				}
				if !readable(mode, &d.Spec.Template.Spec, c) {
					once("mode "+vol.Name+key, "the TLS file %s (mode %#o, owned by root) is not readable by the pod's user: give the pod an fsGroup", file, mode)
				}
			}

			for name, service := range dialEnv {
				r, ok := env[name]
				if !ok {
					continue
				}
				host := dialHost(r.value)
				if names := serverNames(service, d.Namespace); !slices.Contains(names, host) {
					report("%s %q dials the host %q, which the %s certificate does not name (%s)", name, r.value, host, service, strings.Join(names, ", "))
				}
			}
		}
	}
	return problems
}

// readable reports whether the container's user can read a Secret volume's
// file of that mode: the kubelet writes it owned by root:root, or, when the
// pod has an fsGroup, group-owned by it with group read added to the mode.
func readable(mode int32, pod *corev1.PodSpec, c *corev1.Container) bool {
	uid := int64(-1)
	if pod.SecurityContext != nil && pod.SecurityContext.RunAsUser != nil {
		uid = *pod.SecurityContext.RunAsUser
	}
	if c.SecurityContext != nil && c.SecurityContext.RunAsUser != nil {
		uid = *c.SecurityContext.RunAsUser
	}
	fsGroup := pod.SecurityContext != nil && pod.SecurityContext.FSGroup != nil
	return fsGroup || mode&0o004 != 0 || (uid == 0 && mode&0o400 != 0)
}

// dialHost is the host of a gRPC dial target ("plans:9090",
// "dns:///plans:9090", "dns://resolver/plans.nocontact.svc:9090"): the
// server name the client verifies.
func dialHost(target string) string {
	if scheme, rest, ok := strings.Cut(target, "://"); ok && !strings.Contains(scheme, "/") {
		_, target, _ = strings.Cut(rest, "/") // drop the authority
	}
	if h, _, err := net.SplitHostPort(target); err == nil {
		return h
	}
	return target
}

// TestServiceTLS: prod runs mutual TLS between all four workloads, dev none.
func TestServiceTLS(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			m := mustBuild(t, o.dir)
			for _, p := range checkTLS(m, o.mtls) {
				t.Error(p)
			}
			if !o.mtls {
				return
			}
			// The public certificate is not a workload's.
			for _, ing := range m.ingresses {
				for _, tls := range ing.Spec.TLS {
					for _, b := range binaries {
						if tls.SecretName == tlsSecretFor(b) {
							t.Errorf("Ingress %s uses %s, the %s's certificate for the calls between workloads", ing.Name, tls.SecretName, b)
						}
					}
				}
			}
		})
	}
}

// TestBrokenTLSIsRejected: testdata/tls-broken is prod with its TLS wiring
// broken, one way per workload, plus a dial address no certificate names.
func TestBrokenTLSIsRejected(t *testing.T) {
	problems := checkTLS(mustBuild(t, "testdata/tls-broken"), true)
	requireReported(t, problems,
		"Deployment plans container plans: TLS_KEY_FILE is not set: mutual TLS needs TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE",
		"Deployment journal container journal: the TLS mount of volume tls at /etc/nocontact/tls is not read-only",
		`Deployment journal container journal: PLANS_ADDR "plans.nocontact:9090" dials the host "plans.nocontact", which the plans certificate does not name (plans, plans.nocontact.svc, plans.nocontact.svc.cluster.local)`,
		`Deployment notify container notify: TLS_CA_FILE "/etc/ssl/certs/ca-certificates.crt" is not on a volume mount (the workload's Secret notify-tls)`,
		`Deployment gateway container gateway: the TLS files come from Secret "gateway-tls", want "gateway-grpc-tls"`,
	)
	if t.Failed() {
		t.Logf("reported:\n%s", strings.Join(problems, "\n"))
	}
	if dev := checkTLS(mustBuild(t, "overlays/dev"), true); len(dev) == 0 {
		t.Error("dev passes as mutual TLS")
	}
	if prod := checkTLS(mustBuild(t, "overlays/prod"), false); len(prod) == 0 {
		t.Error("prod passes as plaintext")
	}
}

// TestTLSMountMistakesAreRejected: the ways a mount can look right and still
// fail at run time (or at renewal), made on a copy of prod.
func TestTLSMountMistakesAreRejected(t *testing.T) {
	good := mustBuild(t, "overlays/prod")
	m := *good
	m.deployments = nil
	for _, d := range good.deployments {
		d = d.DeepCopy()
		spec := &d.Spec.Template.Spec
		c := &spec.Containers[0]
		vol := &spec.Volumes[slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == "tls" })]
		switch d.Name {
		case "plans": // each file mounted on its own: never updated
			c.VolumeMounts = nil
			for _, f := range tlsFiles {
				c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "tls", MountPath: "/etc/nocontact/tls/" + f.key, SubPath: f.key, ReadOnly: true})
			}
		case "journal": // no fsGroup: root-owned 0440 files, out of uid 65532's reach
			spec.SecurityContext.FSGroup = nil
		case "notify": // starts without its certificate when the Secret is late
			optional := true
			vol.Secret.Optional = &optional
		case "gateway": // items that swap the key and the certificate
			vol.Secret.Items = []corev1.KeyToPath{{Key: "tls.key", Path: "tls.crt"}, {Key: "tls.crt", Path: "tls.key"}, {Key: "ca.crt", Path: "ca.crt"}}
		}
		m.deployments = append(m.deployments, d)
	}
	problems := checkTLS(&m, true)
	requireReported(t, problems,
		"Deployment plans container plans: the TLS mount of volume tls at /etc/nocontact/tls/tls.crt uses subPath: the kubelet never updates it, so a renewed certificate would not reach the pod",
		"Deployment journal container journal: the TLS file /etc/nocontact/tls/tls.key (mode 0440, owned by root) is not readable by the pod's user: give the pod an fsGroup",
		"Deployment notify container notify: the TLS Secret notify-tls is optional: a pod would start without its certificate",
		`Deployment gateway container gateway: TLS_CERT_FILE "/etc/nocontact/tls/tls.crt" is the key "tls.key" of Secret gateway-grpc-tls, want "tls.crt"`,
	)
	if t.Failed() {
		t.Logf("reported:\n%s", strings.Join(problems, "\n"))
	}
}

// cmObject is the part of cert-manager's Issuer and Certificate (v1) the
// example uses; a field outside it fails the strict decoding.
type cmObject struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		// Issuer
		SelfSigned *struct{} `json:"selfSigned"`
		CA         *struct {
			SecretName string `json:"secretName"`
		} `json:"ca"`
		// Certificate
		IsCA        bool   `json:"isCA"`
		CommonName  string `json:"commonName"`
		SecretName  string `json:"secretName"`
		Duration    string `json:"duration"`
		RenewBefore string `json:"renewBefore"`
		PrivateKey  *struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		Usages    []string `json:"usages"`
		DNSNames  []string `json:"dnsNames"`
		IssuerRef *struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// TestServiceTLSExample checks the cert-manager resources documented in
// components/service-tls/kustomization.yaml against the prod overlay: one
// CA Issuer (backed by a CA Certificate of the example) signs a Certificate
// per workload, in the overlay's namespace, into the Secret the workload
// mounts; the services' carry every name they are dialled by and both
// usages, the gateway's client auth only.
func TestServiceTLSExample(t *testing.T) {
	const (
		file  = "components/service-tls/kustomization.yaml"
		begin = "# --- cert-manager example begin ---"
		end   = "# --- cert-manager example end ---"
	)
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok1 := strings.Cut(string(src), begin+"\n")
	block, _, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("%s: no %q ... %q block", file, begin, end)
	}
	var doc strings.Builder
	for l := range strings.Lines(block) {
		l = strings.TrimSuffix(l, "\n")
		if l != "#" && !strings.HasPrefix(l, "#   ") {
			t.Fatalf("%s: example line %q is not indented by three after the #", file, l)
		}
		doc.WriteString(strings.TrimPrefix(strings.TrimPrefix(l, "#"), "   ") + "\n")
	}
	nodes, err := kio.FromBytes([]byte(doc.String()))
	if err != nil {
		t.Fatalf("%s: the example does not parse: %v", file, err)
	}

	ns := mustBuild(t, "overlays/prod").namespaces[0].Name
	issuers := map[string]*cmObject{}
	var certs []*cmObject
	for _, n := range nodes {
		data, err := n.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		o := new(cmObject)
		if strict, err := sigsjson.UnmarshalStrict(data, o, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields); err != nil || len(strict) > 0 {
			t.Fatalf("%s: %s %s: %v %v", file, n.GetKind(), n.GetName(), err, strict)
		}
		id := o.Kind + " " + o.Metadata.Name
		if o.APIVersion != "cert-manager.io/v1" || o.Metadata.Namespace != ns {
			t.Errorf("%s: %s/%s in %q, want cert-manager.io/v1 in %q", id, o.APIVersion, o.Kind, o.Metadata.Namespace, ns)
		}
		switch o.Kind {
		case "Issuer":
			issuers[o.Metadata.Name] = o
		case "Certificate":
			certs = append(certs, o)
			if o.Spec.IssuerRef == nil || o.Spec.IssuerRef.Kind != "Issuer" {
				t.Errorf("%s: want an issuerRef to an Issuer of the namespace", id)
			}
			d, err1 := time.ParseDuration(o.Spec.Duration)
			r, err2 := time.ParseDuration(o.Spec.RenewBefore)
			if err1 != nil || err2 != nil || r <= 0 || r >= d {
				t.Errorf("%s: duration %q, renewBefore %q: want 0 < renewBefore < duration", id, o.Spec.Duration, o.Spec.RenewBefore)
			}
		default:
			t.Errorf("%s: not an Issuer or a Certificate", id)
		}
	}
	for _, c := range certs {
		if c.Spec.IssuerRef != nil && issuers[c.Spec.IssuerRef.Name] == nil {
			t.Errorf("Certificate %s: issuer %q is not in the example", c.Metadata.Name, c.Spec.IssuerRef.Name)
		}
	}

	var signer string // the one Issuer of every workload's certificate
	for _, b := range binaries {
		var c *cmObject
		for _, x := range certs {
			if x.Spec.SecretName == tlsSecretFor(b) {
				if c != nil {
					t.Errorf("two Certificates into the Secret %s", x.Spec.SecretName)
				}
				c = x
			}
		}
		if c == nil {
			t.Errorf("%s: no Certificate into its Secret %s", b, tlsSecretFor(b))
			continue
		}
		id := "Certificate " + c.Metadata.Name
		if c.Spec.IsCA {
			t.Errorf("%s: a workload's certificate is no CA", id)
		}
		if c.Spec.IssuerRef != nil {
			if signer == "" {
				signer = c.Spec.IssuerRef.Name
			} else if c.Spec.IssuerRef.Name != signer {
				t.Errorf("%s: issued by %s, the others by %s: each workload trusts one CA", id, c.Spec.IssuerRef.Name, signer)
			}
		}
		want := []string{"client auth"}
		if slices.Contains(services, b) {
			want = append(want, "server auth")
			for _, name := range serverNames(b, ns) {
				if !slices.Contains(c.Spec.DNSNames, name) {
					t.Errorf("%s: no DNS name %s (a client dialling it would refuse the certificate)", id, name)
				}
			}
		} else if slices.Contains(c.Spec.Usages, "server auth") {
			t.Errorf("%s: the gateway serves no gRPC: client auth only", id)
		}
		for _, u := range want {
			if !slices.Contains(c.Spec.Usages, u) {
				t.Errorf("%s: usages %v without %q", id, c.Spec.Usages, u)
			}
		}
	}
	is := issuers[signer]
	if is == nil || is.Spec.CA == nil {
		t.Fatalf("the workloads' Issuer %q is not a CA Issuer of the example", signer)
	}
	if !slices.ContainsFunc(certs, func(c *cmObject) bool { return c.Spec.IsCA && c.Spec.SecretName == is.Spec.CA.SecretName }) {
		t.Errorf("Issuer %s: its CA Secret %s is no CA Certificate's of the example", signer, is.Spec.CA.SecretName)
	}
}
