package occwire

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

func TestTalkSTUNStoredMatchesRecordedPHP(t *testing.T) {
	for _, v := range occtest.Versions {
		rec, err := occtest.LoadParseURL(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rec.Rows {
			got, err := talkSTUNStored(row.Entry)
			switch {
			case row.Stored == nil && err == nil:
				t.Errorf("%s: %q: Talk refuses it, TalkSTUNStored stores %q", v.Dir, row.Entry, got)
			case row.Stored != nil && err != nil:
				t.Errorf("%s: %q: Talk stores %q, TalkSTUNStored refuses: %v", v.Dir, row.Entry, *row.Stored, err)
			case row.Stored != nil && got != *row.Stored:
				t.Errorf("%s: %q: Talk stores %q, TalkSTUNStored %q", v.Dir, row.Entry, *row.Stored, got)
			}
			var rule *talkRuleError
			if err != nil && (!errors.As(err, &rule) || rule.Message != talkMsgSTUNIncorrect) {
				t.Errorf("%q: error %v does not name Talk's rule", row.Entry, err)
			}
		}
	}
}

// TestTalkRulesMatchRecordedOcc holds nctalk's TURN and STUN rules to what
// the real occ of each release stored or refused, case by case
// (occtest/recorded/*/transcript.json: stunAdd, turnAdd). The plan tests
// run against the fake, which replays these cases without nctalk's code;
// this test names the case where nctalk's rule and Talk's differ.
func TestTalkRulesMatchRecordedOcc(t *testing.T) {
	for _, v := range occtest.Versions {
		tr, err := occtest.LoadTranscript(v)
		if err != nil {
			t.Fatal(err)
		}
		check := func(input string, got string, err error, stored *string, stdout string) {
			t.Helper()
			var rule *talkRuleError
			switch {
			case stored == nil && err == nil:
				t.Errorf("%s: %s: Talk refuses it (%q), nctalk plans %q", v.Dir, input, stdout, got)
			case stored != nil && err != nil:
				t.Errorf("%s: %s: Talk stores %q, nctalk refuses: %v", v.Dir, input, *stored, err)
			case stored != nil && got != *stored:
				t.Errorf("%s: %s: Talk stores %q, nctalk plans %q", v.Dir, input, *stored, got)
			case err != nil && (!errors.As(err, &rule) || rule.Message+"\n" != stdout):
				t.Errorf("%s: %s: nctalk names %v, Talk printed %q", v.Dir, input, err, stdout)
			}
		}
		for _, c := range tr.STUNAdd {
			got, err := talkSTUNStored(c.Entry)
			check(fmt.Sprintf("talk:stun:add %q", c.Entry), got, err, c.Stored, c.Stdout)
		}
		for _, c := range tr.TURNAdd {
			got, err := talkTURNStored(c.Schemes, c.Server, c.Protocols)
			check(fmt.Sprintf("talk:turn:add %q %q %q", c.Schemes, c.Server, c.Protocols), got, err, c.Stored, c.Stdout)
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
		{"turn", " \t", "udp", "", talkMsgServerEmpty},
		{"stun", "x:1", "udp", "", talkMsgSchemes},
		{"turn,turns", "x:1", "tcp,udp", "", talkMsgProtocols},
	} {
		got, err := talkTURNStored(tc.schemes, tc.server, tc.protocols)
		var rule *talkRuleError
		switch {
		case tc.msg == "" && (err != nil || got != tc.want):
			t.Errorf("%q %q %q: got %q, %v; want %q", tc.schemes, tc.server, tc.protocols, got, err, tc.want)
		case tc.msg != "" && (!errors.As(err, &rule) || rule.Message != tc.msg):
			t.Errorf("%q %q %q: got %q, %v; want Talk's %q", tc.schemes, tc.server, tc.protocols, got, err, tc.msg)
		}
	}
}
