// Package tlsx gives the services mutual TLS between them: each serves its
// gRPC API with a certificate signed by the suite's internal CA and asks
// the same of every caller, and dials the others with its own certificate.
//
// The certificate, key and CA bundle are PEM files (a cert-manager
// Certificate's Secret mounted into the pod: tls.crt, tls.key, ca.crt). They
// are re-read when they change on disk, checked at each handshake (three
// stats; connections are long-lived), so a renewed certificate is used
// without a restart; a change that does not load (a half-written pair)
// keeps the previous one and is logged. A new CA bundle is picked up the same way by servers;
// clients read it when they dial, i.e. at start-up.
package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// Files names the PEM files. All three or none: Validate says which.
type Files struct {
	// Cert is the certificate chain, leaf first.
	Cert string `env:"TLS_CERT_FILE"`
	// Key is the certificate's private key.
	Key string `env:"TLS_KEY_FILE"`
	// CA is the bundle of CAs that sign the other services' certificates.
	CA string `env:"TLS_CA_FILE"`
}

// Enabled reports whether TLS is configured.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Validate accepts all three files or none.
func (f Files) Validate() error {
	if !f.Enabled() || (f.Cert != "" && f.Key != "" && f.CA != "") {
		return nil
	}
	var missing []error
	for _, v := range []struct{ name, value string }{{"TLS_CERT_FILE", f.Cert}, {"TLS_KEY_FILE", f.Key}, {"TLS_CA_FILE", f.CA}} {
		if v.value == "" {
			missing = append(missing, fmt.Errorf("%s is empty while other TLS_* files are set: set all three for mutual TLS, or none", v.name))
		}
	}
	return errors.Join(missing...)
}

// Source holds the current certificate and CA pool, reloaded when the
// files change.
type Source struct {
	files Files
	log   *slog.Logger

	mu    sync.Mutex
	cert  *tls.Certificate
	pool  *x509.CertPool
	stamp string // the files' sizes and modification times at the last load
}

// Load reads the files once; an error means TLS cannot start.
func Load(f Files, log *slog.Logger) (*Source, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if !f.Enabled() {
		return nil, errors.New("tls: no files configured")
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Source{files: f, log: log}
	stamp, err := s.stampFiles()
	if err != nil {
		return nil, err
	}
	if err := s.load(stamp); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Source) stampFiles() (string, error) {
	var stamp string
	for _, p := range []string{s.files.Cert, s.files.Key, s.files.CA} {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		stamp += fmt.Sprintf("%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return stamp, nil
}

func (s *Source) load(stamp string) error {
	cert, err := tls.LoadX509KeyPair(s.files.Cert, s.files.Key)
	if err != nil {
		return fmt.Errorf("tls: load certificate %s and key %s: %w", s.files.Cert, s.files.Key, err)
	}
	caPEM, err := os.ReadFile(s.files.CA)
	if err != nil {
		return fmt.Errorf("tls: read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("tls: no certificate in CA bundle %s", s.files.CA)
	}
	s.cert, s.pool, s.stamp = &cert, pool, stamp
	return nil
}

// current returns the certificate and pool, reloading them first when the
// files changed since the last load.
func (s *Source) current() (*tls.Certificate, *x509.CertPool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stamp, err := s.stampFiles()
	if err != nil || stamp == s.stamp {
		if err != nil {
			s.log.Warn("tls files unreadable; keeping the loaded certificate", "error", err)
		}
		return s.cert, s.pool
	}
	if err := s.load(stamp); err != nil {
		s.log.Warn("tls files changed but do not load; keeping the loaded certificate", "error", err)
		return s.cert, s.pool
	}
	s.log.Info("tls certificate reloaded", "not_after", s.cert.Leaf.NotAfter)
	return s.cert, s.pool
}

// ServerConfig requires TLS 1.3 and a client certificate signed by the CA.
func (s *Source) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAndVerifyClientCert,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			cert, pool := s.current()
			return &tls.Config{
				MinVersion:   tls.VersionTLS13,
				ClientAuth:   tls.RequireAndVerifyClientCert,
				Certificates: []tls.Certificate{*cert},
				ClientCAs:    pool,
			}, nil
		},
	}
}

// ClientConfig presents the current certificate and verifies the server's
// against the CA bundle as loaded now, for the host name dialled.
func (s *Source) ClientConfig() *tls.Config {
	_, pool := s.current()
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, _ := s.current()
			return cert, nil
		},
	}
}
