package tests

import (
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// TestNoTURNOverDTLS: no Talk client uses TURN over DTLS (Nextcloud offers
// turns: over TCP only, and browsers have no DTLS TURN transport), so
// coturn starts no DTLS listener (`no-dtls`) and the port table does not
// open 5349/udp. A DTLS handshake with coturn on 5349/udp gets no answer.
// With `dtls` in turnserver.conf (before) the handshake completed.
func TestNoTURNOverDTLS(t *testing.T) {
	s := needStack(t)
	for _, r := range cloudconfig.FirewallRules(s.Settings) {
		if r.Protocol == cloudconfig.UDP && r.Ports.Contains(schema.PortTURNS) {
			t.Errorf("the port table opens udp/%d (rule %s) though nothing serves TURN over DTLS", schema.PortTURNS, r.Name)
		}
	}
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: schema.PortTURNS}
	conn, err := dtls.DialWithOptions("udp", addr, dtls.WithRootCAs(s.CA.Pool()), dtls.WithServerName(s.Domain))
	if err != nil {
		t.Fatalf("dtls client: %v", err)
	}
	defer conn.Close()
	ctx := bounded(t, 3*time.Second)
	if err := conn.HandshakeContext(ctx); err == nil {
		t.Fatalf("coturn completed a DTLS handshake on udp/%d: %s must say no-dtls", schema.PortTURNS, cloudconfig.CoturnConfig)
	}
}
