package occwire

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
	"github.com/nctalk/nctalk/internal/testenv"
)

func TestSplitWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"sudo -u www-data php /var/www/nextcloud/occ", []string{"sudo", "-u", "www-data", "php", "/var/www/nextcloud/occ"}},
		{"  docker\texec  -u www-data nextcloud php occ ", []string{"docker", "exec", "-u", "www-data", "nextcloud", "php", "occ"}},
		{`php '/srv/my cloud/occ'`, []string{"php", "/srv/my cloud/occ"}},
		{`php "/srv/my \"cloud\"/occ"`, []string{"php", `/srv/my "cloud"/occ`}},
		{`php /srv/my\ cloud/occ`, []string{"php", "/srv/my cloud/occ"}},
		{`a '' b`, []string{"a", "", "b"}},
		{`ssh host 'sudo -u www-data php occ'`, []string{"ssh", "host", "sudo -u www-data php occ"}},
		{`a'b'"c"d`, []string{"abcd"}},
	}
	for _, tt := range tests {
		got, err := splitWords(tt.in)
		if err != nil {
			t.Errorf("SplitWords(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, bad := range []string{`php 'occ`, `php "occ`, `php occ\`, `php occ | tee log`, `php $OCC`, `php occ; rm x`} {
		if _, err := splitWords(bad); err == nil {
			t.Errorf("SplitWords(%q): want an error", bad)
		}
	}
}

func TestShellQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "with space", `it's`, `"dq"`, `$HOME`, "a\\b", "tab\there", "*", "--secret=x y'z"} {
		words, err := splitWords(shellQuote(s))
		if err != nil || len(words) != 1 || words[0] != s {
			t.Errorf("ShellQuote(%q) = %q splits into %q (%v)", s, shellQuote(s), words, err)
		}
	}
}

// TestRunnerOverSSH runs the fake occ behind a stand-in for ssh that, like
// ssh, joins its arguments with blanks and hands them to a remote shell.
// Secrets with blanks, quotes and $ must arrive as they are.
func TestRunnerOverSSH(t *testing.T) {
	testenv.Tool(t, "sh", "apt-get install dash")
	dir := t.TempDir()
	bin := occtest.Build(t, dir)
	ssh := filepath.Join(dir, "ssh")
	if err := os.WriteFile(ssh, []byte("#!/bin/sh\nshift\nexec sh -c \"$*\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := occtest.New(t, bin, occtest.State{})
	r, err := NewRunner(shellQuote(ssh) + " cloud.example.com " + f.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	if !r.RemoteShell {
		t.Fatal("a prefix starting with ssh must quote for the remote shell")
	}
	secret := `it's a "secret" $HOME;x`
	if _, err := r.Run(context.Background(), "talk:turn:add", "turn", "a.example:3478", "udp,tcp", "--secret="+secret); err != nil {
		t.Fatal(err)
	}
	if got := f.State().TURN; len(got) != 1 || got[0].Secret != secret {
		t.Errorf("stored %+v, want secret %q", got, secret)
	}
}

func TestRunnerReportsFailures(t *testing.T) {
	r, err := NewRunner("/nonexistent/occ")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Read(context.Background(), r)
	var oe *OccError
	if !errors.As(err, &oe) || !reflect.DeepEqual(oe.Args, []string{"talk:signaling:list", "--output=json"}) {
		t.Fatalf("got %v, want an *OccError for talk:signaling:list", err)
	}

	// echo exits 0 but prints no JSON: what it printed is occ's reason,
	// and is shown (the caller masks the known secrets).
	r, _ = NewRunner("echo Cannot write into config")
	_, err = Read(context.Background(), r)
	if !errors.As(err, &oe) || !errors.Is(err, errNotJSON) {
		t.Fatalf("got %v, want an *OccError wrapping ErrNotJSON", err)
	}
	if !strings.Contains(string(oe.Output), "Cannot write into config talk:signaling:list") {
		t.Errorf("occ's reason is not in the error's output: %q", oe.Output)
	}

	// JSON of the wrong shape is not shown: it may hold unknown secrets.
	r, _ = NewRunner(`echo {"servers":{"a":1},"secret":"unknown-secret"} --`)
	_, err = Read(context.Background(), r)
	if !errors.As(err, &oe) || strings.Contains(string(oe.Output)+err.Error(), "unknown-secret") {
		t.Errorf("got %v (output %q), want an *OccError without the list's JSON", err, oe.Output)
	}
}

func TestRunnerDisplayMasks(t *testing.T) {
	r := Runner{Prefix: []string{"sudo", "-u", "www-data", "php", "/srv/my cloud/occ"}}
	m := NewMasker("s3cr3t")
	got := r.Display([]string{"talk:turn:add", "turn", "a:3478", "udp,tcp", "--secret=s3cr3t"}, m)
	want := "sudo -u www-data php '/srv/my cloud/occ' talk:turn:add turn a:3478 udp,tcp '--secret=" + mask + "'"
	if got != want {
		t.Errorf("Display = %q, want %q", got, want)
	}
}

func TestFailedListDoesNotEchoItsJSON(t *testing.T) {
	dir := t.TempDir()
	occ := filepath.Join(dir, "occ")
	script := "#!/bin/sh\necho '[{\"schemes\":\"turn\",\"secret\":\"unknown-old-secret\"}]'\necho 'Something broke'\nexit 3\n"
	if err := os.WriteFile(occ, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(occ)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Read(context.Background(), r)
	var oe *OccError
	if !errors.As(err, &oe) {
		t.Fatalf("got %v, want an *OccError", err)
	}
	if strings.Contains(string(oe.Output), "unknown-old-secret") || !strings.Contains(string(oe.Output), "Something broke") {
		t.Errorf("output %q: want the error line without the JSON", oe.Output)
	}
}
