package k8s

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// JWKS token verification (components/jwks) is off unless an overlay lists
// the component: the workloads verify HS256 tokens with the shared secret
// (checkTokenKeys). With it, every workload fetches the identity provider's
// public keys from one https URL, holds no HS256 key, and the network
// policies allow exactly one flow more per workload: to public addresses on
// 443, as notify's webhooks.
const (
	jwksPlaceholder  = "https://login.nocontact.example/.well-known/jwks.json" // components/jwks, until the operator sets it
	jwksPolicy       = "allow-egress-identity-provider"
	webhookPolicy    = "notify" // components/network-policies/notify.yaml
	defaultHTTPSPort = 443
)

// jwksFixture is the overlay with components/jwks added.
func (o overlay) jwksFixture() string { return "testdata/" + o.name + "-jwks" }

// TestJWKSIsOffByDefault: the overlays as they are verify HS256 tokens: no
// ConfigMap or container names a JWK Set, every container has the HS256
// secret, and no policy opens the way to an identity provider.
func TestJWKSIsOffByDefault(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			m := mustBuild(t, o.dir)
			for _, c := range m.configMaps {
				if _, ok := c.Data[jwksURLEnv]; ok {
					t.Errorf("ConfigMap %s holds %s without components/jwks", c.Name, jwksURLEnv)
				}
			}
			for _, d := range m.deployments {
				for _, c := range d.Spec.Template.Spec.Containers {
					env := containerEnv(m, d.Namespace, &c)
					if _, ok := env[jwksURLEnv]; ok {
						t.Errorf("Deployment %s container %s: %s set without components/jwks", d.Name, c.Name, jwksURLEnv)
					}
					if _, ok := env[jwtSecretEnv]; !ok {
						t.Errorf("Deployment %s container %s: no %s: HS256 is the default", d.Name, c.Name, jwtSecretEnv)
					}
				}
			}
			for _, np := range m.policies {
				if np.Name == jwksPolicy {
					t.Errorf("NetworkPolicy %s without components/jwks", np.Name)
				}
			}
		})
	}
}

// TestJWKSComponent builds each overlay with components/jwks: the workloads
// still pass every check, each fetches the same https JWK Set and holds no
// HS256 key, and the network policies allow exactly the overlay's flows
// plus each workload's flow to public addresses on 443 (private, shared,
// link-local and loopback addresses stay closed: the rule's except-list is
// the webhook rule's).
func TestJWKSComponent(t *testing.T) {
	for _, o := range overlays {
		t.Run(o.name, func(t *testing.T) {
			m := mustBuildWithComponent(t, o, o.jwksFixture())

			problems, flows := checkJWKS(m)
			for _, p := range problems {
				t.Error(p)
			}
			var sources []string
			for _, f := range flows {
				src, _, _ := strings.Cut(f, " -> ")
				if !slices.Contains(sources, src) {
					sources = append(sources, src)
				}
			}
			slices.Sort(sources)
			if want := slices.Sorted(slices.Values(binaries)); !slices.Equal(sources, want) {
				t.Errorf("workloads with a flow to the identity provider: %v, want %v", sources, want)
			}
			netProblems, err := checkNetwork(m, append(o.flows(m), flows...))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range netProblems {
				t.Error(p)
			}

			// Said outright (the exact-flows check implies it): the new rule
			// opens no private or metadata address, on 443 or elsewhere.
			all, err := peers(m)
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range all {
				if !src.inScope || !slices.Contains(binaries, src.name) {
					continue
				}
				for _, dst := range all {
					if dst.namespace == "" && !isPublic(dst.ip) &&
						allows(m.policies, src, src, dst, defaultHTTPSPort, corev1.ProtocolTCP, networkingv1.PolicyTypeEgress) {
						t.Errorf("%s reaches %s (%s) on 443: only public addresses may be", src.name, dst.name, dst.ip)
					}
				}
			}
			for _, p := range sameExceptions(m) {
				t.Error(p)
			}

			if env := containerEnv(m, m.deployments[0].Namespace, &m.deployments[0].Spec.Template.Spec.Containers[0]); env[jwksURLEnv].value == jwksPlaceholder {
				t.Logf("NOTE: components/jwks still holds the placeholder %s: set the identity provider's URL in the overlay before deploying", jwksPlaceholder)
			}
		})
	}
}

