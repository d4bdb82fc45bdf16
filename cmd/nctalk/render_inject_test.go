package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
	"gopkg.in/yaml.v3"
)

// TestRenderCommandRejectsOrNeutralisesHostileValues runs issue 12's
// hostile values through `nctalk render`: each is refused (exit 2, the key
// named, nothing on stdout) or lands in the document as one quoted shell
// word without adding a top-level key.
func TestRenderCommandRejectsOrNeutralisesHostileValues(t *testing.T) {
	withKey := func(comment string) string {
		return strings.Replace(renderTestConfig, "  - "+renderTestKey, `  - "`+renderTestKey+comment+`"`, 1)
	}
	tests := []struct {
		name, config, key string
		wantInDoc         string // for accepted values: the quoted form in the document
	}{
		{"key comment U+2028", withKey(`\u2028bootcmd: [touch /pwned]`), schema.KeySSHPublicKeys, ""},
		{"key comment U+2029", withKey(`\u2029bootcmd: [touch /pwned]`), schema.KeySSHPublicKeys, ""},
		{"key comment NEL", withKey(`\x85bootcmd: [touch /pwned]`), schema.KeySSHPublicKeys, ""},
		{"key comment NUL", withKey(`\0`), schema.KeySSHPublicKeys, ""},
		{"key comment BOM", withKey(`\uFEFF`), schema.KeySSHPublicKeys, ""},
		{"domain U+2028", strings.Replace(renderTestConfig, "domain: talk.example.com", `domain: "talk.example.com\u2028bootcmd: [id]"`, 1), schema.KeyDomain, ""},
		{"state device redirect", renderTestConfig + "stateDevice: /dev/sdb>/etc/x\n", schema.KeyStateDevice, ""},
		{"state device parens", renderTestConfig + "stateDevice: /dev/sd(b)\n", schema.KeyStateDevice, ""},
		{"image with a newline", renderTestConfig + "images: {nats: \"nats:2.11.9\\nbootcmd: [id]\"}\n", schema.KeyImages, ""},
		{"url with a newline", strings.Replace(renderTestConfig, "  - https://cloud.example.com", `  - "https://cloud.example.com/\u2028x"`, 1), schema.KeyNextcloudURLs, ""},
		{"turn secret with a quote", renderTestConfig + "turnSecret: \"abcdefghijklmnop'\"\n", schema.KeyTURNSecret, ""},
		{"e-mail with ampersands", strings.Replace(renderTestConfig, "acmeEmail: admin@example.com", `acmeEmail: "a&id&b@example.com"`, 1), "", " -m 'a&id&b@example.com' "},
		{"e-mail with a pipe and braces", strings.Replace(renderTestConfig, "acmeEmail: admin@example.com", `acmeEmail: "x|id{a}*@example.com"`, 1), "", " -m 'x|id{a}*@example.com' "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := render(t, "--config", writeTemp(t, "render.yaml", tt.config))
			if tt.key != "" {
				if code != exitBadInput || out != "" || !strings.Contains(stderr, tt.key+":") {
					t.Errorf("exit %d, stdout %d bytes, want exit 2 naming %s; stderr:\n%s", code, len(out), tt.key, stderr)
				}
				return
			}
			if code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(out, tt.wantInDoc) {
				t.Errorf("the document does not carry %q", tt.wantInDoc)
			}
			var doc map[string]any
			if err := yaml.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k := range doc {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			want := []string{"apt", "disable_root", "package_update", "package_upgrade", "packages", "runcmd", "ssh_pwauth", "write_files"}
			if !slices.Equal(keys, want) {
				t.Errorf("top-level keys %q, want %q", keys, want)
			}
		})
	}
}

// TestRenderCommandRefusesLargeFiles: config and secrets files over
// maxInputFileBytes are refused before they are parsed, naming the file
// and the limit.
func TestRenderCommandRefusesLargeFiles(t *testing.T) {
	pad := "# " + strings.Repeat("x", 1022) + "\n" // 1 KiB of comment per line
	big := renderTestConfig + strings.Repeat(pad, maxInputFileBytes/len(pad)+1)
	cfg := writeTemp(t, "big.yaml", big)
	code, out, stderr := render(t, "--config", cfg)
	if code != exitBadInput || out != "" || !strings.Contains(stderr, cfg) || !strings.Contains(stderr, "256 KiB") {
		t.Errorf("%d-byte config: exit %d, stdout %d bytes, want exit 2 naming the file and the 256 KiB limit; stderr:\n%s", len(big), code, len(out), stderr)
	}
	// Exactly at the limit is still read (and here valid).
	atLimit := renderTestConfig + strings.Repeat("#", maxInputFileBytes-len(renderTestConfig)-1) + "\n"
	if code, _, stderr := render(t, "--config", writeTemp(t, "limit.yaml", atLimit)); code != exitOK {
		t.Errorf("config of exactly %d bytes: exit %d; stderr:\n%s", len(atLimit), code, stderr)
	}
	secrets := filepath.Join(t.TempDir(), "secrets.yaml")
	if err := os.WriteFile(secrets, []byte(strings.Repeat(pad, maxInputFileBytes/len(pad)+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = render(t, "--config", writeTemp(t, "render.yaml", renderTestConfig), "--secrets", secrets)
	if code != exitBadInput || !strings.Contains(stderr, secrets) || !strings.Contains(stderr, "256 KiB") {
		t.Errorf("large secrets file: exit %d, want 2 naming the file and the limit; stderr:\n%s", code, stderr)
	}
}
