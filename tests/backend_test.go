package tests

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nctalk/nctalk/tests/harness"
)

// TestRoomRequestSecret posts a signed room update as Nextcloud does: the
// stack's signaling secret is accepted, any other is refused.
func TestRoomRequestSecret(t *testing.T) {
	s := needStack(t)
	body := []byte(`{"type":"update","update":{"userids":[]}}`)
	url := s.Outputs.SignalingURL + "/api/v1/room/test-room-1"
	cases := []struct {
		name   string
		secret string
		want   int
	}{
		{"signaling secret from the stack outputs", s.Outputs.SignalingSecret, http.StatusOK},
		{"wrong secret", "wrong-" + s.Outputs.SignalingSecret, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(bounded(t, 10*time.Second), http.MethodPost, url, bytes.NewReader(body))
			harness.SignRequest(req, c.secret, body, s.Nextcloud.URL)
			resp, err := s.HTTPClient().Do(req)
			if err != nil {
				t.Fatalf("nginx: POST %s: %v", url, err)
			}
			defer resp.Body.Close()
			answer, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.want {
				t.Fatalf("signaling: POST %s signed with the %s answered %s (%s), want %d (server.conf: [backend] backends and the backend section's url/secret must match the Nextcloud URL and signalingSecret)",
					url, c.name, resp.Status, answer, c.want)
			}
		})
	}
}
