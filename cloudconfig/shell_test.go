package cloudconfig

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// hostileShellStrings are values that break out of an unquoted or
// double-quoted shell word.
var hostileShellStrings = []string{
	"",
	"plain",
	"a&id&b@example.com",
	"/dev/sdb>/etc/x",
	"/dev/sd(b)",
	"it's",
	"''",
	"'\\''",
	`"$(id)"`,
	"`id`",
	"$HOME ${PATH} $0 $$ $1",
	"a;b|c&&d||e",
	"a b\tc\nd",
	"*?[a-z]{x,y}~root",
	"#comment",
	"-n",
	"\\",
	"!!",
	"a\rb",
	"\u0085 \u2028 \u2029 \ufeff",
	"\x01\x1b[31m\x7f",
	"<(id) >(id)",
	strings.Repeat("'\"$`\\", 50),
}

// TestShellQuoteInRealBash passes every hostile string through ShellQuote
// into a real bash script and checks that it arrives as exactly one
// argument, byte for byte.
func TestShellQuoteInRealBash(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	var script strings.Builder
	script.WriteString("set -eu\n")
	for _, s := range hostileShellStrings {
		// One word per line: printf prints the argument count, then the word.
		script.WriteString("set -- " + ShellQuote(s) + "; printf '%d:%s\\0' $# \"$1\"\n")
		// The same value assigned to a variable, as the scripts do (v=…).
		script.WriteString("v=" + ShellQuote(s) + "; printf '%s\\0' \"$v\"\n")
	}
	out, err := exec.Command(bash, "-c", script.String()).Output()
	if err != nil {
		t.Fatalf("bash: %v", err)
	}
	got := bytes.Split(out, []byte{0})
	if len(got) != 2*len(hostileShellStrings)+1 {
		t.Fatalf("bash printed %d fields, want %d: %q", len(got)-1, 2*len(hostileShellStrings), out)
	}
	for i, s := range hostileShellStrings {
		if want := "1:" + s; string(got[2*i]) != want {
			t.Errorf("ShellQuote(%q) as an argument arrived as %q, want %q", s, got[2*i], want)
		}
		if string(got[2*i+1]) != s {
			t.Errorf("ShellQuote(%q) as an assignment arrived as %q", s, got[2*i+1])
		}
	}
}

func TestShellQuoteForm(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"abc", "'abc'"},
		{"it's", `'it'\''s'`},
	}
	for _, tt := range tests {
		if got := ShellQuote(tt.in); got != tt.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
