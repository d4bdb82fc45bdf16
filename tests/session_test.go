package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// TestClientSession says hello over the WebSocket through nginx as a Talk
// client (the signaling server asks the fake Nextcloud) and as an internal
// client, and checks that the server is connected to Janus and NATS.
func TestClientSession(t *testing.T) {
	s := needStack(t)

	t.Run("nextcloud user", func(t *testing.T) {
		ctx := bounded(t, 15*time.Second)
		before := s.Nextcloud.AuthOK.Load()
		c := dialSpreed(ctx, t, s)
		if err := c.HelloClient(ctx, s.Nextcloud.BackendURL(), map[string]any{"userid": "alice", "ticket": "ticket-1"}); err != nil {
			t.Fatalf("signaling: client hello via %s: %v (server.conf: the [backend] section's url must be %s, and the server must trust its TLS)", s.WebSocketURL(), err, s.Nextcloud.URL)
		}
		if c.Hello.UserID != "alice" {
			t.Errorf("signaling: session user %q, want alice (the fake Nextcloud's auth answer)", c.Hello.UserID)
		}
		if got := s.Nextcloud.AuthOK.Load() - before; got != 1 {
			t.Errorf("fake Nextcloud: %d signed auth requests for one hello, want 1", got)
		}
		// Join a conversation: the server asks Nextcloud (signed) whether alice may.
		roomsBefore := s.Nextcloud.RoomOK.Load()
		if err := c.Send(ctx, map[string]any{"id": "join-1", "type": "room", "room": map[string]any{"roomid": "conversation-1", "sessionid": "nc-session-alice"}}); err != nil {
			t.Fatal(err)
		}
		m, err := c.ReadType(ctx, "room")
		if err != nil {
			t.Fatalf("signaling: joining a conversation failed: %v", err)
		}
		var joined struct {
			Room struct {
				RoomID string `json:"roomid"`
			} `json:"room"`
		}
		if err := json.Unmarshal(m.Raw, &joined); err != nil || joined.Room.RoomID != "conversation-1" {
			t.Errorf("signaling: room answer %s, want roomid conversation-1", m.Raw)
		}
		if got := s.Nextcloud.RoomOK.Load() - roomsBefore; got != 1 {
			t.Errorf("fake Nextcloud: %d signed room requests for one join, want 1", got)
		}
	})

	t.Run("unknown nextcloud refused", func(t *testing.T) {
		ctx := bounded(t, 15*time.Second)
		c := dialSpreed(ctx, t, s)
		err := c.HelloClient(ctx, "https://other.nctalk.test/ocs/v2.php/apps/spreed/api/v3/signaling/backend", map[string]any{"userid": "mallory"})
		var se *harness.SignalingError
		if !errors.As(err, &se) || se.Code != "invalid_backend" {
			t.Fatalf("signaling: hello for a Nextcloud not in nextcloudUrls answered %v, want error invalid_backend ([backend] allowall must be false)", err)
		}
	})

	t.Run("internal client", func(t *testing.T) {
		ctx := bounded(t, 15*time.Second)
		c := dialSpreed(ctx, t, s)
		if err := c.HelloInternal(ctx, s.Secrets.InternalClientSecret, s.Nextcloud.URL); err != nil {
			t.Fatalf("signaling: internal hello: %v (server.conf: [clients] internalsecret must be the internalClientSecret)", err)
		}
		bad := dialSpreed(ctx, t, s)
		if err := bad.HelloInternal(ctx, "wrong-"+s.Secrets.InternalClientSecret, s.Nextcloud.URL); err == nil {
			t.Fatal("signaling: internal hello with a wrong secret was accepted")
		}
	})

	t.Run("janus and nats connected", func(t *testing.T) {
		ctx := bounded(t, 15*time.Second)
		checkBackendsConnected(ctx, t, s)
		// A message from one session to another travels over NATS.
		a, b := dialSpreed(ctx, t, s), dialSpreed(ctx, t, s)
		for _, c := range []*harness.SignalingConn{a, b} {
			if err := c.HelloInternal(ctx, s.Secrets.InternalClientSecret, s.Nextcloud.URL); err != nil {
				t.Fatalf("signaling: internal hello: %v", err)
			}
		}
		if err := exchangeMessage(ctx, a, b); err != nil {
			t.Fatalf("signaling: session to session message (via NATS) failed: %v", err)
		}
	})
}

func dialSpreed(ctx context.Context, t *testing.T, s *harness.Stack) *harness.SignalingConn {
	t.Helper()
	c, err := s.DialSignaling(ctx, s.WebSocketURL())
	if err != nil {
		t.Fatalf("nginx: %v (nginx.conf: location %s/spreed must proxy the WebSocket upgrade)", err, talk.SignalingPath)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// checkBackendsConnected asks the signaling server (stats on loopback)
// whether Janus is connected and looks for its TCP connections to Janus and
// NATS in /proc.
func checkBackendsConnected(ctx context.Context, t *testing.T, s *harness.Stack) {
	t.Helper()
	var last error
	for ctx.Err() == nil {
		if last = backendsConnected(ctx, s); last == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("signaling: %v", last)
}

func backendsConnected(ctx context.Context, s *harness.Stack) error {
	st, err := s.Stats(ctx)
	if err != nil {
		return err
	}
	if st.MCU == nil || !st.MCU.Connected {
		return fmt.Errorf("stats report Janus not connected: %+v (server.conf [mcu] url must reach Janus' websockets on 127.0.0.1:%d)", st.MCU, schema.PortJanusWS)
	}
	socks, err := s.ServiceSockets(cloudconfig.ServiceSignaling)
	if err != nil {
		return err
	}
	want := map[string]netip.AddrPort{
		"NATS":  netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), schema.PortNATS),
		"Janus": netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), schema.PortJanusWS),
	}
	for name, addr := range want {
		found := false
		for _, so := range socks {
			if so.State == harness.TCPEstablished && so.Remote == addr {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("no established connection to %s at %s (server.conf [nats]/[mcu] url)", name, addr)
		}
	}
	return nil
}

// exchangeMessage sends a message from a to b's session and waits for it.
func exchangeMessage(ctx context.Context, a, b *harness.SignalingConn) error {
	payload := fmt.Sprintf("ping-%d", time.Now().UnixNano())
	err := a.Send(ctx, map[string]any{
		"type": "message",
		"message": map[string]any{
			"recipient": map[string]any{"type": "session", "sessionid": b.Hello.SessionID},
			"data":      map[string]any{"type": "test", "payload": payload},
		},
	})
	if err != nil {
		return err
	}
	for {
		m, err := b.ReadType(ctx, "message")
		if err != nil {
			return err
		}
		var got struct {
			Message struct {
				Data struct {
					Payload string `json:"payload"`
				} `json:"data"`
			} `json:"message"`
		}
		if json.Unmarshal(m.Raw, &got) == nil && got.Message.Data.Payload == payload {
			return nil
		}
	}
}
