package main

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/infra/infratest"
	"github.com/nctalk/nctalk/schema"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF6vBETkDs1Y2lfftnHZ44axD+n6mqcrcffWJB5jey08 admin@example"

// stackConfig sets the config the way the Pulumi CLI passes it to the

func validConfig() map[string]string {
	return map[string]string{
		"domain":          "talk.example.com",
		"nextcloudUrls":   `["https://cloud.example.com"]`,
		"acmeEmail":       "admin@example.com",
		"sshPublicKeys":   `["` + testKey + `"]`,
		"sshAllowedCidrs": `["203.0.113.0/24"]`,
		"dnsZone":         "example.com",
	}
}

func runProgram(t testing.TB, m *infratest.Mocks, cfg map[string]string, secretKeys ...string) error {
	t.Helper()
	return pulumi.RunErr(program, pulumi.WithMocks(schema.Namespace, "dev", m), infratest.StackConfig(schema.Namespace, cfg, secretKeys...))
}

func TestProgramRegistersTheBackend(t *testing.T) {
	m := infratest.New("seed")
	if err := runProgram(t, m, validConfig()); err != nil {
		t.Fatalf("program: %v", err)
	}
	count := map[string]int{}
	for _, r := range m.Registrations() {
		count[r.Type]++
	}
	want := map[string]int{
		infratest.TypeTalkBackend: 1, infratest.TypeRandomPassword: 6, infratest.TypePrimaryIP: 2,
		infratest.TypeRdns: 2, infratest.TypeFirewall: 1, infratest.TypeSSHKey: 1, infratest.TypeVolume: 1,
		infratest.TypeVolumeAttachment: 1, infratest.TypeZoneRrset: 4, infratest.TypeServer: 1, // A+AAAA of domain and of the TURN name (turnOn443)
	}
	for typ, n := range want {
		if count[typ] != n {
			t.Errorf("%d × %s registered; want %d", count[typ], typ, n)
		}
	}
}

func TestProgramRejectsBadConfigBeforeRegistering(t *testing.T) {
	tests := []struct {
		name    string
		set     map[string]string
		unset   []string
		wantKey string
	}{
		{"no domain", nil, []string{"domain"}, "domain"},
		{"http nextcloud", map[string]string{"nextcloudUrls": `["http://cloud.example.com"]`}, nil, "nextcloudUrls"},
		{"bad email", map[string]string{"acmeEmail": "nobody"}, nil, "acmeEmail"},
		{"no ssh key", nil, []string{"sshPublicKeys"}, "sshPublicKeys"},
		{"bad cidr", map[string]string{"sshAllowedCidrs": `["somewhere"]`}, nil, "sshAllowedCidrs"},
		{"reversed range", map[string]string{"turnRelayPorts": "49200-49160"}, nil, "turnRelayPorts"},
		{"small volume", map[string]string{"volumeSize": "1"}, nil, "volumeSize"},
		{"unknown image", map[string]string{"images": `{"postgres":"postgres:17"}`}, nil, "images"},
		{"foreign zone", map[string]string{"dnsZone": "example.net"}, nil, "dnsZone"},
		{"selector finds nothing", map[string]string{"sshKeySelector": "team=nobody"}, []string{"sshPublicKeys"}, "sshKeySelector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			maps.Copy(cfg, tt.set)
			for _, k := range tt.unset {
				delete(cfg, k)
			}
			m := infratest.New("seed")
			err := runProgram(t, m, cfg)
			if err == nil || !strings.Contains(err.Error(), "nctalk:"+tt.wantKey+":") {
				t.Errorf("error = %v; want one naming nctalk:%s", err, tt.wantKey)
			}
			if regs := m.Registrations(); len(regs) != 0 {
				t.Errorf("%d resources registered (first %s %s); want none", len(regs), regs[0].Type, regs[0].Name)
			}
		})
	}
}

// TestDevExampleDeploys runs the program on Pulumi.dev.yaml.example.
func TestDevExampleDeploys(t *testing.T) {
	raw, err := os.ReadFile("Pulumi.dev.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	var stack struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &stack); err != nil {
		t.Fatalf("Pulumi.dev.yaml.example: %v", err)
	}
	cfg := map[string]string{}
	for k, v := range stack.Config {
		key, ok := strings.CutPrefix(k, schema.Namespace+":")
		if !ok {
			t.Fatalf("key %s is not in the %s namespace", k, schema.Namespace)
		}
		if !slices.Contains(schema.KeysFor(schema.StackReader), key) {
			t.Errorf("key %s is not a config key", k)
		}
		switch v := v.(type) {
		case string:
			cfg[key] = v
		default:
			b, _ := json.Marshal(v)
			cfg[key] = string(b)
		}
	}
	if cfg["acmeStaging"] != "true" {
		t.Errorf("the dev example should use the staging CA; acmeStaging = %q", cfg["acmeStaging"])
	}
	m := infratest.New("seed")
	if err := runProgram(t, m, cfg); err != nil {
		t.Fatalf("program on the dev example: %v", err)
	}
	if len(m.OfType(infratest.TypeServer)) != 1 {
		t.Error("the dev example registered no server")
	}
}

func BenchmarkProgram(b *testing.B) {
	cfg := validConfig()
	for b.Loop() {
		if err := runProgram(b, infratest.New("seed"), cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProgramPreviews runs the program as `pulumi preview` does.
func TestProgramPreviews(t *testing.T) {
	m := infratest.New("seed")
	preview := func(info *pulumi.RunInfo) { info.DryRun = true }
	err := pulumi.RunErr(program, pulumi.WithMocks(schema.Namespace, "dev", m), infratest.StackConfig(schema.Namespace, validConfig()), preview)
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	srv := m.OfType(infratest.TypeServer)
	if len(srv) != 1 {
		t.Fatalf("%d servers in the preview; want 1", len(srv))
	}
	if ud := srv[0].Inputs["userData"]; !ud.IsSecret() && !ud.IsComputed() {
		t.Errorf("preview shows the user data in clear: %v", ud)
	}
}
