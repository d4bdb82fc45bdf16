package main

import (
	"reflect"
	"testing"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// TestOccAddsTURNOn443 wires a Nextcloud from outputs with turnOn443 on
// (three TURN entries, as the stack exports them): the first run adds
// `talk:turn:add turns turn.<domain>:443 tcp` with the TURN secret, a
// second run changes nothing.
func TestOccAddsTURNOn443(t *testing.T) {
	turnServers := cloudconfig.Settings{Domain: occTestDomain, TURNOn443: true}.Endpoints().TURNServers()
	outputs := stackOutputs(t, func(o map[string]any) { o["turnServers"] = turnServers })
	f := occtest.New(t, occFixture(t), occtest.State{})
	if r := runOccWith(t, outputs, "--occ", f.Prefix()); r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	want := []string{"talk:turn:add", "turns", "turn." + occTestDomain + ":443", "tcp", "--secret=" + occTURNSecret}
	found := false
	for _, c := range f.Calls() {
		found = found || reflect.DeepEqual(c, want)
	}
	if !found {
		t.Errorf("no call %q among %q", want, f.Calls())
	}
	if got := len(f.State().TURN); got != len(turnServers) {
		t.Errorf("%d TURN entries in Nextcloud, want %d: %+v", got, len(turnServers), f.State().TURN)
	}
	f.ResetLog()
	if r := runOccWith(t, outputs, "--occ", f.Prefix()); r.code != 0 {
		t.Fatalf("second run: exit %d: %s", r.code, r.stderr)
	}
	if m := mutatingCalls(f.Calls()); len(m) != 0 {
		t.Errorf("second run changed %q; want nothing", commandNames(m))
	}
}