// TestJWKSURLOverride: the way components/jwks tells the operator to set
// the real URL (testdata/jwks-url, one patch of the four ConfigMaps in the
// overlay) reaches every workload, and renames each ConfigMap, so that the
// pods roll.
func TestJWKSURLOverride(t *testing.T) {
	const want = "https://idp.example.com/.well-known/jwks.json"
	placeholder, m := mustBuild(t, overlays[0].jwksFixture()), mustBuild(t, "testdata/jwks-url")
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			r := containerEnv(m, d.Namespace, &c)[jwksURLEnv]
			if r.value != want {
				t.Errorf("Deployment %s container %s: %s %q, want %q", d.Name, c.Name, jwksURLEnv, r.value, want)
			}
			if pd := placeholder.deployment(d.Name); pd != nil && r.fromConfigMap == pd.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name {
				t.Errorf("Deployment %s: ConfigMap %s keeps its name with another URL: the pods would not roll", d.Name, r.fromConfigMap)
			}
		}
	}
	problems, _ := checkJWKS(m)
	for _, p := range append(checkWorkloads(m), problems...) {
		t.Error(p)
	}
}

// TestJWKSMismatchIsRejected: testdata/jwks-broken is prod with
// components/jwks and its wiring broken, one way per workload; the
// workload, JWKS and network checks must report every one.
func TestJWKSMismatchIsRejected(t *testing.T) {
	m := mustBuild(t, "testdata/jwks-broken")
	problems := checkWorkloads(m)
	requireReported(t, problems,
		`Deployment plans container plans: NOCONTACT_JWT_JWKS_URL "http://login.nocontact.example/.well-known/jwks.json": not https: the keys that sign every token would travel unauthenticated`,
		"Deployment journal container journal: NOCONTACT_JWT_JWKS_URL and NOCONTACT_JWT_SECRET are both set: the binary refuses two token modes (want exactly one)",
		"Deployment journal container journal: NOCONTACT_JWT_PREVIOUS_SECRET is set beside NOCONTACT_JWT_JWKS_URL: the binary refuses HS256 keys in JWKS mode",
		"Deployment gateway container gateway: neither NOCONTACT_JWT_SECRET nor NOCONTACT_JWT_JWKS_URL: the binary has no key to verify tokens with (want exactly one)",
	)
	jwksProblems, flows := checkJWKS(m)
	requireReported(t, jwksProblems,
		"Deployment journal container journal: NOCONTACT_JWT_SECRET is still set: components/jwks deletes it",
		"Deployment gateway container gateway: NOCONTACT_JWT_JWKS_URL is not set: components/jwks sets it for every workload",
		`the workloads fetch different JWK Sets: journal: "https://login.nocontact.example/.well-known/jwks.json", notify: "https://login.nocontact.example:8443/.well-known/jwks.json" (a token one accepts, another refuses)`,
	)
	prod := overlays[slices.IndexFunc(overlays, func(o overlay) bool { return o.name == "prod" })]
	netProblems, err := checkNetwork(m, append(prod.flows(m), flows...))
	if err != nil {
		t.Fatal(err)
	}
	requireReported(t, netProblems,
		"egress blocks a wanted flow: notify -> internet:8443/TCP",
		"egress allows an unexpected flow: gateway -> internet:443/TCP",
	)
	if t.Failed() {
		t.Logf("reported:\n%s\n%s\n%s", strings.Join(problems, "\n"), strings.Join(jwksProblems, "\n"), strings.Join(netProblems, "\n"))
	}
}

