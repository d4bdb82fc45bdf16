package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

const renderTestKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF6vBETkDs1Y2lfftnHZ44axD+n6mqcrcffWJB5jey08 admin@example"

const renderTestConfig = `# a render config; cloud-only keys are ignored
domain: talk.example.com
nextcloudUrls:
  - https://cloud.example.com
acmeEmail: admin@example.com
acmeStaging: true
sshPublicKeys:
  - ` + renderTestKey + `
sshAllowedCidrs: [203.0.113.0/24]
sshPort: 2222
janusRtpPorts: 20000-20200
turnRelayPorts: 49160-49200
location: fsn1
serverType: cx23
volumeSize: 10
dnsZone: example.com
`

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func render(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(append([]string{"render"}, args...), strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRenderCommandSecretsFileGivesTheSameDocument(t *testing.T) {
	cfg := writeTemp(t, "render.yaml", renderTestConfig)
	secrets := filepath.Join(t.TempDir(), "secrets.yaml")

	code, first, stderr := render(t, "--config", cfg, "--secrets", secrets)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(first, "#cloud-config\n") {
		t.Fatalf("stdout does not start with #cloud-config:\n%.200s", first)
	}
	info, err := os.Stat(secrets)
	if err != nil {
		t.Fatalf("secrets file not written: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode %v, want 0600", info.Mode().Perm())
	}

	// stdout is exactly Render of the file's settings and the saved secrets.
	var saved map[string]string
	raw, _ := os.ReadFile(secrets)
	if err := yaml.Unmarshal(raw, &saved); err != nil {
		t.Fatal(err)
	}
	var sec cloudconfig.Secrets
	for name, v := range saved {
		sec.Set(name, v)
	}
	if err := sec.Validate(); err != nil {
		t.Fatalf("saved secrets: %v", err)
	}
	want, err := cloudconfig.Render(cloudconfig.Settings{
		Domain: "talk.example.com", NextcloudURLs: []string{"https://cloud.example.com"},
		ACMEEmail: "admin@example.com", ACMEStaging: true, SSHAuthorizedKeys: []string{renderTestKey},
		SSHAllowedCIDRs: []string{"203.0.113.0/24"}, SSHPort: 2222,
		JanusRTPPorts: schema.PortRange{First: 20000, Last: 20200}, TURNRelayPorts: schema.PortRange{First: 49160, Last: 49200},
		TURNOn443: true,
	}, sec)
	if err != nil {
		t.Fatal(err)
	}
	if first != string(want) {
		t.Error("stdout is not exactly the cloud-config of the file's settings")
	}

	// stderr tells what Nextcloud needs, including the two shared secrets.
	for _, s := range []string{
		talk.Endpoints{Domain: "talk.example.com"}.SignalingURL(), sec.SignalingSecret, sec.TURNSecret,
		"STUN server: talk.example.com:3478", "TURN server: turn talk.example.com:3478 udp,tcp",
		"TURN server: turns talk.example.com:5349 tcp", "saved in " + secrets,
	} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, stderr)
		}
	}
	if strings.Contains(stderr, sec.SessionHashKey) || strings.Contains(stderr, sec.InternalClientSecret) {
		t.Error("stderr shows an internal secret Nextcloud does not need")
	}

	code, second, stderr := render(t, "--config", cfg, "--secrets", secrets)
	if code != 0 {
		t.Fatalf("second run: exit %d, stderr:\n%s", code, stderr)
	}
	if first != second {
		t.Error("second render with the same --secrets file differs")
	}
	if strings.Contains(stderr, "Generated") {
		t.Errorf("second run generated secrets again:\n%s", stderr)
	}
}

func TestRenderCommandWithoutSecretsFileGeneratesFresh(t *testing.T) {
	cfg := writeTemp(t, "render.yaml", renderTestConfig)
	_, a, stderr := render(t, "--config", cfg)
	_, b, _ := render(t, "--config", cfg)
	if a == "" || a == b {
		t.Error("two renders without --secrets should carry different generated secrets")
	}
	if !strings.Contains(stderr, "not saved") {
		t.Errorf("stderr does not warn that generated secrets are not saved:\n%s", stderr)
	}
}

func TestRenderCommandConfigSecretsWin(t *testing.T) {
	cfg := writeTemp(t, "render.yaml", renderTestConfig+"signalingSecret: fromConfigSignaling0123456789\nturnSecret: fromConfigTurnSecret0123456789\n")
	secrets := filepath.Join(t.TempDir(), "secrets.yaml")
	code, out, stderr := render(t, "--config", cfg, "--secrets", secrets)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	for _, s := range []string{"fromConfigSignaling0123456789", "fromConfigTurnSecret0123456789"} {
		if !strings.Contains(out, s) {
			t.Errorf("document does not use the config's %s", s)
		}
	}
}

