package tests

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// Loopback addresses of the attacking clients (the victims are
// clientIPSignaling and clientIPTURN).
var (
	attackerIP443  = net.ParseIP("127.0.0.5")
	attackerIPTURN = net.ParseIP("127.0.0.11")
)

// helloRecorder is a net.Conn that records what a TLS client writes and
// never answers: the ClientHello.
type helloRecorder struct {
	net.Conn
	buf    bytes.Buffer
	closed chan struct{}
}

func (h *helloRecorder) Write(p []byte) (int, error) { return h.buf.Write(p) }
func (h *helloRecorder) Read([]byte) (int, error)    { <-h.closed; return 0, io.EOF }
func (h *helloRecorder) Close() error                { return nil }
func (h *helloRecorder) SetDeadline(time.Time) error { return nil }
func (h *helloRecorder) SetReadDeadline(time.Time) error {
	return nil
}
func (h *helloRecorder) SetWriteDeadline(time.Time) error { return nil }

// clientHello returns the bytes of a TLS ClientHello for name.
func clientHello(t *testing.T, name string) []byte {
	t.Helper()
	h := &helloRecorder{closed: make(chan struct{})}
	c := tls.Client(h, &tls.Config{ServerName: name, MinVersion: tls.VersionTLS12})
	go func() { time.Sleep(200 * time.Millisecond); close(h.closed) }()
	_ = c.Handshake()
	if h.buf.Len() == 0 {
		t.Fatal("no ClientHello recorded")
	}
	return h.buf.Bytes()
}

// TestOneAddressCannotExhaust443: one address opens thousands of
// connections to 443 and starts a TLS handshake on each (a ClientHello for
// the domain, never finished), which costs nginx three connections each
// (the front, its hop to the HTTPS server, the HTTPS server's). Before the
// per-address limit the workers' 4096 connections each ran out and a
// second address's signaling hello and TURN-over-443 allocation failed.
// Now the front keeps at most cloudconfig.ConnectionsPerAddress of them.
func TestOneAddressCannotExhaust443(t *testing.T) {
	s := needStack(t)
	// 3000 × 3 nginx connections exceed two workers' 2 × 4096 (a 2-core
	// machine, as CI's; nginx runs one worker per core).
	const attackers = 3000
	hello := clientHello(t, s.Domain)
	conns := make([]net.Conn, attackers)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var mu sync.Mutex
	dialErrs := 0
	for i := range attackers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: attackerIP443}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", schema.PortHTTPS))
			if err != nil {
				mu.Lock()
				dialErrs++
				mu.Unlock()
				return
			}
			_, _ = c.Write(hello)
			conns[i] = c
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	time.Sleep(time.Second)

	ctx := bounded(t, 20*time.Second)
	ws, err := s.DialSignalingFrom(ctx, s.WebSocketURL(), clientIPSignaling)
	if err != nil {
		t.Errorf("another address's WebSocket failed while %s holds %d connections to 443: %v", attackerIP443, attackers, err)
	} else {
		if err := ws.HelloInternal(ctx, s.Secrets.InternalClientSecret, s.Nextcloud.URL); err != nil {
			t.Errorf("another address's signaling hello failed while %s holds %d connections to 443: %v", attackerIP443, attackers, err)
		}
		ws.Close()
	}
	user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, "victim443", time.Now().Add(time.Hour))
	if c, err := s.DialTURNOn443(clientIPTURN, user, pass); err != nil {
		t.Errorf("another address's TURN over 443 failed while %s holds %d connections: %v", attackerIP443, attackers, err)
	} else {
		if relay, err := c.Allocate(); err != nil {
			t.Errorf("another address's TURN-over-443 allocation failed while %s holds %d connections: %v", attackerIP443, attackers, err)
		} else {
			relay.Close()
		}
		c.Close()
	}

	// How many of the attacker's connections nginx kept: a closed one
	// reads EOF (or a reset), a kept one the server's handshake or nothing.
	var held int
	var hmu sync.Mutex
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err == nil || errors.As(err, &ne) && ne.Timeout() {
				hmu.Lock()
				held++
				hmu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Logf("%s: %d connections opened (%d refused), %d kept by nginx", attackerIP443, attackers-dialErrs, dialErrs, held)
	if held > cloudconfig.ConnectionsPerAddress {
		t.Errorf("nginx keeps %d connections of one address, over ConnectionsPerAddress %d (nginx.conf: limit_conn in the 443 front)", held, cloudconfig.ConnectionsPerAddress)
	}
}

// TestTURNOn443PerAddress: one address with a fresh credential per
// allocation (Talk mints one per settings request) holds at most
// TURNLimits.AddressQuota TURN connections through the 443 front (nginx's
// hop to coturn counts them by the PROXY header's address; coturn sees all
// 443 clients as one address), and another address still allocates.
// Before the hop's limit every allocation went through.
func TestTURNOn443PerAddress(t *testing.T) {
	s := needStack(t)
	limits := cloudconfig.TURNLimitsFor(s.TURNRelayPorts())
	got := 0
	for i := range limits.AddressQuota + 3 {
		user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, fmt.Sprintf("mint-%d-%d", os.Getpid(), i), time.Now().Add(time.Hour))
		c, err := s.DialTURNOn443(attackerIPTURN, user, pass)
		if err != nil {
			continue
		}
		t.Cleanup(c.Close)
		relay, err := c.Allocate()
		if err != nil {
			continue
		}
		t.Cleanup(func() { relay.Close() })
		got++
	}
	t.Logf("%s: %d TURN-over-443 allocations of %d tries", attackerIPTURN, got, limits.AddressQuota+3)
	if got > limits.AddressQuota {
		t.Errorf("one address holds %d TURN allocations over 443, over its share %d (nginx.conf: limit_conn turn in the TURN hop)", got, limits.AddressQuota)
	}
	user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, "other443", time.Now().Add(time.Hour))
	c, err := s.DialTURNOn443(clientIPTURN, user, pass)
	if err != nil {
		t.Fatalf("another address cannot reach TURN over 443: %v", err)
	}
	defer c.Close()
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("another address's TURN-over-443 allocation refused: %v", err)
	}
	relay.Close()
}
