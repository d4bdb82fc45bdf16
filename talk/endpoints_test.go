package talk

import (
	"slices"
	"testing"
)

// The expected values are written out by hand: they are what Nextcloud's
// occ, the signaling server's [turn] servers and coturn's listeners take.
func TestEndpoints(t *testing.T) {
	tests := []struct {
		name      string
		e         Endpoints
		signaling string
		stun      []string
		turn      []TURNServer
		uris      []string
	}{
		{
			name:      "TURN on 443 off",
			e:         Endpoints{Domain: "talk.example.com"},
			signaling: "https://talk.example.com/standalone-signaling",
			stun:      []string{"talk.example.com:3478"},
			turn: []TURNServer{
				{Schemes: "turn", Server: "talk.example.com:3478", Protocols: "udp,tcp"},
				{Schemes: "turns", Server: "talk.example.com:5349", Protocols: "tcp"},
			},
			uris: []string{
				"turn:talk.example.com:3478?transport=udp",
				"turn:talk.example.com:3478?transport=tcp",
			},
		},
		{
			name:      "TURN on 443 by its own name",
			e:         Endpoints{Domain: "talk.example.com", TURNName: "turn.example.net"},
			signaling: "https://talk.example.com/standalone-signaling",
			stun:      []string{"talk.example.com:3478"},
			turn: []TURNServer{
				{Schemes: "turn", Server: "talk.example.com:3478", Protocols: "udp,tcp"},
				{Schemes: "turns", Server: "talk.example.com:5349", Protocols: "tcp"},
				{Schemes: "turns", Server: "turn.example.net:443", Protocols: "tcp"},
			},
			uris: []string{
				"turn:talk.example.com:3478?transport=udp",
				"turn:talk.example.com:3478?transport=tcp",
				"turns:turn.example.net:443?transport=tcp",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.SignalingURL(); got != tt.signaling {
				t.Errorf("SignalingURL() = %q; want %q", got, tt.signaling)
			}
			if got := tt.e.STUNServers(); !slices.Equal(got, tt.stun) {
				t.Errorf("STUNServers() = %q; want %q", got, tt.stun)
			}
			if got := tt.e.TURNServers(); !slices.Equal(got, tt.turn) {
				t.Errorf("TURNServers() = %v; want %v", got, tt.turn)
			}
			if got := tt.e.TURNURIs(); !slices.Equal(got, tt.uris) {
				t.Errorf("TURNURIs() = %q; want %q", got, tt.uris)
			}
		})
	}
}
