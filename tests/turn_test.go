package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// TestTURN allocates relays as a Talk client does, with credentials made
// from the exported TURN secret, over every transport Nextcloud is told
// about; checks the relay port range; and checks that wrong credentials
// and relays into loopback or private networks are refused.
func TestTURN(t *testing.T) {
	s := needStack(t)
	relayRange := s.TURNRelayPorts()
	user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, "alice", time.Now().Add(time.Hour))

	for _, tr := range []harness.TURNTransport{harness.TURNOverUDP, harness.TURNOverTCP, harness.TURNOverTLS} {
		t.Run("allocate over "+string(tr), func(t *testing.T) {
			c, err := s.DialTURN(tr, user, pass)
			if err != nil {
				t.Fatalf("coturn: %v (turnserver.conf: listening-port/tls-listening-port, cert=/pkey=)", err)
			}
			defer c.Close()
			relay, err := c.Allocate()
			if err != nil {
				t.Fatalf("coturn: allocation over %s with the exported TURN secret failed: %v (turnserver.conf: use-auth-secret, static-auth-secret, realm)", tr, err)
			}
			defer relay.Close()
			addr := relay.LocalAddr().(*net.UDPAddr)
			if !relayRange.Contains(addr.Port) {
				t.Errorf("coturn: relayed port %d outside the firewall's relay range %s (turnserver.conf min-port/max-port)", addr.Port, relayRange)
			}
		})
	}

	t.Run("credentials from the signaling server", func(t *testing.T) {
		// The signaling server hands out TURN credentials ([turn] apikey,
		// secret, servers); they must work on coturn.
		get := func(key string) (*http.Response, []byte) {
			u := s.Outputs.SignalingURL + "/turn/credentials?service=turn&username=alice&key=" + url.QueryEscape(key)
			req, _ := http.NewRequestWithContext(bounded(t, 10*time.Second), http.MethodGet, u, nil)
			resp, err := s.HTTPClient().Do(req)
			if err != nil {
				t.Fatalf("nginx: GET %s/turn/credentials: %v", s.Outputs.SignalingURL, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp, body
		}
		if resp, _ := get("wrong-" + s.Secrets.JanusAPIKey); resp.StatusCode == http.StatusOK {
			t.Errorf("signaling: TURN credentials handed out for a wrong API key")
		}
		resp, body := get(s.Secrets.JanusAPIKey)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("signaling: TURN credentials answered %s (server.conf [turn] apikey)", resp.Status)
		}
		var creds struct {
			Username string   `json:"username"`
			Password string   `json:"password"`
			URIs     []string `json:"uris"`
		}
		if err := json.Unmarshal(body, &creds); err != nil {
			t.Fatalf("signaling: TURN credentials are not JSON: %v", err)
		}
		want := fmt.Sprintf("turn:%s:%d?transport=udp", s.Domain, schema.PortTURN)
		if !slices.Contains(creds.URIs, want) {
			t.Errorf("signaling: TURN URIs %v lack %s (server.conf [turn] servers)", creds.URIs, want)
		}
		c, err := s.DialTURN(harness.TURNOverUDP, creds.Username, creds.Password)
		if err != nil {
			t.Fatalf("coturn: %v", err)
		}
		defer c.Close()
		relay, err := c.Allocate()
		if err != nil {
			t.Fatalf("coturn refused the signaling server's TURN credentials: %v (server.conf [turn] secret must equal turnserver.conf static-auth-secret)", err)
		}
		relay.Close()
	})

	refusals := []struct {
		name, secret, user string
		expires            time.Time
		why                string
	}{
		{"wrong secret refused", "wrong-" + s.Outputs.TURNSecret, "mallory", time.Now().Add(time.Hour),
			"credentials made with a wrong secret (turnserver.conf: use-auth-secret)"},
		{"expired credentials refused", s.Outputs.TURNSecret, "alice", time.Now().Add(-time.Hour),
			"expired REST credentials"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			badUser, badPass := talk.TURNCredentials(r.secret, r.user, r.expires)
			c, err := s.DialTURN(harness.TURNOverUDP, badUser, badPass)
			if err != nil {
				t.Fatalf("coturn: %v", err)
			}
			defer c.Close()
			if relay, err := c.Allocate(); err == nil {
				relay.Close()
				t.Fatal("coturn: allocated a relay for " + r.why)
			}
		})
	}

	t.Run("no relay into loopback or private networks", func(t *testing.T) {
		c, err := s.DialTURN(harness.TURNOverUDP, user, pass)
		if err != nil {
			t.Fatalf("coturn: %v", err)
		}
		defer c.Close()
		relay, err := c.Allocate()
		if err != nil {
			t.Fatalf("coturn: allocation failed: %v", err)
		}
		defer relay.Close()

		// A loopback service the relay must not reach.
		target, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer target.Close()
		peers := []net.Addr{
			target.LocalAddr(),
			&net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: 9},
			&net.UDPAddr{IP: net.ParseIP("172.16.0.1"), Port: 9},
			&net.UDPAddr{IP: net.ParseIP("192.168.0.1"), Port: 9},
			&net.UDPAddr{IP: net.ParseIP("169.254.169.254"), Port: 80},
		}
		for _, ip := range deniedPeersV4 {
			peers = append(peers, &net.UDPAddr{IP: net.ParseIP(ip), Port: 9})
		}
		for _, peer := range peers {
			if err := c.CreatePermission(peer); err == nil {
				t.Errorf("coturn: permission to relay to %s granted (turnserver.conf: denied-peer-ip must cover it)", peer)
			}
		}
		// Even when the client tries to send, nothing arrives at loopback.
		_, _ = relay.WriteTo([]byte("knock"), target.LocalAddr())
		_ = target.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 64)
		if n, from, err := target.ReadFrom(buf); err == nil {
			t.Errorf("coturn: relayed %q from %s into loopback", buf[:n], from)
		}
	})

	t.Run("no relay into IPv6 loopback, private, link-local, multicast or mapped networks", func(t *testing.T) {
		// pion's client cannot ask for an IPv6 relay (REQUESTED-ADDRESS-FAMILY),
		// and a permission for an IPv6 peer on an IPv4 relay is refused for
		// the family alone: rawTURN asks for an IPv6 relay, and the control
		// below proves permissions are judged by the deny list.
		server := &net.UDPAddr{IP: net.IPv6loopback, Port: schema.PortTURN}
		c, err := dialRawTURN(server, user, pass, s.Domain)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		relay, err := c.AllocateUDP(6)
		if err != nil {
			t.Fatalf("coturn: IPv6 allocation failed: %v (the harness relays on ::1)", err)
		}
		if relay.IP.To4() != nil {
			t.Fatalf("coturn gave an IPv4 relay %s for an IPv6 request: the IPv6 checks would prove nothing", relay)
		}
		for _, ip := range deniedPeersV6 {
			peer := &net.UDPAddr{IP: net.ParseIP(ip), Port: 9}
			if err := c.CreatePermission(peer); err == nil {
				t.Errorf("coturn: permission to relay to %s granted (turnserver.conf: denied-peer-ip must cover it)", peer)
			}
		}
		control := &net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 9}
		if err := c.CreatePermission(control); err != nil {
			t.Errorf("coturn: permission to the public IPv6 peer %s refused: %v%s", control, err, deniedBy(s, "2001:db8::1"))
		}
	})

	t.Run("no TCP relay (RFC 6062)", func(t *testing.T) {
		// WebRTC relays UDP only; a TCP relay reaches TCP services (sshd on
		// the server's own address) past the firewall.
		c, err := s.DialTURN(harness.TURNOverTCP, user, pass)
		if err != nil {
			t.Fatalf("coturn: %v", err)
		}
		defer c.Close()
		if alloc, err := c.AllocateTCP(); err == nil {
			alloc.Close()
			t.Fatal("coturn: granted a TCP allocation (RFC 6062); turnserver.conf needs no-tcp-relay")
		}
	})

	t.Run("user over quota refused", func(t *testing.T) {
		limits := cloudconfig.TURNLimitsFor(s.TURNRelayPorts())
		quotaUser, quotaPass := talk.TURNCredentials(s.Outputs.TURNSecret, fmt.Sprintf("quota-%d", time.Now().UnixNano()), time.Now().Add(time.Hour))
		var held []net.PacketConn
		defer func() {
			for _, r := range held {
				r.Close()
			}
		}()
		allocate := func(u, p string) (net.PacketConn, error) {
			c, err := s.DialTURN(harness.TURNOverUDP, u, p)
			if err != nil {
				return nil, err
			}
			t.Cleanup(c.Close)
			return c.Allocate()
		}
		for i := range limits.UserQuota {
			r, err := allocate(quotaUser, quotaPass)
			if err != nil {
				t.Fatalf("coturn: allocation %d of the user quota %d refused: %v", i+1, limits.UserQuota, err)
			}
			held = append(held, r)
		}
		if r, err := allocate(quotaUser, quotaPass); err == nil {
			held = append(held, r)
			t.Errorf("coturn: allocation %d for one user granted, over user-quota=%d (turnserver.conf)", limits.UserQuota+1, limits.UserQuota)
		}
		// Control: another user still gets a relay (the refusal was the
		// user's quota, not a full server).
		otherUser, otherPass := talk.TURNCredentials(s.Outputs.TURNSecret, "quota-other", time.Now().Add(time.Hour))
		r, err := allocate(otherUser, otherPass)
		if err != nil {
			t.Fatalf("coturn: another user refused while one user is at its quota: %v", err)
		}
		held = append(held, r)
	})

	t.Run("permission to a public peer granted", func(t *testing.T) {
		// Control for the refusals above: CreatePermission is bookkeeping in
		// coturn, no packet is sent to the address.
		c, err := s.DialTURN(harness.TURNOverUDP, user, pass)
		if err != nil {
			t.Fatalf("coturn: %v", err)
		}
		defer c.Close()
		relay, err := c.Allocate()
		if err != nil {
			t.Fatalf("coturn: allocation failed: %v", err)
		}
		defer relay.Close()
		peer := &net.UDPAddr{IP: net.ParseIP("1.1.1.1"), Port: 9}
		if err := c.CreatePermission(peer); err != nil {
			t.Errorf("coturn: permission to the public peer %s refused: %v%s", peer, err, deniedBy(s, "1.1.1.1"))
		}
	})
}

