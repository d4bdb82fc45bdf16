package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// TestOccPrefixForms runs nctalk through each documented --occ form, with
// stand-ins for sudo, docker, ssh and php on PATH that pass their command on
// as the real ones do: sudo and docker exec hand the argv over unchanged,
// ssh joins its arguments with blanks and the remote shell splits them
// again (here `sh -c`). Secrets full of shell and JSON syntax must arrive
// byte for byte.
func TestOccPrefixForms(t *testing.T) {
	bin := occFixture(t)
	tools := t.TempDir()
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(tools, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// sudo -u USER CMD…: runs CMD… with its argv as given.
	write("sudo", `[ "$1" = -u ] && [ "$2" = www-data ] || { echo "sudo stand-in: want -u www-data, got $*" >&2; exit 97; }
shift 2
exec "$@"
`)
	// docker exec (-u|--user) USER CONTAINER CMD…: the same, in the container.
	write("docker", `[ "$1" = exec ] || exit 97
shift
case "$1" in -u|--user) [ "$2" = www-data ] || exit 97; shift 2;; *) exit 97;; esac
case "$1" in nextcloud|nextcloud-aio-nextcloud) shift;; *) echo "no such container: $1" >&2; exit 97;; esac
exec "$@"
`)
	// ssh HOST WORDS…: the remote shell runs the words joined by blanks.
	write("ssh", `[ "$1" = cloud.example.com ] || exit 97
shift
exec sh -c "$*"
`)
	// php OCC ARGS…: runs the fake occ.
	write("php", `case "$1" in */occ|occ) shift;; *) exit 97;; esac
exec "$FAKEOCC_BIN" "$@"
`)
	t.Setenv("PATH", tools+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKEOCC_BIN", bin)

	hostile := `h'o"s$(touch /tmp/nctalk-pwned)t;|&<>` + "`x`\\ \\<y"
	in := stackOutputs(t, func(o map[string]any) { o["signalingSecret"] = hostile })
	for _, prefix := range []string{
		"php /var/www/nextcloud/occ",
		"sudo -u www-data php /var/www/nextcloud/occ",
		"docker exec -u www-data nextcloud php occ",
		"docker exec --user www-data nextcloud-aio-nextcloud php /var/www/html/occ",
		"ssh cloud.example.com sudo -u www-data php /var/www/nextcloud/occ",
	} {
		t.Run(prefix, func(t *testing.T) {
			f := occtest.New(t, bin, occtest.State{})
			t.Setenv(occtest.EnvState, f.StatePath)
			t.Setenv(occtest.EnvLog, f.LogPath)
			r := runOccWith(t, in, "--occ", prefix)
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, hostile) {
				t.Errorf("the secret was printed")
			}
			got := f.State()
			if got.Signaling == nil || got.Signaling.Secret != hostile {
				t.Fatalf("signaling secret arrived as %+v, want %q", got.Signaling, hostile)
			}
			for _, e := range got.TURN {
				if e.Secret != occTURNSecret {
					t.Errorf("TURN secret arrived as %q, want %q", e.Secret, occTURNSecret)
				}
			}
			f.ResetLog()
			if r := runOccWith(t, in, "--occ", prefix); r.code != 0 || len(mutatingCalls(f.Calls())) != 0 {
				t.Errorf("second run: exit %d, changes %q", r.code, mutatingCalls(f.Calls()))
			}
			if _, err := os.Stat("/tmp/nctalk-pwned"); err == nil {
				t.Errorf("a secret was run as a command")
			}
		})
	}
}
