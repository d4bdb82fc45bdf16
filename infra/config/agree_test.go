package config

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// TestStackAndRenderReadTheSameSettings: one config, read by the stack
// (Pulumi config, as the CLI passes it) and by `nctalk render` (its YAML
// file), gives the same settings: both go through schema.Load.
func TestStackAndRenderReadTheSameSettings(t *testing.T) {
	every := `config:
  nctalk:domain: talk.example.org
  nctalk:nextcloudUrls: [https://a.example.org, "https://b.example.org/nc"]
  nctalk:acmeEmail: ops@example.org
  nctalk:acmeServer: https://acme.example.org/directory
  nctalk:registryMirror: https://mirror.example.org:5000
  nctalk:sshPublicKeys: ["` + testKey + `"]
  nctalk:sshAllowedCidrs: [203.0.113.0/24, "2001:db8::/32"]
  nctalk:sshPort: 2222
  nctalk:janusRtpPorts: 30000-30500
  nctalk:turnRelayPorts: "40000-40100"
  nctalk:turnOn443: false
  nctalk:turnDomain: relay.example.org
  nctalk:images: {nats: "nats:2.11.10-alpine"}
  nctalk:location: hel1
`
	dev, err := os.ReadFile("../../Pulumi.dev.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string][]byte{"every shared key": []byte(every), "Pulumi.dev.yaml.example": dev} {
		t.Run(name, func(t *testing.T) {
			src, err := schema.ParseYAML(raw)
			if err != nil {
				t.Fatal(err)
			}
			var render struct {
				Settings cloudconfig.Settings
				Secrets  cloudconfig.Secrets
			}
			if err := schema.Load(src, schema.RenderReader, &render); err != nil {
				t.Fatalf("render's reading: %v", err)
			}
			stack, err := load(t, pulumiConfig(t, raw))
			if err != nil {
				t.Fatalf("the stack's reading: %v", err)
			}
			if !reflect.DeepEqual(stack.Settings, render.Settings) {
				t.Errorf("the stack read %+v\nrender read %+v", stack.Settings, render.Settings)
			}
		})
	}
}

// pulumiConfig turns a stack file's nctalk: keys into what the Pulumi CLI
// hands the program: scalars as text, lists and maps as JSON.
func pulumiConfig(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	var file struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range file.Config {
		key := k[len(schema.Namespace)+1:]
		switch v := v.(type) {
		case []any, map[string]any:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			out[key] = string(b)
		default:
			b, _ := yaml.Marshal(v)
			out[key] = string(b[:len(b)-1])
		}
	}
	return out
}
