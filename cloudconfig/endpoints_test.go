package cloudconfig

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/talk"
)

func TestSettingsEndpoints(t *testing.T) {
	tests := []struct {
		name string
		s    Settings
		want talk.Endpoints
	}{
		{"TURN on 443 by the default name", Settings{Domain: "talk.example.com", TURNOn443: true}, talk.Endpoints{Domain: "talk.example.com", TURNName: "turn.talk.example.com"}},
		{"TURN on 443 by turnDomain", Settings{Domain: "talk.example.com", TURNDomain: "relay.example.net", TURNOn443: true}, talk.Endpoints{Domain: "talk.example.com", TURNName: "relay.example.net"}},
		{"TURN on 443 off", Settings{Domain: "talk.example.com", TURNDomain: "relay.example.net"}, talk.Endpoints{Domain: "talk.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Endpoints(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Endpoints() = %+v; want %+v", got, tt.want)
			}
		})
	}
}

// TestMediaServersAddTURN: a scale-out hands Nextcloud every media
// server's coturn beside the signaling server's; signaling's [turn] keeps
// its own box's (talk.Endpoints.TURNURIs says why).
func TestMediaServersAddTURN(t *testing.T) {
	p := allCases(t)["scale-out-signaling"]
	want := []talk.TURNServer{
		{Schemes: "turn", Server: "talk.example.com:3478", Protocols: "udp,tcp"},
		{Schemes: "turns", Server: "talk.example.com:5349", Protocols: "tcp"},
		{Schemes: "turns", Server: "turn.talk.example.com:443", Protocols: "tcp"},
		{Schemes: "turn", Server: "media-1.talk.example.com:3478", Protocols: "udp,tcp"},
		{Schemes: "turns", Server: "media-1.talk.example.com:5349", Protocols: "tcp"},
		{Schemes: "turn", Server: "media-2.talk.example.com:3478", Protocols: "udp,tcp"},
		{Schemes: "turns", Server: "media-2.talk.example.com:5349", Protocols: "tcp"},
	}
	if got := p.Endpoints.TURNServers(); !reflect.DeepEqual(got, want) {
		t.Errorf("TURN entries %+v\nwant %+v", got, want)
	}
	if got := p.Endpoints.STUNServers(); !reflect.DeepEqual(got, []string{"talk.example.com:3478", "media-1.talk.example.com:3478", "media-2.talk.example.com:3478"}) {
		t.Errorf("STUN entries %v", got)
	}
	conf := string(mustPlanFiles(t, p)[SignalingConfig].Content)
	if !strings.Contains(conf, "\nservers = turn:talk.example.com:3478?transport=udp,turn:talk.example.com:3478?transport=tcp,turns:turn.talk.example.com:443?transport=tcp\n") {
		t.Errorf("signaling's [turn] servers are not its own box's only:\n%s", conf)
	}
}