func TestRenderCommandBadInput(t *testing.T) {
	tests := []struct {
		name, config, wantKey string
	}{
		{"unknown key", renderTestConfig + "colour: blue\n", "colour"},
		{"bad domain", strings.Replace(renderTestConfig, "talk.example.com", "talk_example", 1), schema.KeyDomain},
		{"http nextcloud", strings.Replace(renderTestConfig, "https://cloud", "http://cloud", 1), schema.KeyNextcloudURLs},
		{"urls not a list", strings.Replace(renderTestConfig, "nextcloudUrls:\n  - https://cloud.example.com", "nextcloudUrls: {a: b}", 1), schema.KeyNextcloudURLs},
		{"bad range", strings.Replace(renderTestConfig, "20000-20200", "twenty", 1), schema.KeyJanusRTPPorts},
		{"reversed range", strings.Replace(renderTestConfig, "20000-20200", "20200-20000", 1), schema.KeyJanusRTPPorts},
		{"bad ssh port", strings.Replace(renderTestConfig, "sshPort: 2222", "sshPort: ssh", 1), schema.KeySSHPort},
		{"bad ssh key", strings.Replace(renderTestConfig, renderTestKey, "ssh-rsa nope", 1), schema.KeySSHPublicKeys},
		{"bad cidr", strings.Replace(renderTestConfig, "203.0.113.0/24", "office", 1), schema.KeySSHAllowedCIDRs},
		{"bad email", strings.Replace(renderTestConfig, "admin@example.com", "admin", 1), schema.KeyACMEEmail},
		{"unknown image", renderTestConfig + "images: {redis: redis:7}\n", schema.KeyImages},
		{"short turn secret", renderTestConfig + "turnSecret: short\n", "turnSecret"},
		{"not yaml", "domain: [", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeTemp(t, "render.yaml", tt.config)
			code, out, stderr := render(t, "--config", cfg)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			if out != "" {
				t.Errorf("stdout is not empty on bad input:\n%.200s", out)
			}
			if tt.wantKey != "" && !strings.Contains(stderr, tt.wantKey+":") && !strings.Contains(stderr, tt.wantKey+",") {
				t.Errorf("stderr does not name %s:\n%s", tt.wantKey, stderr)
			}
		})
	}
	if code, _, _ := render(t); code != 2 {
		t.Errorf("no --config: exit %d, want 2", code)
	}
	loose := writeTemp(t, "loose.yaml", "turnSecret: looseTurnSecret0123456789\n")
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := render(t, "--config", writeTemp(t, "render.yaml", renderTestConfig), "--secrets", loose); code != 0 || !strings.Contains(stderr, "readable by others") {
		t.Errorf("group-readable secrets file: exit %d, no warning:\n%s", code, stderr)
	}
	secrets := writeTemp(t, "secrets.yaml", "sessionBlockKey: tooShort\n")
	cfg := writeTemp(t, "render.yaml", renderTestConfig)
	if code, _, stderr := render(t, "--config", cfg, "--secrets", secrets); code != 2 || !strings.Contains(stderr, "sessionBlockKey") {
		t.Errorf("bad secrets file: exit %d, stderr:\n%s", code, stderr)
	}
}

func TestRenderCommandAcceptsStackKeyPrefix(t *testing.T) {
	prefixed := "nctalk:domain: talk.example.com\nnctalk:nextcloudUrls: [https://cloud.example.com]\nnctalk:acmeEmail: admin@example.com\nnctalk:location: fsn1\n"
	code, out, stderr := render(t, "--config", writeTemp(t, "p.yaml", prefixed))
	if code != 0 || !strings.HasPrefix(out, "#cloud-config") {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
}

func TestRenderCommandReadsAPulumiStackFile(t *testing.T) {
	example, err := os.ReadFile("../../Pulumi.dev.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	code, out, stderr := render(t, "--config", writeTemp(t, "Pulumi.dev.yaml", string(example)))
	if code != 0 || !strings.HasPrefix(out, "#cloud-config") {
		t.Fatalf("Pulumi.dev.yaml.example: exit %d:\n%s", code, stderr)
	}
	withSecret := "config:\n  hcloud:token:\n    secure: AAABAG\n  nctalk:domain: talk.example.com\n  nctalk:nextcloudUrls: [https://cloud.example.com]\n  nctalk:acmeEmail: admin@example.com\n  nctalk:turnSecret:\n    secure: AAABAHx\n"
	code, out, stderr = render(t, "--config", writeTemp(t, "Pulumi.x.yaml", withSecret))
	if code != 2 || out != "" || !strings.Contains(stderr, "turnSecret: is encrypted by Pulumi") {
		t.Errorf("encrypted stack secret: exit %d, stderr:\n%s", code, stderr)
	}
}
