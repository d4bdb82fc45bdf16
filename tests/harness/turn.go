package harness

import (
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/nctalk/nctalk/schema"
	"github.com/pion/logging"
	"github.com/pion/turn/v4"
)

// TURNTransport is how a TURN client reaches coturn.
type TURNTransport string

// The transports Talk clients use: turn:…?transport=udp|tcp and turns:….
const (
	TURNOverUDP TURNTransport = "udp"
	TURNOverTCP TURNTransport = "tcp"
	TURNOverTLS TURNTransport = "tls"
)

// TURNClient is a pion/turn client connected to the stack's coturn.
type TURNClient struct {
	*turn.Client
	conn net.PacketConn
}

// Close closes the client and its connection.
func (c *TURNClient) Close() {
	c.Client.Close()
	_ = c.conn.Close()
}

// DialTURN connects a TURN client to coturn over the transport with the
// credentials (TLS is verified against the test CA for the domain).
func (s *Stack) DialTURN(transport TURNTransport, username, password string) (*TURNClient, error) {
	var (
		conn   net.PacketConn
		server string
	)
	switch transport {
	case TURNOverUDP:
		server = loopback(schema.PortTURN)
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		conn = c
	case TURNOverTCP:
		server = loopback(schema.PortTURN)
		c, err := net.DialTimeout("tcp", server, 5*time.Second)
		if err != nil {
			return nil, fmt.Errorf("coturn tcp/%d: %w", schema.PortTURN, err)
		}
		conn = turn.NewSTUNConn(c)
	case TURNOverTLS:
		server = loopback(schema.PortTURNS)
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", server, s.TLSConfig())
		if err != nil {
			return nil, fmt.Errorf("coturn tls/%d: %w", schema.PortTURNS, err)
		}
		conn = turn.NewSTUNConn(c)
	default:
		return nil, fmt.Errorf("unknown TURN transport %q", transport)
	}
	return newTURNClient(conn, server, username, password, s.Domain)
}

// newTURNClient starts a pion/turn client on conn; server is host:port as
// the client reports it.
func newTURNClient(conn net.PacketConn, server, username, password, realm string) (*TURNClient, error) {
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server,
		TURNServerAddr: server,
		Conn:           conn,
		Username:       username,
		Password:       password,
		Realm:          realm,
		RTO:            200 * time.Millisecond,
		LoggerFactory:  lf,
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("turn client: %w", err)
	}
	if err := client.Listen(); err != nil {
		client.Close()
		conn.Close()
		return nil, fmt.Errorf("turn client: %w", err)
	}
	return &TURNClient{Client: client, conn: conn}, nil
}
