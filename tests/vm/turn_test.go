package vm

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nctalk/nctalk/talk"
	"github.com/pion/logging"
	"github.com/pion/turn/v4"
)

// turnSession is a TURN allocation over TCP (hostfwd to the guest's 3478):
// if coturn restarts, the connection and the allocation are gone.
type turnSession struct {
	client *turn.Client
	relay  net.PacketConn
	conn   net.Conn
}

func openTURN(t *testing.T, port int, secret string) *turnSession {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		t.Fatalf("TURN over TCP: %v", err)
	}
	return allocateOver(t, c, secret, "vmtest")
}

// allocateOver allocates a relay over an open stream connection to coturn
// (TCP or TLS) with REST credentials for user made from the TURN secret.
// The relay, the client and the connection close when the test ends.
func allocateOver(t *testing.T, c net.Conn, secret, user string) *turnSession {
	t.Helper()
	server := c.RemoteAddr().String()
	client, err := newTURNClient(c, secret, user)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); c.Close() })
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("TURN allocation over %s: %v", server, err)
	}
	t.Cleanup(func() { relay.Close() })
	return &turnSession{client: client, relay: relay, conn: c}
}

// alive asks coturn for a permission on the existing allocation: it fails
// when the allocation (or the TCP connection carrying it) is gone.
func (s *turnSession) alive(peer string) error {
	addr, err := net.ResolveUDPAddr("udp", peer)
	if err != nil {
		return err
	}
	if _, err := s.relay.WriteTo([]byte("nctalk-vm"), addr); err != nil {
		return fmt.Errorf("send through the relay %s: %w", s.relay.LocalAddr(), err)
	}
	return nil
}

// allocateOn443 allocates a relay over TLS through the guest's 443 (the
// forwarded port) with the TURN name as SNI, as a browser given only the
// `turns:<turn name>:443` entry does: nginx's stream front must route the
// name to coturn. The certificate must chain to caPEM and name the TURN
// name. It returns the relayed address.
func allocateOn443(t *testing.T, port443 int, caPEM []byte, turnName, secret string) net.Addr {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("the ACME CA's root is not PEM")
	}
	raw, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port443), 10*time.Second)
	if err != nil {
		t.Fatalf("TCP to 443: %v", err)
	}
	c := tls.Client(raw, &tls.Config{RootCAs: roots, ServerName: turnName, MinVersion: tls.VersionTLS12})
	if err := c.Handshake(); err != nil {
		raw.Close()
		t.Fatalf("TLS on 443 with SNI %s: %v", turnName, err)
	}
	return allocateOver(t, c, secret, "vmtest443").relay.LocalAddr()
}

// newTURNClient is a TURN client over an open stream connection to coturn,
// with REST credentials for user made from the TURN secret.
func newTURNClient(c net.Conn, secret, user string) (*turn.Client, error) {
	name, pass := talk.TURNCredentials(secret, user, time.Now().Add(time.Hour))
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	server := c.RemoteAddr().String()
	return turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server, TURNServerAddr: server, Conn: turn.NewSTUNConn(c),
		Username: name, Password: pass, Realm: testDomain, RTO: time.Second, LoggerFactory: lf,
	})
}