// deniedPeersV4 and deniedPeersV6 are one address in each network coturn
// must not relay to, besides loopback and RFC 1918 (checked above):
// "this network", CGNAT, IETF protocol assignments, benchmarking,
// multicast, reserved; IPv6 loopback, unique local, link-local, multicast,
// IPv4-mapped, NAT64 and 6to4 forms of private IPv4 addresses.
var (
	deniedPeersV4 = []string{"0.0.0.1", "100.64.0.1", "192.0.0.1", "198.18.0.1", "224.0.0.1", "239.255.255.250", "240.0.0.1"}
	deniedPeersV6 = []string{"::1", "fd00::1", "fc00::1", "fe80::1", "ff02::1", "ff05::2",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "64:ff9b:1::a00:1", "2002:a00:1::1"}
)

// deniedBy names the turnserver.conf line that made coturn refuse ip,
// from coturn's log ("A peer IP <ip> denied in the range: <range>").
func deniedBy(s *harness.Stack, ip string) string {
	m := regexp.MustCompile(`peer IP ` + regexp.QuoteMeta(ip) + ` denied in the range: (\S+)`).FindStringSubmatch(s.Logs(cloudconfig.ServiceCoturn))
	if m == nil {
		return ""
	}
	return fmt.Sprintf(" — at fault: %s line `denied-peer-ip=%s` (coturn: %q)", cloudconfig.CoturnConfig, m[1], m[0])
}
