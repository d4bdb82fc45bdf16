package tests

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// TestPlainHTTP checks port 80 as Let's Encrypt and browsers use it: the
// HTTP-01 challenge is served from the ACME webroot (certbot --webroot),
// everything else is redirected to HTTPS.
func TestPlainHTTP(t *testing.T) {
	s := needStack(t)
	token := "nctalk-test-token-" + time.Now().Format("150405.000000")
	dir, err := s.HostPath(cloudconfig.ACMEWebroot + "/.well-known/acme-challenge")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// certbot writes challenge files world-readable.
	if err := os.WriteFile(filepath.Join(dir, token), []byte(token+".key-authorization"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(dir, token)) })

	get := func(path string) *http.Response {
		t.Helper()
		url := "http://" + s.Domain + path
		req, _ := http.NewRequestWithContext(bounded(t, 10*time.Second), http.MethodGet, url, nil)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatalf("nginx: GET %s: %v (nginx.conf: the port %d server block)", url, err, schema.PortHTTP)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}

	resp := get("/.well-known/acme-challenge/" + token)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != token+".key-authorization" {
		t.Errorf("nginx: the ACME challenge answered %s %q, want 200 with the file from %s (nginx.conf: location /.well-known/acme-challenge/ root)", resp.Status, body, cloudconfig.ACMEWebroot)
	}

	resp = get(talk.SignalingPath + "/api/v1/welcome?x=1")
	want := s.Settings.Endpoints().SignalingURL() + "/api/v1/welcome?x=1"
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != want {
		t.Errorf("nginx: plain HTTP answered %s Location %q, want 301 to %s", resp.Status, resp.Header.Get("Location"), want)
	}
}
