package tests

import (
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// TestTURNOverDTLS completes a DTLS handshake with coturn on the TURNS
// port over UDP (the port table opens 5349/udp for it) with the domain's
// certificate checked against the test CA. coturn 4.17+ starts no DTLS
// listener unless its config says `dtls`.
func TestTURNOverDTLS(t *testing.T) {
	s := needStack(t)
	addr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: schema.PortTURNS}
	conn, err := dtls.DialWithOptions("udp", addr, dtls.WithRootCAs(s.CA.Pool()), dtls.WithServerName(s.Domain))
	if err != nil {
		t.Fatalf("dtls to udp/%d: %v (config %s)", schema.PortTURNS, err, cloudconfig.CoturnConfig)
	}
	defer conn.Close()
	ctx := bounded(t, 5*time.Second)
	if err := conn.HandshakeContext(ctx); err != nil {
		t.Fatalf("DTLS handshake with coturn on udp/%d: %v (config %s)", schema.PortTURNS, err, cloudconfig.CoturnConfig)
	}
	state, ok := conn.ConnectionState()
	if !ok || len(state.PeerCertificates) == 0 {
		t.Fatal("DTLS handshake done without a peer certificate")
	}
}
