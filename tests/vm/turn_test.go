package vm

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
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
	user, pass := cloudconfig.TURNCredentials(secret, "vmtest", time.Now().Add(time.Hour))
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	server := c.RemoteAddr().String()
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server, TURNServerAddr: server, Conn: turn.NewSTUNConn(c),
		Username: user, Password: pass, Realm: testDomain, RTO: time.Second, LoggerFactory: lf,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := client.Allocate()
	if err != nil {
		client.Close()
		t.Fatalf("TURN allocation: %v", err)
	}
	s := &turnSession{client: client, relay: relay, conn: c}
	t.Cleanup(func() { relay.Close(); client.Close(); c.Close() })
	return s
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
