package main

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"gopkg.in/yaml.v3"
)

// TestPlanPicksNewestStableTagAndPinsItsDigest runs Plan against an
// in-process registry holding tags of every form the real repositories
// publish beside the pinned one (mainline nginx, other suffixes, release
// candidates, latest): each image moves to the newest tag of its own form
// on a stable line, pinned by the digest the registry reports for it.
func TestPlanPicksNewestStableTagAndPinsItsDigest(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	tags := map[string][]string{
		"library/nginx":                         {"1.29.9-alpine", "1.30.6-alpine", "1.30.7-alpine", "1.31.2-alpine", "1.30.8", "1.32.0-alpine-slim"},
		"coturn/coturn":                         {"4.18.0-r0", "4.19.1-r0", "4.19.1-r1", "4.19.2", "4.20.0-r0-alpine"},
		"library/nats":                          {"2.14.5-alpine", "2.15.3-alpine", "2.15.4-alpine3.22", "2.16.0-scratch"},
		"nextcloud-releases/aio-talk":           {"20260817_082005", "20261101_120000", "latest"},
		"strukturag/nextcloud-spreed-signaling": {"2.1.1", "2.1.2", "2.2.0-rc1"},
	}
	digests := map[string]string{}
	for repo, list := range tags {
		for _, tag := range list {
			img, err := random.Image(64, 1)
			if err != nil {
				t.Fatal(err)
			}
			ref, _ := name.ParseReference(host+"/"+repo+":"+tag, name.Insecure)
			if err := remote.Write(ref, img); err != nil {
				t.Fatal(err)
			}
			d, _ := img.Digest()
			digests[repo+":"+tag] = d.String()
		}
	}
	pinned := map[string]string{
		"nginx":     host + "/library/nginx:1.30.6-alpine",
		"coturn":    host + "/coturn/coturn:4.18.0-r0",
		"nats":      host + "/library/nats:2.14.5-alpine",
		"janus":     host + "/nextcloud-releases/aio-talk:20260817_082005",
		"signaling": host + "/strukturag/nextcloud-spreed-signaling:2.1.1@sha256:" + strings.Repeat("0", 64),
	}
	changes, err := plan(context.Background(), pinned)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"nginx":     "library/nginx:1.30.7-alpine",
		"coturn":    "coturn/coturn:4.19.1-r1",
		"nats":      "library/nats:2.15.3-alpine",
		"janus":     "nextcloud-releases/aio-talk:20261101_120000",
		"signaling": "strukturag/nextcloud-spreed-signaling:2.1.2",
	}
	got := map[string]string{}
	for _, c := range changes {
		got[c.Service] = c.New
		if c.Old != pinned[c.Service] {
			t.Errorf("%s: old pin %q, want %q", c.Service, c.Old, pinned[c.Service])
		}
	}
	for svc, w := range want {
		if exp := host + "/" + w + "@" + digests[w]; got[svc] != exp {
			t.Errorf("%s: new pin %q, want %q", svc, got[svc], exp)
		}
	}

	// Rewrite puts the new pins into the Go source, each exactly once.
	src := "var DefaultImages = map[string]string{\n"
	for _, svc := range sortedKeys(pinned) {
		src += "\t" + svc + ": \"" + pinned[svc] + "\",\n"
	}
	out, err := rewrite([]byte(src+"}\n"), changes)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if !strings.Contains(string(out), "\""+c.New+"\"") || strings.Contains(string(out), "\""+c.Old+"\"") {
			t.Errorf("%s: rewrite left %q or lacks %q:\n%s", c.Service, c.Old, c.New, out)
		}
	}
	if _, err := rewrite([]byte(src), []change{{Service: "x", Old: "absent:1", New: "absent:2"}}); err == nil {
		t.Error("Rewrite accepted a pin that is not in the source")
	}

	// An image already on its newest tag and digest is left alone.
	again := map[string]string{"nats": host + "/library/nats:2.15.3-alpine@" + digests["library/nats:2.15.3-alpine"]}
	if changes, err := plan(context.Background(), again); err != nil || len(changes) != 0 {
		t.Errorf("Plan of a current pin = %v, %v; want no change", changes, err)
	}
}

// TestImageBumpWorkflow: the scheduled workflow runs only on its schedule
// or by hand (never for a pull request's code), holds no cloud or state
// credential, may write only contents and pull requests, and runs this
// command and the image tests before it proposes anything.
func TestImageBumpWorkflow(t *testing.T) {
	raw, err := os.ReadFile("../../.github/workflows/image-bumps.yml")
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		On          map[string]any `yaml:"on"`
		Permissions map[string]any `yaml:"permissions"`
		Jobs        map[string]struct {
			Permissions map[string]string `yaml:"permissions"`
			Steps       []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(raw, &w); err != nil {
		t.Fatal(err)
	}
	for trigger := range w.On {
		if trigger != "schedule" && trigger != "workflow_dispatch" {
			t.Errorf("image-bumps.yml runs on %q; want schedule and workflow_dispatch only", trigger)
		}
	}
	if _, ok := w.On["schedule"]; !ok {
		t.Error("image-bumps.yml has no schedule")
	}
	if len(w.Permissions) != 0 {
		t.Errorf("top-level permissions %v, want {}", w.Permissions)
	}
	for _, secret := range []string{"HCLOUD_TOKEN", "PULUMI_", "AWS_"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("image-bumps.yml mentions %s: it needs no cloud or state credential", secret)
		}
	}
	for name, j := range w.Jobs {
		for k, v := range j.Permissions {
			if (k != "contents" && k != "pull-requests") || v != "write" {
				t.Errorf("job %s asks for %s: %s", name, k, v)
			}
		}
		var steps []string
		for _, s := range j.Steps {
			steps = append(steps, s.Run)
		}
		all := strings.Join(steps, "\n")
		for _, want := range []string{"go run ./cmd/imagebump -write cloudconfig/images.go", "go test", "gh pr create"} {
			if !strings.Contains(all, want) {
				t.Errorf("job %s does not run %q", name, want)
			}
		}
	}
}
