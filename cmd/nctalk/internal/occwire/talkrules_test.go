package occwire

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// recordedParseURL is testdata/<version>/parse_url.json, recorded with real
// PHP by testdata/record/record.php.
type recordedParseURL struct {
	Rows []struct {
		Entry  string          `json:"entry"`
		Host   json.RawMessage `json:"host"`
		Port   json.RawMessage `json:"port"`
		Stored *string         `json:"stored"`
	} `json:"rows"`
}

func TestTalkSTUNStoredMatchesRecordedPHP(t *testing.T) {
	files, _ := filepath.Glob("testdata/*/parse_url.json")
	if len(files) == 0 {
		t.Fatal("no testdata/*/parse_url.json")
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var rec recordedParseURL
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, row := range rec.Rows {
			got, err := TalkSTUNStored(row.Entry)
			switch {
			case row.Stored == nil && err == nil:
				t.Errorf("%s: %q: Talk refuses it, TalkSTUNStored stores %q", file, row.Entry, got)
			case row.Stored != nil && err != nil:
				t.Errorf("%s: %q: Talk stores %q, TalkSTUNStored refuses: %v", file, row.Entry, *row.Stored, err)
			case row.Stored != nil && got != *row.Stored:
				t.Errorf("%s: %q: Talk stores %q, TalkSTUNStored %q", file, row.Entry, *row.Stored, got)
			}
			var rule *TalkRuleError
			if err != nil && (!errors.As(err, &rule) || rule.Message != TalkMsgSTUNIncorrect) {
				t.Errorf("%q: error %v does not name Talk's rule", row.Entry, err)
			}
		}
	}
}

func TestTalkTURNStored(t *testing.T) {
	for _, tc := range []struct {
		schemes, server, protocols, want, msg string
	}{
		{"turn", "talk.example.com:3478", "udp,tcp", "talk.example.com:3478", ""},
		{"turns", "HTTPS://talk.example.com:5349", "tcp", "talk.example.com:5349", ""},
		{"turn", "Http://talk.example.com:3478", "udp", "talk.example.com:3478", ""},
		{"turn", "https://http://x:1", "udp", "x:1", ""},
		{"turn", " \t", "udp", "", TalkMsgServerEmpty},
		{"stun", "x:1", "udp", "", TalkMsgSchemes},
		{"turn,turns", "x:1", "tcp,udp", "", TalkMsgProtocols},
	} {
		got, err := TalkTURNStored(tc.schemes, tc.server, tc.protocols)
		var rule *TalkRuleError
		switch {
		case tc.msg == "" && (err != nil || got != tc.want):
			t.Errorf("%q %q %q: got %q, %v; want %q", tc.schemes, tc.server, tc.protocols, got, err, tc.want)
		case tc.msg != "" && (!errors.As(err, &rule) || rule.Message != tc.msg):
			t.Errorf("%q %q %q: got %q, %v; want Talk's %q", tc.schemes, tc.server, tc.protocols, got, err, tc.msg)
		}
	}
}
