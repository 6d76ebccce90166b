package edge

import "testing"

func TestRouteClassIsBounded(t *testing.T) {
	doc, err := openAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	classes, err := routeClasses(doc)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/v1/plans":                             "/v1/plans",
		"/v1/plans/p-123/progress":              "/v1/plans",
		"/v1/plans/p-123:activate":              "/v1/plans",
		"/v1/clients/client-1/entries/e-1":      "/v1/clients",
		"/v1/care-assignments":                  "/v1/care-assignments",
		"/v1/notifications:stream":              "/v1/notifications:stream",
		"/v1/users/u-1/webhooks/w-1/deliveries": "/v1/users",
		"/healthz":                              "/healthz",
		"/openapi.json":                         "/openapi.json",
		"/healthz/extra":                        "other",
		"/v1/client-42":                         "other",
		"/v1":                                   "other",
		"/":                                     "other",
		"/wp-admin/setup.php":                   "other",
	} {
		if got := routeClass(path, classes); got != want {
			t.Errorf("routeClass(%q) = %q, want %q", path, got, want)
		}
	}
}
