package cloudconfig

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
)

// readmeSection returns the body of the documentation section with the
// given heading (in README.md or a file of docs/), up to the next "## "
// heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var body string
	found := false
	for _, f := range append([]string{"../README.md"}, files...) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, b, ok := strings.Cut(string(raw), "\n"+heading+"\n"); ok {
			body, found = b, true
			break
		}
	}
	if !found {
		t.Fatalf("neither README.md nor docs/ has a %q section", heading)
	}
	if i := strings.Index(body, "\n## "); i >= 0 {
		body = body[:i]
	}
	return body
}

// tables returns the rows (cells trimmed, header and separator dropped) of
// every markdown table in text, in order.
func tables(text string) [][][]string {
	var out [][][]string
	var cur [][]string
	inTable := false
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				out = append(out, cur[1:]) // drop the header row
				cur, inTable = nil, false
			}
			continue
		}
		inTable = true
		if strings.HasPrefix(line, "|---") {
			continue
		}
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		cur = append(cur, cells)
	}
	if inTable {
		out = append(out, cur[1:])
	}
	return out
}

func TestREADMEPortTableIsFirewallRules(t *testing.T) {
	ts := tables(readmeSection(t, "## Ports"))
	if len(ts) != 2 {
		t.Fatalf("the Ports section has %d tables, want 2 (public, loopback)", len(ts))
	}
	rules := FirewallRules(Settings{})
	rows := ts[0]
	if len(rows) != len(rules) {
		t.Fatalf("docs/architecture.md lists %d public ports, FirewallRules %d", len(rows), len(rules))
	}
	for i, r := range rules {
		row := rows[i]
		port := r.PortString()
		if port == "" {
			port = "—"
		}
		openTo := "everyone"
		if r.SSHOnly {
			openTo = "`" + schema.KeySSHAllowedCIDRs + "`"
		}
		want := []string{port, string(r.Protocol), openTo, r.Name}
		for j, w := range want {
			if j >= len(row) || row[j] != w {
				t.Errorf("docs/architecture.md port row %d = %q, want it to start with %q", i+1, row, want)
				break
			}
		}
	}
	loop := ts[1]
	wantLoop := []int{schema.PortSignalingHTTP, schema.PortJanusWS, schema.PortNATS, schema.PortHTTPSLocal, schema.PortTURNSLocal}
	if len(loop) != len(wantLoop) {
		t.Fatalf("docs/architecture.md lists %d loopback ports, want %d", len(loop), len(wantLoop))
	}
	for i, p := range wantLoop {
		if loop[i][0] != strconv.Itoa(p) {
			t.Errorf("loopback row %d is port %s, want %d", i+1, loop[i][0], p)
		}
	}
}

func TestREADMENamesThePinnedImages(t *testing.T) {
	section := readmeSection(t, "## What runs on the VM, and why these images")
	for _, name := range ServiceNames() {
		if img := DefaultImages[name]; !strings.Contains(section, "`"+img+"`") {
			t.Errorf("docs/architecture.md's image table does not name %s's image %s", name, img)
		}
	}
}
