package cloudconfig

import (
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
			if got := tt.s.Endpoints(); got != tt.want {
				t.Errorf("Endpoints() = %+v; want %+v", got, tt.want)
			}
		})
	}
}
