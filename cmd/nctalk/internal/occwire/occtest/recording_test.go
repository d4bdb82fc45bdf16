package occtest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestRecordingsFollowTheRecorderFormat checks the committed recordings
// against what record.php writes: every file of every release decodes in
// the recorder's format with no field beyond it, was recorded (not
// derived) from the release its folder names, at a real time, and says
// what the recorder's log says, call for call.
func TestRecordingsFollowTheRecorderFormat(t *testing.T) {
	dirs, _ := filepath.Glob("recorded/*/transcript.json")
	if len(dirs) != len(Versions) {
		t.Errorf("recorded/*/transcript.json: %d files, want one per release in Versions (%d)", len(dirs), len(Versions))
	}
	php, err := os.ReadFile("recorded/record.php")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(php), "const FORMAT = '"+recordingFormat+"';") {
		t.Errorf("record.php does not write format %q", recordingFormat)
	}
	for _, v := range Versions {
		t.Run(v.Dir, func(t *testing.T) {
			tr, err := LoadTranscript(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkTranscript(v, tr) {
				t.Error(p)
			}
			log, err := recorderLog(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkLog(tr, log) {
				t.Error(p)
			}
			f, err := LoadFormatter(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range checkMeta("formatter.json", f.Derived, f.Recorded, v) {
				t.Error(p)
			}
			if f.Recorded.Symfony != v.Symfony || len(f.Rows) == 0 {
				t.Errorf("formatter.json: symfony/console %q with %d rows, want %s with rows", f.Recorded.Symfony, len(f.Rows), v.Symfony)
			}
			p, err := LoadParseURL(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range checkMeta("parse_url.json", p.Derived, p.Recorded, v) {
				t.Error(problem)
			}
			if len(p.Rows) != len(tr.STUNAdd) {
				t.Errorf("parse_url.json has %d rows, the transcript %d STUN cases: the recorder writes both from one list", len(p.Rows), len(tr.STUNAdd))
			}
		})
	}
}

func checkMeta(file string, derived bool, m RecordedMeta, v Version) []string {
	var p []string
	if derived {
		p = append(p, file+": derived: true; the committed files are recorded")
	}
	if m.Format != recordingFormat {
		p = append(p, fmt.Sprintf("%s: format %q, want %q", file, m.Format, recordingFormat))
	}
	at, err := time.Parse(time.RFC3339, m.At)
	if err != nil || at.Year() < 2026 {
		p = append(p, fmt.Sprintf("%s: recorded at %q is not a real UTC time", file, m.At))
	}
	if !regexp.MustCompile(`^8\.\d+\.\d+$`).MatchString(m.PHP) {
		p = append(p, fmt.Sprintf("%s: php %q", file, m.PHP))
	}
	return p
}

// checkTranscript checks what the recorder guarantees of a transcript.
func checkTranscript(v Version, tr Transcript) []string {
	p := checkMeta("transcript.json", tr.Derived, tr.Recorded, v)
	m := tr.Recorded
	if m.Nextcloud != v.Nextcloud || m.Talk != v.Talk || m.Symfony != v.Symfony {
		p = append(p, fmt.Sprintf("transcript.json: recorded on Nextcloud %q, Talk %q, symfony/console %q; the folder is %s (%s, %s)",
			m.Nextcloud, m.Talk, m.Symfony, v.Dir, v.Talk, v.Symfony))
	}
	at, _ := time.Parse(time.RFC3339, m.At)
	if end, err := time.Parse(time.RFC3339, m.Finished); err != nil || end.Before(at) {
		p = append(p, fmt.Sprintf("transcript.json: finished %q is not after %q", m.Finished, m.At))
	}
	if m.Occ == "" || !strings.Contains(tr.What, "real Nextcloud "+v.Nextcloud+" with Talk "+v.Talk) {
		p = append(p, fmt.Sprintf("transcript.json: what %q, occ %q", tr.What, m.Occ))
	}
	calls := append(append([]Call{}, tr.Calls...), tr.GeneratedSecret.Add, tr.TalkDisabled, tr.ConfigReadOnly)
	for _, c := range calls {
		if len(c.Args) == 0 {
			p = append(p, "a call without arguments")
		}
	}
	if len(tr.Calls) == 0 || len(tr.STUNAdd) == 0 || len(tr.TURNAdd) == 0 {
		p = append(p, fmt.Sprintf("%d calls, %d STUN and %d TURN cases", len(tr.Calls), len(tr.STUNAdd), len(tr.TURNAdd)))
	}
	if n := len(tr.GeneratedSecret.Secrets); n < 3 {
		p = append(p, fmt.Sprintf("%d generated secrets, the recorder records 5", n))
	}
	for _, s := range tr.GeneratedSecret.Secrets {
		if len(s) != len(tr.GeneratedSecret.Secrets[0]) {
			p = append(p, fmt.Sprintf("generated secrets of different lengths: %q", tr.GeneratedSecret.Secrets))
			break
		}
	}
	// stored is the one entry of the list after the add, or nil.
	stored := func(list string, field string) (*string, error) {
		var entries []json.RawMessage
		if err := json.Unmarshal([]byte(list), &entries); err != nil {
			return nil, err
		}
		switch len(entries) {
		case 0:
			return nil, nil
		case 1:
		default:
			return nil, fmt.Errorf("%d entries", len(entries))
		}
		var s string
		if field == "" {
			err := json.Unmarshal(entries[0], &s)
			return &s, err
		}
		var e map[string]string
		err := json.Unmarshal(entries[0], &e)
		s = e[field]
		return &s, err
	}
	same := func(a, b *string) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
	seen := map[string]bool{}
	for _, c := range tr.STUNAdd {
		got, err := stored(c.List, "")
		if err != nil || !same(got, c.Stored) || (c.Exit == 0) != (c.Stored != nil) || seen[c.Entry] {
			p = append(p, fmt.Sprintf("STUN case %q: exit %d, list %q, stored %v (%v; a repeated entry: %t)", c.Entry, c.Exit, c.List, c.Stored, err, seen[c.Entry]))
		}
		seen[c.Entry] = true
	}
	seen = map[string]bool{}
	for _, c := range tr.TURNAdd {
		key := c.Schemes + " " + c.Server + " " + c.Protocols
		got, err := stored(c.List, "server")
		if err != nil || !same(got, c.Stored) || (c.Exit == 0) != (c.Stored != nil) || seen[key] {
			p = append(p, fmt.Sprintf("TURN case %q: exit %d, list %q, stored %v (%v; a repeated case: %t)", key, c.Exit, c.List, c.Stored, err, seen[key]))
		}
		seen[key] = true
	}
	return p
}

// checkLog wants one log line per recorded call, in the order the
// recorder makes them, with the call's exit status.
func checkLog(tr Transcript, log string) []string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		// Helper calls (lists after an add, resets) end with "(why)".
		if _, rest, ok := strings.Cut(l, " occ ["); ok && !strings.HasSuffix(rest, ")") {
			lines = append(lines, "["+rest)
		}
	}
	want := append(append([]Call{}, tr.Calls...), tr.GeneratedSecret.Add)
	for _, c := range tr.STUNAdd {
		want = append(want, Call{Args: []string{"talk:stun:add", "--", c.Entry}, Exit: c.Exit})
	}
	for _, c := range tr.TURNAdd {
		want = append(want, Call{Args: []string{"talk:turn:add", "--secret=case-secret", "--", c.Schemes, c.Server, c.Protocols}, Exit: c.Exit})
	}
	want = append(want, tr.TalkDisabled, tr.ConfigReadOnly)
	var p []string
	i := 0
	for _, c := range want {
		args, _ := json.Marshal(c.Args)
		// record.php logs with PHP's JSON_UNESCAPED_SLASHES|UNICODE.
		prefix := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(args)) + fmt.Sprintf(" -> exit %d,", c.Exit)
		for i < len(lines) && !strings.HasPrefix(lines[i], prefix) {
			i++
		}
		if i == len(lines) {
			p = append(p, fmt.Sprintf("record.log has no line %q (in order)", prefix))
			return p
		}
		i++
	}
	if !strings.Contains(log, " done: ") {
		p = append(p, "record.log does not end with the recorder's done line")
	}
	return p
}