// checkJWKS returns what is wrong with the JWKS settings of m's
// Deployments, which must all verify tokens with the same JWK Set and no
// HS256 key (checkTokenKeys checks the URL itself), and the flows fetching
// it needs: each workload to every public address on the URL's port. The
// identity provider's addresses are unknown, so its peers in the model are
// the public ones (as for the webhooks), whatever the URL's host.
func checkJWKS(m *manifest) (problems, flows []string) {
	byURL := map[string][]string{} // URL -> workloads
	for _, d := range m.deployments {
		for _, c := range d.Spec.Template.Spec.Containers {
			cid := "Deployment " + d.Name + " container " + c.Name
			report := func(format string, args ...any) { problems = append(problems, cid+": "+fmt.Sprintf(format, args...)) }
			env := containerEnv(m, d.Namespace, &c)
			for _, n := range []string{jwtSecretEnv, jwtPreviousSecretEnv} {
				if _, ok := env[n]; ok {
					report("%s is still set: components/jwks deletes it", n)
				}
			}
			if !jwksMode(env) {
				report("%s is not set: components/jwks sets it for every workload", jwksURLEnv)
				continue
			}
			raw := env[jwksURLEnv].value
			u, err := parseJWKSURL(raw)
			if err != nil {
				continue // checkTokenKeys reports it
			}
			byURL[raw] = append(byURL[raw], d.Name)
			if a, err := netip.ParseAddr(u.Hostname()); err == nil && !isPublic(a) {
				report("%s %q: %s is not a public address, and %s opens public addresses only", jwksURLEnv, raw, a, jwksPolicy)
				continue
			}
			port := int32(defaultHTTPSPort)
			if u.Port() != "" {
				p, err := strconv.ParseInt(u.Port(), 10, 32)
				if err != nil {
					report("%s %q: port %q", jwksURLEnv, raw, u.Port())
					continue
				}
				port = int32(p)
			}
			flows = append(flows, toPublic(m, d.Name, port)...)
		}
	}
	if len(byURL) > 1 {
		var each []string
		for _, raw := range slices.Sorted(maps.Keys(byURL)) {
			each = append(each, fmt.Sprintf("%s: %q", strings.Join(byURL[raw], ", "), raw))
		}
		problems = append(problems, "the workloads fetch different JWK Sets: "+strings.Join(each, ", ")+" (a token one accepts, another refuses)")
	}
	return problems, flows
}

// sameExceptions: the identity provider's rule opens the same public
// ranges as notify's webhook rule, with the same exceptions (the network
// model tries only a few private addresses; this covers every range).
func sameExceptions(m *manifest) []string {
	blocks := func(name string, port int32) ([]string, bool) {
		for _, np := range m.policies {
			if np.Name != name {
				continue
			}
			for _, r := range np.Spec.Egress {
				if !slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool {
					return p.Port != nil && p.Port.IntVal == port
				}) {
					continue
				}
				var out []string
				for _, to := range r.To {
					if to.IPBlock != nil {
						ex := slices.Sorted(slices.Values(to.IPBlock.Except))
						out = append(out, to.IPBlock.CIDR+" except "+strings.Join(ex, ","))
					}
				}
				slices.Sort(out)
				return out, len(out) > 0
			}
		}
		return nil, false
	}
	webhooks, ok := blocks(webhookPolicy, defaultHTTPSPort)
	if !ok {
		return []string{"no ipBlock rule on 443 in NetworkPolicy " + webhookPolicy + " (the webhooks)"}
	}
	idp, ok := blocks(jwksPolicy, defaultHTTPSPort)
	if !ok {
		return []string{"no ipBlock rule on 443 in NetworkPolicy " + jwksPolicy}
	}
	if !slices.Equal(idp, webhooks) {
		return []string{fmt.Sprintf("NetworkPolicy %s opens %q, the webhooks %q: keep the two except-lists identical", jwksPolicy, idp, webhooks)}
	}
	return nil
}
