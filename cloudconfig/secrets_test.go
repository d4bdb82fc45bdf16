package cloudconfig

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
)

func TestFillMissing(t *testing.T) {
	var sec Secrets
	sec.TURNSecret = "keptTurnSecret0123456789"
	generated, err := sec.FillMissing(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"signalingSecret", "sessionHashKey", "sessionBlockKey", "internalClientSecret", "janusApiKey"}
	if !slices.Equal(generated, want) {
		t.Errorf("generated %v, want %v", generated, want)
	}
	if sec.TURNSecret != "keptTurnSecret0123456789" {
		t.Errorf("a given secret was replaced")
	}
	if err := sec.Validate(); err != nil {
		t.Errorf("generated secrets do not validate: %v", err)
	}
	if len(sec.SessionHashKey) != generatedLength(schema.SecretSessionHashKey) || len(sec.SessionBlockKey) != generatedLength(schema.SecretSessionBlockKey) || len(sec.JanusAPIKey) != generatedLength(schema.KeySignalingSecret) {
		t.Errorf("lengths: hash %d, block %d, janus %d", len(sec.SessionHashKey), len(sec.SessionBlockKey), len(sec.JanusAPIKey))
	}
	var other Secrets
	if _, err := other.FillMissing(nil); err != nil {
		t.Fatal(err)
	}
	if other.SignalingSecret == sec.SignalingSecret {
		t.Error("two generations gave the same signaling secret")
	}
}

func TestFillMissingRejectsBiasedBytes(t *testing.T) {
	// 248 and above would bias the alphabet: they must be skipped.
	src := bytes.NewReader(append(bytes.Repeat([]byte{255}, 64), bytes.Repeat([]byte{1}, 64*6+64)...))
	var sec Secrets
	if _, err := sec.FillMissing(src); err != nil {
		t.Fatal(err)
	}
	if sec.SignalingSecret != strings.Repeat("B", generatedLength(schema.KeySignalingSecret)) {
		t.Errorf("signalingSecret = %q, want only 'B' (byte 1)", sec.SignalingSecret)
	}
}

func TestSecretsSet(t *testing.T) {
	var sec Secrets
	for _, ns := range fakeSecrets().List() {
		if !sec.Set(ns.Name, ns.Value) {
			t.Fatalf("Set(%q) = false", ns.Name)
		}
	}
	if sec != fakeSecrets() {
		t.Error("Set by List names does not round-trip")
	}
	if sec.Set("nope", "x") {
		t.Error("Set of an unknown name = true")
	}
}
