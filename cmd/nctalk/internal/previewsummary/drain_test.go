package previewsummary

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/tests/engine"
)

// TestSummarizeDrainOnTheEngine reads the engine's preview of a media
// server removed from mediaServers: the summary names the media server
// that drains and for how long at most (mediaDrainMinutes, read from its
// apply's delete timeout), its server's delete is no alert (the backend
// stays), and the box change is the main box's, not the drain.
func TestSummarizeDrainOnTheEngine(t *testing.T) {
	for _, file := range []string{"media-remove.preview-sames.json", "media-remove.preview.json"} {
		t.Run(file, func(t *testing.T) {
			raw, err := engine.Fixture(file)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePreview(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			s := Summarize(p, Options{Stack: "engine"})
			if want := []Drain{{Name: "media-2", Minutes: 60}}; !reflect.DeepEqual(s.Drains, want) {
				t.Errorf("Drains = %+v, want %+v", s.Drains, want)
			}
			if len(s.Alerts) != 0 {
				t.Errorf("Alerts = %+v, want none: a media server that drains is no outage", s.Alerts)
			}
			md := s.Markdown()
			if want := "- `media-2`: drains (no new calls; its calls go on up to 60 min), then deleted\n"; !strings.Contains(md, want) {
				t.Errorf("the summary lacks %q:\n%s", want, md)
			}
		})
	}
	// A preview that adds media servers drains none.
	raw, err := engine.Fixture("media-add.preview-sames.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePreview(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	// The main box's change waits for the proxy token the update creates.
	if s := Summarize(p, Options{}); len(s.Drains) != 0 || len(s.Alerts) != 0 || s.Box.State != boxUnknown {
		t.Errorf("adding media servers: Drains = %+v, Alerts = %+v, Box = %+v; want none, none, the main box's change known only in the update", s.Drains, s.Alerts, s.Box)
	}
}
