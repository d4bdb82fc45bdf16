package cloudconfig

import (
	"bytes"
	"fmt"
	"testing"
)

// collidingSecrets are valid user-given secrets that are also ordinary text
// of the document: paths, service names, words.
func collidingSecrets() map[string]Secrets {
	words := fakeSecrets()
	words.SignalingSecret = "/opt/nctalk/bin/"                // a directory of every script path
	words.TURNSecret = "nctalk-cert-deploy"                   // the deploy hook's name
	words.SessionBlockKey = "truetruetruetrue"                // 16 characters of "true"
	words.InternalClientSecret = "coturn/coturn/coturn"       // the coturn config dir, thrice
	words.JanusAPIKey = "nextcloud-spreed-signaling"          // the signaling image's name
	words.SessionHashKey = "00000000000000000000000000000000" // digits of ports and modes
	nested := fakeSecrets()
	nested.JanusAPIKey = nested.TURNSecret + "XYZ" // one secret inside another
	return map[string]Secrets{"words": words, "nested": nested}
}

// TestRenderRedactedByPosition: the redacted document does not depend on
// the secrets' values (so it cannot leak them or corrupt text that happens
// to equal one), and it is the document with exactly the secrets' places
// marked: the same as redacting a rendering whose secrets are unique.
func TestRenderRedactedByPosition(t *testing.T) {
	for name, s := range settingsCases() {
		unique := fakeSecrets()
		want := Redact(mustRender(t, s), unique) // unique values: substring replacement is exact here
		for _, ns := range unique.List() {
			if !bytes.Contains(want, []byte(fmt.Sprintf(RedactionMarker, ns.Name))) {
				t.Fatalf("%s: the marker of %s is missing: the check would prove nothing", name, ns.Name)
			}
		}
		p, err := NewPlan(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.RenderRedacted()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for cname, sec := range collidingSecrets() {
			// The secrets are valid and render; the redacted document, which
			// takes none of them, is the same for every set.
			if _, err := p.Render(sec); err != nil {
				t.Fatalf("%s/%s: %v", name, cname, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s/%s: the redacted document differs from the document with the secrets' places marked; first difference:\n got: %s\nwant: %s", name, cname, firstDiffLine(got, want), firstDiffLine(want, got))
			}
		}
	}
}

// firstDiffLine returns the first line of a that differs from b's line.
func firstDiffLine(a, b []byte) string {
	al, bl := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range al {
		if i >= len(bl) || !bytes.Equal(al[i], bl[i]) {
			return fmt.Sprintf("line %d: %q", i+1, al[i])
		}
	}
	return "(none)"
}

func BenchmarkRenderRedacted(b *testing.B) {
	p, err := NewPlan(referenceSettings())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.RenderRedacted(); err != nil {
			b.Fatal(err)
		}
	}
}
