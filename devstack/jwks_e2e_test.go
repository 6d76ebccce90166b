package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/nocontact/backend/platform/auth"
	"github.com/nocontact/backend/platform/auth/authtest"
)

// With NOCONTACT_JWT_JWKS_URL the whole suite takes the identity
// provider's asymmetric tokens, at the gateway and again in every service
// (journal forwards the token to plans during an urge), and follows a key
// rotation at the provider without a restart. A shared-secret token is
// refused.
func TestIdentityProviderKeys(t *testing.T) {
	idp := authtest.NewProvider(t)
	idp.Publish(t, "2026-11")
	s := startSuiteWith(t, t.TempDir(), func(st *Settings) { st.JWKSURL = idp.URL })

	issue := func(kid, sub string, role auth.Role) string {
		return idp.Sign(t, kid, jwt.MapClaims{
			"iss": "nocontact", "aud": "nocontact", "sub": sub, "role": string(role),
			"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
		})
	}
	client := issue("2026-11", "client-idp", auth.RoleClient)
	plan := s.mustCall(http.StatusOK, "POST", "/v1/plans", client, map[string]any{
		"timeZone": "Europe/Dublin", "reasons": []string{"my evenings are mine again"},
	})
	s.mustCall(http.StatusOK, "POST", "/v1/plans/"+plan["id"].(string)+":activate", client, map[string]any{})
	ans := s.mustCall(http.StatusOK, "POST", "/v1/clients/client-idp/urges", client, map[string]any{"intensity": 4})
	if reasons, _ := ans["reasons"].([]any); len(reasons) != 1 || ans["planUnavailable"] != false {
		t.Fatalf("urge answer = %v: plans did not accept the forwarded token", ans)
	}

	// The provider rotates: a token signed with the new key works at once.
	idp.Publish(t, "2026-12")
	s.mustCall(http.StatusOK, "GET", "/v1/plans/"+plan["id"].(string), issue("2026-12", "client-idp", auth.RoleClient), nil)

	// Refused: a key nobody published, and a development HS256 token.
	s.mustCall(http.StatusUnauthorized, "GET", "/v1/plans/"+plan["id"].(string), issue("forged", "client-idp", auth.RoleClient), nil)
	s.mustCall(http.StatusUnauthorized, "GET", "/v1/plans/"+plan["id"].(string), token(t, "client-idp", auth.RoleClient), nil)
}
