package tests

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// testPeerIP is the UDP peer of the relay tests. coturn never relays to
// loopback (its own rule and the rendered denied-peer-ip), so a peer on
// 127.0.0.1 proves nothing; this documentation address (TEST-NET-3, never
// routed on the internet) is put on lo for the test and lies in no denied
// range (the test checks), so the relay leaves coturn exactly as it would
// to a peer on the internet.
const testPeerIP = "203.0.113.44"

// Client source addresses on loopback other than nginx's 127.0.0.1: what
// the daemons log shows whose address reached them.
var (
	clientIPSignaling = net.ParseIP("127.0.0.7")
	clientIPTURN      = net.ParseIP("127.0.0.9")
)

// udpPeer listens on testPeerIP and echoes every datagram to its sender.
func udpPeer(tb testing.TB) *net.UDPConn {
	tb.Helper()
	ip := netip.MustParseAddr(testPeerIP)
	for _, n := range cloudconfig.DeniedPeerNetworks {
		if netip.MustParsePrefix(n).Contains(ip) {
			tb.Fatalf("the test peer %s lies in the denied peer range %s: pick another address", ip, n)
		}
	}
	out, err := exec.Command("ip", "addr", "add", testPeerIP+"/32", "dev", "lo").CombinedOutput()
	switch {
	case err == nil:
		tb.Cleanup(func() { _ = exec.Command("ip", "addr", "del", testPeerIP+"/32", "dev", "lo").Run() })
	case !strings.Contains(string(out), "File exists"):
		tb.Fatalf("ip addr add %s/32 dev lo: %v: %s", testPeerIP, err, out)
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ip.AsSlice()})
	if err != nil {
		tb.Fatalf("UDP peer: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDP(buf[:n], from)
		}
	}()
	return c
}

// roundTrip sends msg through the relay to the peer and waits for the echo.
func roundTrip(relay net.PacketConn, peer net.Addr, msg []byte) error {
	buf := make([]byte, 2048)
	for try := 0; try < 5; try++ { // UDP: retry a lost datagram
		if _, err := relay.WriteTo(msg, peer); err != nil {
			return fmt.Errorf("send to %s through the relay: %w", peer, err)
		}
		_ = relay.SetReadDeadline(time.Now().Add(time.Second))
		for {
			n, from, err := relay.ReadFrom(buf)
			if err != nil {
				break
			}
			if from.String() == peer.String() && bytes.Equal(buf[:n], msg) {
				return nil
			}
		}
	}
	return fmt.Errorf("no echo of %q from %s through the relay", msg, peer)
}

