package tests

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/tests/harness"
)

// requiredFeatures are the features current Talk refuses to work without.
var requiredFeatures = []string{"audio-video-permissions", "federation", "incall-all", "hello-v2", "switchto"}

// TestWelcomeThroughNginx fetches the welcome over TLS through nginx, as
// Nextcloud's admin page does, and checks the feature header.
func TestWelcomeThroughNginx(t *testing.T) {
	s := needStack(t)
	for _, ip := range []string{s.Outputs.IPv4, s.Outputs.IPv6} {
		t.Run("via "+ip, func(t *testing.T) { checkWelcome(t, s, ip) })
	}
}

// checkWelcome fetches the welcome with the domain resolved to ip.
func checkWelcome(t *testing.T, s *harness.Stack, ip string) {
	url := s.Outputs.SignalingURL + "/api/v1/welcome"
	client := s.HTTPClient()
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, _ := net.SplitHostPort(addr)
		var d net.Dialer
		return d.DialContext(ctx, network, net.JoinHostPort(ip, port))
	}
	req, _ := http.NewRequestWithContext(bounded(t, 10*time.Second), http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("nginx: GET %s at %s: %v (nginx.conf: the 443 server blocks for IPv4 and IPv6, the certificate and the /standalone-signaling/ location)", url, ip, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("nginx: GET %s answered %s, want 200 (nginx.conf: location /standalone-signaling/ must proxy to the signaling server's /api/)", url, resp.Status)
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 || resp.TLS.PeerCertificates[0].Subject.CommonName != s.Domain {
		t.Errorf("nginx: TLS certificate is not the one for %s from /etc/letsencrypt/live/%s", s.Domain, s.Domain)
	}
	var welcome map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&welcome); err != nil {
		t.Fatalf("signaling: welcome body is not JSON: %v", err)
	}
	if welcome["nextcloud-spreed-signaling"] != "Welcome" {
		t.Errorf("signaling: welcome body %v, want nextcloud-spreed-signaling: Welcome", welcome)
	}
	header := resp.Header.Get("X-Spreed-Signaling-Features")
	have := map[string]bool{}
	for _, f := range strings.Split(header, ",") {
		have[strings.TrimSpace(f)] = true
	}
	for _, f := range requiredFeatures {
		if !have[f] {
			t.Errorf("signaling: X-Spreed-Signaling-Features %q lacks %q, which current Talk requires", header, f)
		}
	}
}
