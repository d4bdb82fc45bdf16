package tests

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// Bounded load: what one small backend must carry at once.
const (
	loadSessions        = 200
	loadTURNAllocations = 50
)

// TestLoad holds 200 WebSocket sessions (each authenticated by the fake
// Nextcloud) and 50 TURN allocations open at the same time. It records the
// stack's cold start and the session throughput; it asserts no timing.
// Each session comes from its own loopback address (clientAddr), as 200
// clients would: nginx limits connections and requests per address.
func TestLoad(t *testing.T) {
	s := needStack(t)
	t.Logf("cold start of the stack (first daemon started -> every service ready): %v", s.ColdStart.Round(time.Millisecond))

	t.Run(fmt.Sprintf("%d concurrent sessions", loadSessions), func(t *testing.T) {
		ctx := bounded(t, 90*time.Second)
		conns := make([]*harness.SignalingConn, loadSessions)
		errs := make([]error, loadSessions)
		var wg sync.WaitGroup
		begin := time.Now()
		for i := range loadSessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := s.DialSignalingFrom(ctx, s.WebSocketURL(), clientAddr(i))
				if err != nil {
					errs[i] = err
					return
				}
				conns[i] = c
				errs[i] = c.HelloClient(ctx, s.Nextcloud.BackendURL(), map[string]any{"userid": fmt.Sprintf("user%03d", i)})
			}()
		}
		wg.Wait()
		elapsed := time.Since(begin)
		defer func() {
			for _, c := range conns {
				if c != nil {
					_ = c.Close()
				}
			}
		}()
		failed := 0
		for i, err := range errs {
			if err != nil {
				failed++
				if failed <= 5 {
					t.Errorf("session %d: %v", i, err)
				}
			}
		}
		if failed > 0 {
			t.Fatalf("%d of %d sessions failed", failed, loadSessions)
		}
		st, err := s.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Sessions < loadSessions {
			t.Errorf("signaling: stats count %d sessions while %d are open", st.Sessions, loadSessions)
		}
		t.Logf("%d sessions (WebSocket via nginx + hello + signed auth at the fake Nextcloud) open at once in %v: %.0f sessions/s",
			loadSessions, elapsed.Round(time.Millisecond), float64(loadSessions)/elapsed.Seconds())
	})

	t.Run(fmt.Sprintf("%d TURN allocations", loadTURNAllocations), func(t *testing.T) {
		// One client (one REST username) per allocation, as 50 Talk clients:
		// one user may hold only user-quota allocations.
		relayRange := s.TURNRelayPorts()
		type result struct {
			client *harness.TURNClient
			relay  net.PacketConn
			err    error
		}
		results := make([]result, loadTURNAllocations)
		var wg sync.WaitGroup
		begin := time.Now()
		for i := range loadTURNAllocations {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user, pass := talk.TURNCredentials(s.Outputs.TURNSecret, fmt.Sprintf("load-%d", i), time.Now().Add(time.Hour))
				c, err := s.DialTURN(harness.TURNOverUDP, user, pass)
				if err != nil {
					results[i].err = err
					return
				}
				results[i].client = c
				results[i].relay, results[i].err = c.Allocate()
			}()
		}
		wg.Wait()
		elapsed := time.Since(begin)
		ports := map[int]bool{}
		failed := 0
		for i, r := range results {
			if r.err != nil {
				failed++
				if failed <= 5 {
					t.Errorf("allocation %d: %v", i, r.err)
				}
				continue
			}
			port := r.relay.LocalAddr().(*net.UDPAddr).Port
			if !relayRange.Contains(port) {
				t.Errorf("allocation %d: relay port %d outside %s", i, port, relayRange)
			}
			ports[port] = true
		}
		for _, r := range results {
			if r.relay != nil {
				r.relay.Close()
			}
			if r.client != nil {
				r.client.Close()
			}
		}
		if failed > 0 {
			t.Fatalf("coturn: %d of %d concurrent allocations failed; the relay range %s has %d ports (turnRelayPorts)", failed, loadTURNAllocations, relayRange, relayRange.Size())
		}
		t.Logf("%d concurrent TURN allocations on %d distinct relay ports in %v", loadTURNAllocations, len(ports), elapsed.Round(time.Millisecond))
	})
}

// clientAddr is the loopback address of the i-th client of a load test
// (127.1.0.0/16): nginx's per-address limits (cloudconfig.ConnectionsPerAddress,
// RequestsPerSecond) must not turn many clients into one.
func clientAddr(i int) net.IP { return net.IPv4(127, 1, byte(i/250), byte(i%250+1)) }

// BenchmarkSessionHello measures one Talk client session: WebSocket through
// nginx over TLS, hello, signed auth at the fake Nextcloud, close. Each
// session from another address (clientAddr), as the rate limit is per address.
func BenchmarkSessionHello(b *testing.B) {
	needStack(b)
	s := stack
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c, err := s.DialSignalingFrom(ctx, s.WebSocketURL(), clientAddr(i))
		if err != nil {
			b.Fatal(err)
		}
		if err := c.HelloClient(ctx, s.Nextcloud.BackendURL(), map[string]any{"userid": fmt.Sprintf("bench%d", i)}); err != nil {
			b.Fatal(err)
		}
		_ = c.Close()
	}
}
