package cloudconfig

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
)

// TestSSHKeyCommentCannotAddYAMLKeys is issue 12's first reproduction: a
// key comment holding a line break YAML 1.1 knows (U+0085, U+2028, U+2029)
// must be rejected, or PyYAML must see the same top-level keys and the key
// byte for byte in authorized_keys.
func TestSSHKeyCommentCannotAddYAMLKeys(t *testing.T) {
	var docs [][]byte
	var keys []string
	for _, br := range []string{"\u2028", "\u2029", "\u0085", "\u2028\u2028", "\u000b", "\u000c"} {
		s := referenceSettings()
		key := testSSHKey + br + "bootcmd: [touch /pwned]"
		s.SSHAuthorizedKeys = []string{key}
		doc, err := Render(s, fakeSecrets())
		if err != nil {
			if schema.KeyOf(err) != schema.KeySSHPublicKeys {
				t.Errorf("comment with %q: err = %v, want a %s error", br, err, schema.KeySSHPublicKeys)
			}
			continue
		}
		docs, keys = append(docs, doc), append(keys, key)
	}
	for i, d := range pyyamlLoad(t, docs...) {
		if d.Error != "" {
			t.Errorf("key %q: PyYAML cannot read the document: %s", keys[i], d.Error)
			continue
		}
		if !slices.Equal(d.Keys, topLevelKeys) {
			t.Errorf("key %q: PyYAML sees top-level keys %q, want %q", keys[i], d.Keys, topLevelKeys)
		}
		found := false
		for _, f := range d.Files {
			if f.Path == AuthorizedKeys {
				found = strings.HasSuffix(f.Content, "\n"+keys[i]+"\n")
			}
		}
		if !found {
			t.Errorf("key %q: authorized_keys does not hold the key byte for byte", keys[i])
		}
	}
}

// TestShellValuesArriveAsOneWord is issue 12's second reproduction: values
// that are valid settings but hold shell metacharacters must be rejected
// with their key named, or reach nctalk-setup as exactly one word. The
// script's variable prologue and its certbot call run in a real bash with
// stubbed commands.
func TestShellValuesArriveAsOneWord(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	tests := []struct {
		key, value string
		set        func(*Settings, string)
	}{
		{schema.KeyACMEEmail, "a&id&b@example.com", func(s *Settings, v string) { s.ACMEEmail = v }},
		{schema.KeyACMEEmail, "a|id@example.com", func(s *Settings, v string) { s.ACMEEmail = v }},
		{schema.KeyACMEEmail, "x{a,b}@example.com", func(s *Settings, v string) { s.ACMEEmail = v }},
		{schema.KeyACMEEmail, "*@example.com", func(s *Settings, v string) { s.ACMEEmail = v }},
		{schema.KeyStateDevice, "/dev/sdb>pwned", func(s *Settings, v string) { s.StateDevice = v }},
		{schema.KeyStateDevice, "/dev/sd(b)", func(s *Settings, v string) { s.StateDevice = v }},
		{schema.KeyStateDevice, "/dev/sdb<pwned", func(s *Settings, v string) { s.StateDevice = v }},
		{schema.KeyStateDevice, "/dev/sd*", func(s *Settings, v string) { s.StateDevice = v }},
	}
	for i, tt := range tests {
		// Subtest names become temp dir names: keep the metacharacters out.
		t.Run(fmt.Sprintf("%s-%d", tt.key, i), func(t *testing.T) {
			s := referenceSettings()
			tt.set(&s, tt.value)
			if _, err := renderFilesOf(s, fakeSecrets()); err != nil {
				if schema.KeyOf(err) != tt.key {
					t.Fatalf("err = %v, want a %s error", err, tt.key)
				}
				return
			}
			defs := setupDefinitions(t, s)
			prologue, _, ok := strings.Cut(defs, "\nlog() {")
			if !ok {
				t.Fatal("cannot find the setup script's variable prologue")
			}
			dir := t.TempDir()
			bin, _ := stubDir(t)
			// Any stray command writes the marker "pwned".
			for _, name := range []string{"id", "b@example.com", "pwned"} {
				stubTool(t, bin, name, `echo "$0" >>`+ShellQuote(filepath.Join(dir, "pwned")))
			}
			stubTool(t, bin, "certbot", `printf '%s\0' "$@" >`+ShellQuote(filepath.Join(dir, "certbot.args")))
			run := defs + "\ndns_points_here() { :; }\nprintf '%s\\0' \"$dev\" >dev.out\ncertificate\nwait\n"
			cmd := exec.Command(bash, "-c", run)
			cmd.Dir = dir
			cmd.WaitDelay = 5 * time.Second
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("setup script: %v\n%s\nprologue:\n%s", err, out, prologue)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "pwned")); !os.IsNotExist(err) {
				t.Errorf("a stray command ran (%q)\nprologue:\n%s", b, prologue)
			}
			if dev, _ := os.ReadFile(filepath.Join(dir, "dev.out")); tt.key == schema.KeyStateDevice && string(dev) != tt.value+"\x00" {
				t.Errorf("dev = %q, want %q", dev, tt.value)
			}
			if tt.key == schema.KeyACMEEmail {
				args, _ := os.ReadFile(filepath.Join(dir, "certbot.args"))
				fields := bytes.Split(args, []byte{0})
				i := slices.IndexFunc(fields, func(f []byte) bool { return string(f) == "-m" })
				if i < 0 || i+1 >= len(fields) || string(fields[i+1]) != tt.value {
					t.Errorf("certbot got %q, want -m %q", fields, tt.value)
				}
			}
		})
	}
}
