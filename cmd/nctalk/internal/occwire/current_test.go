package occwire

import (
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
	"github.com/nctalk/nctalk/talk"
)

func TestParseSignalingList(t *testing.T) {
	tests := []struct {
		name       string
		out        string
		want       []SignalingServer
		wantSecret string
	}{
		{"never configured", "[]\n", nil, ""},
		{"all deleted", `{"servers":[],"secret":""}`, nil, ""},
		{"PHP escapes slashes", `{"servers":[{"server":"https:\/\/a.example\/sig","verify":true}],"secret":"s\/1"}`,
			[]SignalingServer{{"https://a.example/sig", true}}, "s/1"},
		{"verify as PHP strings and numbers", `{"servers":[{"server":"a","verify":"1"},{"server":"b","verify":false},{"server":"c","verify":0}],"secret":"x"}`,
			[]SignalingServer{{"a", true}, {"b", false}, {"c", false}}, "x"},
		{"servers keyed like a PHP array with holes", `{"servers":{"1":{"server":"b","verify":true},"0":{"server":"a","verify":true}},"secret":"x"}`,
			[]SignalingServer{{"a", true}, {"b", true}}, "x"},
		{"PHP notice before the JSON", "PHP Deprecated:  something in /var/www/lib.php on line 3\n[]\n", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, secret, err := parseSignalingList([]byte(tt.out))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) || secret != tt.wantSecret {
				t.Errorf("got %v %q, want %v %q", got, secret, tt.want, tt.wantSecret)
			}
		})
	}
}

func TestParseTURNAndSTUNLists(t *testing.T) {
	turn, err := parseTURNList([]byte(`[{"schemes":"turns","server":"a.example:5349","secret":"s\/x","protocols":"tcp"}]`))
	if err != nil {
		t.Fatal(err)
	}
	want := []TURNEntry{{TURNServer: talk.TURNServer{Schemes: "turns", Server: "a.example:5349", Protocols: "tcp"}, Secret: "s/x"}}
	if !reflect.DeepEqual(turn, want) {
		t.Errorf("turn: got %v, want %v", turn, want)
	}
	if turn, err := parseTURNList([]byte("[]")); err != nil || len(turn) != 0 {
		t.Errorf("empty turn list: %v %v", turn, err)
	}
	stun, err := parseSTUNList([]byte(`["stun.nextcloud.com:443","a.example:3478"]`))
	if err != nil || !reflect.DeepEqual(stun, []string{defaultSTUNServer, "a.example:3478"}) {
		t.Errorf("stun: %v %v", stun, err)
	}
}

func TestParseRejectsNonJSON(t *testing.T) {
	for _, out := range []string{"", "  - servers: none\n", "An unhandled exception has been thrown"} {
		if _, _, err := parseSignalingList([]byte(out)); !errors.Is(err, errNotJSON) {
			t.Errorf("signaling %q: got %v, want ErrNotJSON", out, err)
		}
		if _, err := parseTURNList([]byte(out)); !errors.Is(err, errNotJSON) {
			t.Errorf("turn %q: got %v, want ErrNotJSON", out, err)
		}
		if _, err := parseSTUNList([]byte(out)); !errors.Is(err, errNotJSON) {
			t.Errorf("stun %q: got %v, want ErrNotJSON", out, err)
		}
	}
	if _, err := parseSTUNList([]byte(`{"servers":1}`)); err == nil {
		t.Error("stun list of the wrong shape: want an error")
	}
}

// TestUnformatReadsRecordedFormatterOutput reads back what the real Symfony
// formatter printed (occtest/recorded/*/formatter.json): every value comes back
// except where the formatter swallowed a style tag, which is lost.
func TestUnformatReadsRecordedFormatterOutput(t *testing.T) {
	styleTag := regexp.MustCompile(`<(info|error|comment|question|fg=|bg=|href=|options=)`)
	for _, v := range occtest.Versions {
		rec, err := occtest.LoadFormatter(v)
		if err != nil {
			t.Fatal(err)
		}
		file := v.Dir + "/formatter.json"
		for _, row := range rec.Rows {
			doc, err := jsonDocument([]byte(row.Stdout))
			if err != nil {
				t.Errorf("%s: %q: %v", file, row.Stdout, err)
				continue
			}
			var got, want any
			if err := json.Unmarshal(doc, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(row.JSON), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) && !styleTag.MatchString(row.JSON) {
				t.Errorf("%s: read %v from %q, occ had %v", file, got, row.Stdout, want)
			}
		}
	}
}

// TestParseAfterAWarningWithAQuote: a PHP warning before the JSON, with an
// odd number of quotes, must not upset the reading of the formatter's `\<`.
func TestParseAfterAWarningWithAQuote(t *testing.T) {
	out := "PHP Warning:  Undefined array key \"x in /var/www/nextcloud/lib/private/x.php on line 1\n" +
		`{"servers":[],"secret":"a\<b"}` + "\n"
	_, secret, err := parseSignalingList([]byte(out))
	if err != nil || secret != `a\<b` {
		t.Errorf("got %q, %v; want the secret a\\<b", secret, err)
	}
}
