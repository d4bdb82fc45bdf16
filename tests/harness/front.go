package harness

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/nctalk/nctalk/schema"
	"github.com/pion/turn/v4"
)

// DialTURNOn443 connects a TURN client over TLS to port 443, with the TURN
// name (turnOn443) as SNI, so nginx's stream front routes it to coturn.
// local is the client's source address (nil: the kernel's choice).
func (s *Stack) DialTURNOn443(local net.IP, username, password string) (*TURNClient, error) {
	if !s.Settings.TURNOn443 {
		return nil, fmt.Errorf("the stack renders turnOn443 = false")
	}
	name := s.Settings.TURNName()
	server := loopback(schema.PortHTTPS)
	d := &net.Dialer{Timeout: 5 * time.Second}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	c, err := tls.DialWithDialer(d, "tcp", server, &tls.Config{RootCAs: s.CA.Pool(), ServerName: name, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("TLS to %s as %s (nginx stream front): %w", server, name, err)
	}
	return newTURNClient(turn.NewSTUNConn(c), server, username, password, s.Domain)
}

// DialSignalingFrom opens a WebSocket to url like DialSignaling, from the
// source address local (a loopback address other than 127.0.0.1 tells the
// client apart from nginx, which connects to the signaling server from
// 127.0.0.1).
func (s *Stack) DialSignalingFrom(ctx context.Context, url string, local net.IP) (*SignalingConn, error) {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if host != s.Domain {
			return nil, fmt.Errorf("DialSignalingFrom dials %s only, not %q", s.Domain, host)
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}}
		return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	hc := &http.Client{Transport: &http.Transport{
		DialContext:     dial,
		TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool(), MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
	}}
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		status := ""
		if resp != nil {
			status = " (" + resp.Status + ")"
		}
		return nil, fmt.Errorf("websocket %s from %s%s: %w", url, local, status, err)
	}
	c.SetReadLimit(1 << 20)
	return &SignalingConn{c: c}, nil
}
