// Package authtest is an identity provider for tests: it publishes ES256
// public keys as a JWK Set over real HTTP, signs tokens with them, and can
// rotate, withdraw or go down, so that verifiers are tested against what a
// real provider does.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Provider is a JWK Set endpoint and the private keys behind it.
type Provider struct {
	// URL serves the JWK Set.
	URL string

	mu      sync.Mutex
	keys    map[string]*ecdsa.PrivateKey
	down    bool
	fetches int
}

// NewProvider serves an empty key set until the test ends.
func NewProvider(t testing.TB) *Provider {
	t.Helper()
	p := &Provider{keys: map[string]*ecdsa.PrivateKey{}}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Publish adds a fresh key under kid.
func (p *Provider) Publish(t testing.TB, kid string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.keys[kid] = key
	p.mu.Unlock()
}

// Withdraw removes kid from the set.
func (p *Provider) Withdraw(kid string) {
	p.mu.Lock()
	delete(p.keys, kid)
	p.mu.Unlock()
}

// SetDown makes the endpoint answer 503 (true) or serve the set again.
func (p *Provider) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// Fetches is how many times the set was asked for.
func (p *Provider) Fetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches
}

// ServeHTTP serves the public keys as a JWK Set.
func (p *Provider) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fetches++
	if p.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set := struct {
		Keys []map[string]string `json:"keys"`
	}{Keys: []map[string]string{}}
	for kid, k := range p.keys {
		pub, err := k.PublicKey.ECDH()
		if err != nil {
			continue
		}
		raw := pub.Bytes() // 0x04 || X || Y
		set.Keys = append(set.Keys, map[string]string{
			"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
			"x": b64(raw[1:33]), "y": b64(raw[33:]),
		})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// Sign makes the token the provider would issue with key kid; with a kid
// it never published, a key nobody knows signs it.
func (p *Provider) Sign(t testing.TB, kid string, claims jwt.MapClaims) string {
	t.Helper()
	p.mu.Lock()
	key := p.keys[kid]
	p.mu.Unlock()
	if key == nil {
		var err error
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
