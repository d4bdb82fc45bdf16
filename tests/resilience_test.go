package tests

import (
	"context"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/harness"
)

// TestResilience kills Janus and restarts the signaling server, as a crash
// or an image update would, and checks that the rest recovers on its own.
func TestResilience(t *testing.T) {
	s := needStack(t)

	t.Run("janus killed and started again", func(t *testing.T) {
		ctx := bounded(t, 60*time.Second)
		if err := s.KillService(cloudconfig.ServiceJanus); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ensureRunning(t, s, cloudconfig.ServiceJanus) })
		waitFor(ctx, t, "signaling notices that Janus is gone", func() error {
			st, err := s.Stats(ctx)
			if err != nil {
				return err
			}
			if st.MCU != nil && st.MCU.Connected {
				return errStill("mcu still reported connected")
			}
			return nil
		})
		if err := s.StartService(cloudconfig.ServiceJanus); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitServiceReady(ctx, cloudconfig.ServiceJanus); err != nil {
			t.Fatal(err)
		}
		waitFor(ctx, t, "signaling reconnects to Janus", func() error { return backendsConnected(ctx, s) })
		c := dialSpreed(ctx, t, s)
		if err := c.HelloClient(ctx, s.Nextcloud.BackendURL(), map[string]any{"userid": "bob"}); err != nil {
			t.Fatalf("signaling: a new session after the Janus restart failed: %v", err)
		}
	})

	t.Run("signaling restarted, nothing else", func(t *testing.T) {
		ctx := bounded(t, 60*time.Second)
		others := map[string]int{}
		for _, name := range stackServices(s) {
			if name != cloudconfig.ServiceSignaling {
				others[name] = s.PID(name)
			}
		}
		if err := s.StopService(cloudconfig.ServiceSignaling); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ensureRunning(t, s, cloudconfig.ServiceSignaling) })
		if err := s.StartService(cloudconfig.ServiceSignaling); err != nil {
			t.Fatal(err)
		}
		if err := s.WaitReady(ctx); err != nil {
			t.Fatalf("after restarting only the signaling server: %v", err)
		}
		waitFor(ctx, t, "signaling connects to Janus and NATS", func() error { return backendsConnected(ctx, s) })
		c := dialSpreed(ctx, t, s)
		if err := c.HelloClient(ctx, s.Nextcloud.BackendURL(), map[string]any{"userid": "carol"}); err != nil {
			t.Fatalf("signaling: a new session through the running nginx failed: %v", err)
		}
		for name, pid := range others {
			if now := s.PID(name); now != pid {
				t.Errorf("%s was restarted (pid %d -> %d); only the signaling server should have been", name, pid, now)
			}
		}
	})
}

type errStill string

func (e errStill) Error() string { return string(e) }

// waitFor polls check every 100ms until it succeeds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, check func() error) {
	t.Helper()
	var last error
	for {
		if last = check(); last == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within the time limit: %v", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ensureRunning restarts a service a failed test left stopped, so the
// tests after it find the whole stack.
func ensureRunning(t *testing.T, s *harness.Stack, name string) {
	if s.PID(name) != 0 {
		return
	}
	if err := s.StartService(name); err != nil {
		t.Errorf("restoring %s: %v", name, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Errorf("restoring %s: %v", name, err)
	}
}
