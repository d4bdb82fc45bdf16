package occwire

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/talk"
)

const (
	testDomain = "talk.example.com"
	sigSecret  = "sig/Secret+1"
	turnSecret = "turn/Secret+2"
)

var (
	// ours are the endpoints of the backend under test, TURN on 443 off.
	ours    = talk.Endpoints{Domain: testDomain}
	sigURL  = ours.SignalingURL()
	turnA   = ours.TURNServers()[0]
	turnB   = ours.TURNServers()[1]
	ourSTUN = ours.STUNServers()[0]
)

func testDesired(t *testing.T) Desired {
	t.Helper()
	d, err := DesiredFrom(outputs.Outputs{
		Domain:          testDomain,
		SignalingURL:    sigURL,
		SignalingSecret: sigSecret,
		TURNSecret:      turnSecret,
		TURNServers:     ours.TURNServers(),
		STUNServers:     ours.STUNServers(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// configured is a Nextcloud already wired to the test backend.
func configured() Current {
	return Current{
		Signaling:       []SignalingServer{{Server: sigURL, Verify: true}},
		SignalingSecret: sigSecret,
		TURN: []TURNEntry{
			{TURNServer: turnA, Secret: turnSecret},
			{TURNServer: turnB, Secret: turnSecret},
		},
		STUN: []string{ourSTUN},
	}
}

func args(a ...string) []string { return a }

var (
	addSig     = args("talk:signaling:add", sigURL, sigSecret, "--verify")
	delSig     = args("talk:signaling:delete", sigURL)
	addTURNA   = args("talk:turn:add", "turn", testDomain+":3478", "udp,tcp", "--secret="+turnSecret)
	addTURNB   = args("talk:turn:add", "turns", testDomain+":5349", "tcp", "--secret="+turnSecret)
	delTURNA   = args("talk:turn:delete", "turn", testDomain+":3478", "udp,tcp")
	delTURNB   = args("talk:turn:delete", "turns", testDomain+":5349", "tcp")
	addSTUN    = args("talk:stun:add", testDomain+":3478")
	delDefault = args("talk:stun:delete", defaultSTUNServer)
)

func TestMakePlan(t *testing.T) {
	foreignTURN := TURNEntry{TURNServer: talk.TURNServer{Schemes: "turn", Server: "turn.other.org:3478", Protocols: "udp"}, Secret: "x"}
	tests := []struct {
		name      string
		cur       func() Current
		replace   bool
		want      [][]string
		wantNotes []string // substrings, one per note
	}{
		{
			name: "empty Nextcloud",
			cur:  func() Current { return Current{} },
			want: [][]string{addSig, addTURNA, addTURNB, addSTUN},
		},
		{
			name: "default STUN is removed only after ours is added",
			cur:  func() Current { return Current{STUN: []string{defaultSTUNServer}} },
			want: [][]string{addSig, addTURNA, addTURNB, addSTUN, delDefault},
		},
		{
			name: "already configured",
			cur:  configured,
			want: nil,
		},
		{
			name: "signaling secret changed: delete then add",
			cur:  func() Current { c := configured(); c.SignalingSecret = "old"; return c },
			want: [][]string{delSig, addSig},
		},
		{
			name: "signaling without certificate verification",
			cur:  func() Current { c := configured(); c.Signaling[0].Verify = false; return c },
			want: [][]string{delSig, addSig},
		},
		{
			name: "signaling listed twice",
			cur: func() Current {
				c := configured()
				c.Signaling = append(c.Signaling, c.Signaling[0])
				return c
			},
			want: [][]string{delSig, addSig},
		},
		{
			name: "trailing slash spelling next to the right entry",
			cur: func() Current {
				c := configured()
				c.Signaling = append(c.Signaling, SignalingServer{Server: sigURL + "/", Verify: true})
				return c
			},
			want: [][]string{args("talk:signaling:delete", sigURL+"/")},
		},
		{
			name: "only the trailing slash spelling",
			cur: func() Current {
				c := configured()
				c.Signaling = []SignalingServer{{Server: sigURL + "/", Verify: true}}
				return c
			},
			want: [][]string{args("talk:signaling:delete", sigURL+"/"), addSig},
		},
		{
			name: "TURN secret changed: each entry deleted then added",
			cur: func() Current {
				c := configured()
				c.TURN[0].Secret, c.TURN[1].Secret = "old", "old"
				return c
			},
			want: [][]string{delTURNA, addTURNA, delTURNB, addTURNB},
		},
		{
			name: "outdated entries of this backend go without --replace",
			cur: func() Current {
				c := configured()
				c.TURN = []TURNEntry{{TURNServer: talk.TURNServer{Schemes: "turns", Server: testDomain + ":5349", Protocols: "udp,tcp"}, Secret: turnSecret}}
				c.STUN = []string{testDomain + ":19302"}
				return c
			},
			want: [][]string{
				addTURNA, addTURNB, args("talk:turn:delete", "turns", testDomain+":5349", "udp,tcp"),
				addSTUN, args("talk:stun:delete", testDomain+":19302"),
			},
		},
		{
			name: "other servers stay without --replace",
			cur: func() Current {
				c := configured()
				c.Signaling = append([]SignalingServer{{Server: "https://hpb.other.org/", Verify: true}}, c.Signaling...)
				c.TURN = append(c.TURN, foreignTURN)
				c.STUN = append(c.STUN, "stun.other.org:3478")
				return c
			},
			want:      nil,
			wantNotes: []string{"https://hpb.other.org/", "turn turn.other.org:3478 udp", "stun.other.org:3478"},
		},
		{
			name: "other servers and a secret change: the note warns that the secret is global",
			cur: func() Current {
				c := configured()
				c.Signaling = append([]SignalingServer{{Server: "https://hpb.other.org/", Verify: true}}, c.Signaling...)
				c.SignalingSecret = "old"
				return c
			},
			want:      [][]string{delSig, addSig},
			wantNotes: []string{"one signaling secret for all servers"},
		},
		{
			name:    "other servers go with --replace, after ours are in",
			replace: true,
			cur: func() Current {
				c := Current{STUN: []string{"stun.other.org:3478", defaultSTUNServer}}
				c.Signaling = []SignalingServer{{Server: "https://hpb.other.org/", Verify: true}}
				c.SignalingSecret = "old"
				c.TURN = []TURNEntry{foreignTURN}
				return c
			},
			want: [][]string{
				addSig, args("talk:signaling:delete", "https://hpb.other.org/"),
				addTURNA, addTURNB, args("talk:turn:delete", "turn", "turn.other.org:3478", "udp"),
				addSTUN, args("talk:stun:delete", "stun.other.org:3478"), delDefault,
			},
		},
		{
			name:    "a TURN entry without schemes cannot be deleted by occ",
			replace: true,
			cur: func() Current {
				c := configured()
				c.TURN = append(c.TURN, TURNEntry{TURNServer: talk.TURNServer{Server: "old.example.org:3478", Protocols: "udp,tcp"}})
				return c
			},
			want:      nil,
			wantNotes: []string{"old.example.org:3478 has no schemes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := MakePlan(tt.cur(), testDesired(t), Options{Replace: tt.replace})
			var got [][]string
			for _, s := range p.Steps {
				got = append(got, s.Args)
				if strings.Contains(s.Reason, sigSecret) || strings.Contains(s.Reason, turnSecret) {
					t.Errorf("reason %q holds a secret", s.Reason)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("steps:\n got %q\nwant %q", got, tt.want)
			}
			if len(p.Notes) != len(tt.wantNotes) {
				t.Fatalf("notes %q, want %d note(s) about %q", p.Notes, len(tt.wantNotes), tt.wantNotes)
			}
			for i, n := range tt.wantNotes {
				if !strings.Contains(p.Notes[i], n) {
					t.Errorf("note %q does not mention %q", p.Notes[i], n)
				}
			}
		})
	}
}

func TestMakePlanSecretStartingWithDash(t *testing.T) {
	d := testDesired(t)
	d.SignalingSecret = "-dash"
	p := MakePlan(configured(), d, Options{})
	want := [][]string{delSig, {"talk:signaling:add", "--verify", "--", sigURL, "-dash"}}
	var got [][]string
	for _, s := range p.Steps {
		got = append(got, s.Args)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDesiredFromRejectsBadEntries(t *testing.T) {
	good := func() outputs.Outputs {
		return outputs.Outputs{
			Domain: testDomain, SignalingURL: sigURL, SignalingSecret: sigSecret, TURNSecret: turnSecret,
			TURNServers: ours.TURNServers(), STUNServers: ours.STUNServers(),
		}
	}
	tests := []struct {
		name    string
		mutate  func(*outputs.Outputs)
		wantKey string
	}{
		{"http URL", func(o *outputs.Outputs) { o.SignalingURL = "http://" + testDomain + "/standalone-signaling" }, "signalingUrl"},
		{"turns over udp", func(o *outputs.Outputs) {
			o.TURNServers = []talk.TURNServer{{Schemes: "turns", Server: testDomain + ":5349", Protocols: "udp,tcp"}}
		}, "turnServers[0]"},
		{"unknown scheme", func(o *outputs.Outputs) {
			o.TURNServers = []talk.TURNServer{{Schemes: "stun", Server: "a:1", Protocols: "udp"}}
		}, "turnServers[0].schemes"},
		{"unknown protocol", func(o *outputs.Outputs) {
			o.TURNServers = append(o.TURNServers, talk.TURNServer{Schemes: "turn", Server: "a:1", Protocols: "sctp"})
		}, "turnServers[2].protocols"},
		{"TURN server without port", func(o *outputs.Outputs) {
			o.TURNServers = []talk.TURNServer{{Schemes: "turn", Server: testDomain, Protocols: "udp"}}
		}, "turnServers[0].server"},
		{"STUN server without port", func(o *outputs.Outputs) { o.STUNServers = []string{testDomain} }, "stunServers[0]"},
		{"no STUN servers", func(o *outputs.Outputs) { o.STUNServers = nil }, "stunServers"},
		{"blank secret", func(o *outputs.Outputs) { o.TURNSecret = "  " }, "signalingSecret/turnSecret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good()
			tt.mutate(&o)
			_, err := DesiredFrom(o)
			var ie *inputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want an *InputError", err)
			}
			if ie.Key != tt.wantKey {
				t.Errorf("key %q, want %q (error: %v)", ie.Key, tt.wantKey, err)
			}
		})
	}
	if _, err := DesiredFrom(good()); err != nil {
		t.Errorf("good outputs: %v", err)
	}
}

func TestMakePlanTreatsHostsOfTheDesiredEntriesAsOurs(t *testing.T) {
	d := testDesired(t)
	d.STUN = []string{"stun." + testDomain + ":3478"}
	cur := configured()
	cur.STUN = []string{"stun." + testDomain + ":19302"}
	p := MakePlan(cur, d, Options{})
	want := [][]string{{"talk:stun:add", "stun." + testDomain + ":3478"}, {"talk:stun:delete", "stun." + testDomain + ":19302"}}
	var got [][]string
	for _, s := range p.Steps {
		got = append(got, s.Args)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