// TestTURNOn443 runs TURN over TLS on port 443 (turnOn443) through the
// rendered nginx stream front and coturn: a relay to a UDP peer, HTTPS and
// the signaling WebSocket on the same port at the same time, the client's
// address reaching the signaling server through the PROXY protocol, and
// what coturn sees.
func TestTURNOn443(t *testing.T) {
	s := needStack(t)
	if !s.Settings.TURNOn443 {
		t.Fatal("the test stack renders turnOn443 = false; the default must be on")
	}
	user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, "alice", time.Now().Add(time.Hour))
	peer := udpPeer(t)

	want := talk.TURNServer{Schemes: "turns", Server: s.Settings.TURNName() + ":443", Protocols: "tcp"}
	found := false
	for _, ts := range s.Outputs.TURNServers {
		found = found || ts == want
	}
	if !found {
		t.Errorf("outputs turnServers %v lack %v", s.Outputs.TURNServers, want)
	}

	c, err := s.DialTURNOn443(clientIPTURN, user, pass)
	if err != nil {
		t.Fatalf("%v (nginx.conf stream map: the TURN name must route to coturn)", err)
	}
	defer c.Close()
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("coturn: allocation over TLS on 443 failed: %v (nginx.conf: stream front -> 127.0.0.1:%d -> coturn %d)", err, schema.PortTURNSLocal, schema.PortTURNS)
	}
	defer relay.Close()
	relayAddr := relay.LocalAddr().(*net.UDPAddr)
	if !s.TURNRelayPorts().Contains(relayAddr.Port) {
		t.Errorf("coturn: relayed port %d outside the relay range %s", relayAddr.Port, s.TURNRelayPorts())
	}

	t.Run("relay through 443 to a UDP peer", func(t *testing.T) {
		if err := roundTrip(relay, peer.LocalAddr(), []byte("hello through 443")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("HTTPS and the signaling WebSocket on 443 meanwhile", func(t *testing.T) {
		ctx := bounded(t, 15*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Outputs.SignalingURL+"/api/v1/welcome", nil)
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatalf("nginx: welcome over 443 while a TURN session is open: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var welcome map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &welcome) != nil || welcome["nextcloud-spreed-signaling"] != "Welcome" {
			t.Fatalf("nginx: welcome answered %s %q", resp.Status, body)
		}
		ws, err := s.DialSignalingFrom(ctx, s.WebSocketURL(), clientIPSignaling)
		if err != nil {
			t.Fatalf("nginx: %v", err)
		}
		defer ws.Close()
		if err := ws.HelloInternal(ctx, s.Secrets.InternalClientSecret, s.Nextcloud.URL); err != nil {
			t.Fatalf("signaling: hello through 443: %v", err)
		}
		// The TURN session on the same port is unaffected.
		if err := roundTrip(relay, peer.LocalAddr(), []byte("still relaying")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the client address reaches signaling", func(t *testing.T) {
		// nginx connects to signaling from 127.0.0.1; with the PROXY header
		// read on the HTTPS server, X-Real-IP carries the client's address.
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(s.Logs(cloudconfig.ServiceSignaling), clientIPSignaling.String()) {
			if time.Now().After(deadline) {
				t.Fatalf("signaling never logged the client address %s (nginx.conf: listen ... proxy_protocol, real_ip_header proxy_protocol); its log:\n%s",
					clientIPSignaling, redactedTail(s, cloudconfig.ServiceSignaling, 15))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("coturn sees nginx, not the client", func(t *testing.T) {
		// coturn's TLS listener reads no PROXY header: every client on 443
		// reaches it from 127.0.0.1 (its STUN answer shows the address it
		// sees), so coturn's per-IP view cannot tell those clients apart.
		mapped, err := c.SendBindingRequest()
		if err != nil {
			t.Fatalf("coturn: binding request over 443: %v", err)
		}
		ip := mapped.(*net.UDPAddr).IP
		if !ip.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Errorf("coturn sees the 443 client as %s (the client is %s, nginx 127.0.0.1); the docs say coturn sees 127.0.0.1 — update them", ip, clientIPTURN)
		}
	})

	t.Run("names other than the TURN name reach HTTPS", func(t *testing.T) {
		// An HTTPS client without SNI (an IP literal) or with another name
		// is routed to the HTTPS server, never to coturn.
		for _, sni := range []string{"", "other.nctalk.test"} {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", schema.PortHTTPS),
				&tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}) //nolint:gosec // the route is under test, not the certificate
			if err != nil {
				t.Fatalf("SNI %q: %v", sni, err)
			}
			fmt.Fprintf(conn, "GET %s/api/v1/welcome HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", talk.SignalingPath, s.Domain)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			answer, _ := io.ReadAll(conn)
			conn.Close()
			if !strings.HasPrefix(string(answer), "HTTP/1.1 200") || !strings.Contains(string(answer), "nextcloud-spreed-signaling") {
				t.Errorf("SNI %q: not the HTTPS server's welcome: %.120q", sni, answer)
			}
		}
	})
}

// BenchmarkRelay compares relay throughput of TURN over TLS through the
// 443 front (nginx stream + PROXY hop) with direct TLS to coturn's 5349:
// 1000-byte datagrams to an echoing UDP peer, 64 in flight. b.SetBytes
// counts each datagram once each way.
func BenchmarkRelay(b *testing.B) {
	needStack(b)
	s := stack
	user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, "bench", time.Now().Add(time.Hour))
	peer := udpPeer(b)
	paths := []struct {
		name string
		dial func() (*harness.TURNClient, error)
	}{
		{"front-443", func() (*harness.TURNClient, error) { return s.DialTURNOn443(nil, user, pass) }},
		{"direct-5349", func() (*harness.TURNClient, error) { return s.DialTURN(harness.TURNOverTLS, user, pass) }},
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			c, err := p.dial()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			relay, err := c.Allocate()
			if err != nil {
				b.Fatal(err)
			}
			defer relay.Close()
			if err := roundTrip(relay, peer.LocalAddr(), []byte("warm-up")); err != nil {
				b.Fatal(err)
			}
			lost := relayFlood(b, relay, peer.LocalAddr(), 1000, 64)
			b.ReportMetric(float64(lost)/float64(b.N), "lost/op")
		})
	}
}

// relayFlood sends b.N datagrams of size bytes through the relay with at
// most window unanswered, and returns how many echoes never came.
func relayFlood(b *testing.B, relay net.PacketConn, peer net.Addr, size, window int) int {
	payload := make([]byte, size)
	tokens := make(chan struct{}, window)
	done := make(chan struct{})
	got := 0
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for got < b.N {
			_ = relay.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := relay.ReadFrom(buf); err != nil {
				return
			}
			got++
			select {
			case <-tokens:
			default:
			}
		}
	}()
	b.SetBytes(int64(2 * size))
	b.ResetTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i := 0; i < b.N; i++ {
		select {
		case tokens <- struct{}{}:
		case <-time.After(time.Second): // an echo was lost: free its slot
		case <-ctx.Done():
			b.Fatal("flood did not finish")
		}
		if _, err := relay.WriteTo(payload, peer); err != nil {
			b.Fatalf("send: %v", err)
		}
	}
	<-done
	b.StopTimer()
	return b.N - got
}
