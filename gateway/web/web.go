// Package web is the counsellor's dashboard page, served by the gateway at
// /dashboard/: one HTML document, a small script and a style sheet, all
// embedded in the binary (no CDN, no external font). The page talks to the
// gateway's own JSON API with the counsellor's bearer token; it holds no
// data of its own.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

//go:embed index.html
var indexHTML string

// ContentSecurityPolicy is the page's policy: everything from the gateway
// itself, no inline script or style, no framing, no plug-ins.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Options configure the page.
type Options struct {
	// DevToken, when set, mints a development counsellor token: the page
	// shows a button for it and POST /dashboard/dev-token answers
	// {"token": ...}. Only the devstack sets it.
	DevToken func() (string, error)
}

// Handler serves the page under /dashboard/ (mount it at that prefix).
func Handler(opts Options) (http.Handler, error) {
	tmpl, err := template.New("index").Parse(indexHTML)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	if err := tmpl.Execute(&page, struct{ DevToken bool }{opts.DevToken != nil}); err != nil {
		return nil, err
	}
	assets, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	index := page.Bytes()
	serveIndex := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(index)
	}
	mux.HandleFunc("GET /dashboard/{$}", serveIndex)
	// Deep links to a client render the same page; the script routes.
	mux.HandleFunc("GET /dashboard/clients/{id}", serveIndex)
	mux.Handle("GET /dashboard/static/", http.StripPrefix("/dashboard/static/", http.FileServerFS(assets)))
	mux.HandleFunc("GET /dashboard", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/dashboard/", http.StatusMovedPermanently)
	})
	if opts.DevToken != nil {
		mux.HandleFunc("POST /dashboard/dev-token", func(w http.ResponseWriter, r *http.Request) {
			// A form on another site cannot post JSON without a preflight,
			// and the answer is readable by this origin only.
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
				return
			}
			tok, err := opts.DevToken()
			if err != nil {
				http.Error(w, "could not mint a development token", http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
		})
	}
	return withSecurityHeaders(mux), nil
}

// withSecurityHeaders sets the strict headers on every answer of the page.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		next.ServeHTTP(w, r)
	})
}
