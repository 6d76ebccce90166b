package edge

import (
	"testing"
)

func TestBearerToken(t *testing.T) {
	cases := map[string]struct {
		tok string
		ok  bool
	}{
		"Bearer abc":   {"abc", true},
		"bearer abc":   {"abc", true},
		"Bearer   ":    {"", false},
		"Basic abc":    {"", false},
		"":             {"", false},
		"Bearerabc":    {"", false},
		"BEARER x.y.z": {"x.y.z", true},
	}
	for in, want := range cases {
		tok, ok := bearerToken(in)
		if tok != want.tok || ok != want.ok {
			t.Errorf("bearerToken(%q) = %q, %v; want %q, %v", in, tok, ok, want.tok, want.ok)
		}
	}
}
