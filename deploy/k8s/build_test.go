package k8s

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// manifest is one kustomization's output, every object decoded into its
// Kubernetes API type.
type manifest struct {
	dir             string
	namespaces      []*corev1.Namespace
	serviceAccounts []*corev1.ServiceAccount
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	deployments     []*appsv1.Deployment
	statefulSets    []*appsv1.StatefulSet
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	pdbs            []*policyv1.PodDisruptionBudget
	policies        []*networkingv1.NetworkPolicy
	ingresses       []*networkingv1.Ingress
}

// decoders are the kinds the manifests may contain, by apiVersion/kind. An
// object of any other kind (or an older apiVersion) fails the build check.
var decoders = map[string]func(m *manifest, data []byte) error{
	"v1/Namespace":                           into(func(m *manifest, o *corev1.Namespace) { m.namespaces = append(m.namespaces, o) }),
	"v1/ServiceAccount":                      into(func(m *manifest, o *corev1.ServiceAccount) { m.serviceAccounts = append(m.serviceAccounts, o) }),
	"v1/Service":                             into(func(m *manifest, o *corev1.Service) { m.services = append(m.services, o) }),
	"v1/ConfigMap":                           into(func(m *manifest, o *corev1.ConfigMap) { m.configMaps = append(m.configMaps, o) }),
	"v1/Secret":                              into(func(m *manifest, o *corev1.Secret) { m.secrets = append(m.secrets, o) }),
	"apps/v1/Deployment":                     into(func(m *manifest, o *appsv1.Deployment) { m.deployments = append(m.deployments, o) }),
	"apps/v1/StatefulSet":                    into(func(m *manifest, o *appsv1.StatefulSet) { m.statefulSets = append(m.statefulSets, o) }),
	"autoscaling/v2/HorizontalPodAutoscaler": into(func(m *manifest, o *autoscalingv2.HorizontalPodAutoscaler) { m.hpas = append(m.hpas, o) }),
	"policy/v1/PodDisruptionBudget":          into(func(m *manifest, o *policyv1.PodDisruptionBudget) { m.pdbs = append(m.pdbs, o) }),
	"networking.k8s.io/v1/NetworkPolicy":     into(func(m *manifest, o *networkingv1.NetworkPolicy) { m.policies = append(m.policies, o) }),
	"networking.k8s.io/v1/Ingress":           into(func(m *manifest, o *networkingv1.Ingress) { m.ingresses = append(m.ingresses, o) }),
}

// into decodes strictly: an unknown field (a typo, a field of another
// apiVersion), a duplicate field or a field in the wrong case is an error,
// as is a value of the wrong type.
func into[T any](add func(*manifest, *T)) func(*manifest, []byte) error {
	return func(m *manifest, data []byte) error {
		obj := new(T)
		strict, err := sigsjson.UnmarshalStrict(data, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
		if err != nil {
			return err
		}
		if len(strict) > 0 {
			return fmt.Errorf("%v", strict)
		}
		add(m, obj)
		return nil
	}
}

// build runs kustomize in-process on dir (relative to this package) and
// decodes every object it produces.
func build(dir string) (*manifest, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	resources, err := k.Run(filesys.MakeFsOnDisk(), filepath.FromSlash(dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	m := &manifest{dir: dir}
	for _, r := range resources.Resources() {
		key := r.GetApiVersion() + "/" + r.GetKind()
		id := key + " " + r.GetName()
		decode, ok := decoders[key]
		if !ok {
			return nil, fmt.Errorf("%s: %s is not a kind these manifests use", dir, id)
		}
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, id, err)
		}
		if err := decode(m, data); err != nil {
			return nil, fmt.Errorf("%s: %s does not decode strictly: %w", dir, id, err)
		}
	}
	return m, nil
}

// builds caches each kustomization's build: the tests read the same
// overlays many times.
var builds sync.Map // dir -> func() (*manifest, error)

func mustBuild(t *testing.T, dir string) *manifest {
	t.Helper()
	f, _ := builds.LoadOrStore(dir, sync.OnceValues(func() (*manifest, error) { return build(dir) }))
	m, err := f.(func() (*manifest, error))()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *manifest) configMap(name string) *corev1.ConfigMap {
	for _, c := range m.configMaps {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (m *manifest) deployment(name string) *appsv1.Deployment {
	for _, d := range m.deployments {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (m *manifest) statefulSet(name string) *appsv1.StatefulSet {
	for _, s := range m.statefulSets {
		if s.Name == name {
			return s
		}
	}
	return nil
}
