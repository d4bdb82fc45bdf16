package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/infratest"
	"github.com/nctalk/nctalk/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// testKey is a real (test-only) ed25519 public key.
const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF6vBETkDs1Y2lfftnHZ44axD+n6mqcrcffWJB5jey08 admin@example"

// countingMocks counts registered resources and invokes; config loading
// must cause neither.
type countingMocks struct{ resources, calls int }

func (m *countingMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.resources++
	return "1", args.Inputs, nil
}

func (m *countingMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.calls++
	return resource.PropertyMap{}, nil
}

// withConfig sets the stack config the way the Pulumi CLI passes it: keys
// `nctalk:<key>`, lists and maps as JSON strings, secrets decrypted and

// load runs Load in a mocked program and fails the test if anything was
// registered or invoked.
func load(t *testing.T, cfg map[string]string, secretKeys ...string) (Config, error) {
	t.Helper()
	var c Config
	var loadErr error
	m := &countingMocks{}
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		c, loadErr = Load(ctx)
		return nil
	}, pulumi.WithMocks(schema.Namespace, "dev", m), infratest.StackConfig(schema.Namespace, cfg, secretKeys...))
	if err != nil {
		t.Fatalf("program run: %v", err)
	}
	if m.resources != 0 || m.calls != 0 {
		t.Fatalf("loading config registered %d resources and made %d invokes; want none", m.resources, m.calls)
	}
	return c, loadErr
}

func minimalConfig() map[string]string {
	return map[string]string{
		"domain":        "talk.example.com",
		"nextcloudUrls": `["https://cloud.example.com"]`,
		"acmeEmail":     "admin@example.com",
		"sshPublicKeys": `["` + testKey + `"]`,
	}
}

func TestLoadAppliesDefaults(t *testing.T) {
	c, err := load(t, minimalConfig())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Default()
	want.Settings.Domain = "talk.example.com"
	want.Settings.NextcloudURLs = []string{"https://cloud.example.com"}
	want.Settings.ACMEEmail = "admin@example.com"
	want.Settings.SSHAuthorizedKeys = []string{testKey}
	if len(c.Plan.Names) == 0 {
		t.Error("Load returned no plan")
	}
	c.Plan = cloudconfig.Plan{} // compared on its own below
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load = %+v\nwant %+v", c, want)
	}
	if c.Location != "fsn1" || c.ServerType != "cx23" || c.Image != "debian-13" || c.VolumeSize != 10 {
		t.Errorf("cloud defaults = %s %s %s %d; want fsn1 cx23 debian-13 10", c.Location, c.ServerType, c.Image, c.VolumeSize)
	}
	if got := c.Settings.JanusRTPPorts.String() + " " + c.Settings.TURNRelayPorts.String(); got != "20000-20100 49160-49200" {
		t.Errorf("port ranges = %s; want 20000-20100 49160-49200", got)
	}
}

// TestLoadReadsEveryKey sets every key the stack reads to its Sample the
// way the Pulumi CLI passes config (secrets encrypted) and finds each value
// in the field tagged with its key: the stack's reading (stackValues)
// carries every kind.
func TestLoadReadsEveryKey(t *testing.T) {
	cfg := map[string]string{}
	var secrets []string
	for _, name := range schema.KeysFor(schema.StackReader) {
		k, _ := schema.Lookup(name)
		cfg[name] = k.Sample
		if k.Kind == schema.KindSecret {
			secrets = append(secrets, name)
		}
	}
	var c Config
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		return schema.Load(stackValues(ctx), schema.StackReader, &c)
	}, pulumi.WithMocks(schema.Namespace, "dev", &countingMocks{}), infratest.StackConfig(schema.Namespace, cfg, secrets...))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	fields := taggedFields(reflect.ValueOf(&c).Elem())
	for name, sample := range cfg {
		f, ok := fields[name]
		if !ok {
			t.Errorf("Config has no field tagged nctalk:%q", name)
			continue
		}
		if got := configText(t, f); got != sample {
			t.Errorf("%s: %q reached its field as %q", name, sample, got)
		}
	}
}

// taggedFields maps each key to its field in v, walking untagged structs
// as schema.Load does.
func taggedFields(v reflect.Value) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		tag, ok := f.Tag.Lookup("nctalk")
		switch {
		case tag == "-":
		case ok:
			out[tag] = v.Field(i)
		case f.Type.Kind() == reflect.Struct:
			maps.Copy(out, taggedFields(v.Field(i)))
		}
	}
	return out
}

// configText writes a field's value as Pulumi config text.
func configText(t *testing.T, f reflect.Value) string {
	t.Helper()
	switch f.Kind() {
	case reflect.String:
		return f.String() // Secret's String hides the value
	case reflect.Slice, reflect.Map:
		b, err := json.Marshal(f.Interface())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return fmt.Sprint(f.Interface())
}

func TestLoadRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		set     map[string]string
		unset   []string
		secret  []string
		wantKey string
		wantMsg string
	}{
		{"domain missing", nil, []string{"domain"}, nil, "domain", "empty"},
		{"domain not fqdn", map[string]string{"domain": "talk"}, nil, nil, "domain", "fully qualified"},
		{"domain is url", map[string]string{"domain": "https://talk.example.com"}, nil, nil, "domain", "fully qualified"},
		{"nextcloud missing", nil, []string{"nextcloudUrls"}, nil, "nextcloudUrls", "at least one"},
		{"nextcloud not a list", map[string]string{"nextcloudUrls": "https://cloud.example.com"}, nil, nil, "nextcloudUrls", "list of strings"},
		{"nextcloud http", map[string]string{"nextcloudUrls": `["http://cloud.example.com"]`}, nil, nil, "nextcloudUrls", "https"},
		{"email malformed", map[string]string{"acmeEmail": "admin.example.com"}, nil, nil, "acmeEmail", "e-mail"},
		{"staging not bool", map[string]string{"acmeStaging": "perhaps"}, nil, nil, "acmeStaging", "true or false"},
		{"location unknown", map[string]string{"location": "fra1"}, nil, nil, "location", "fsn1"},
		{"server type removed", map[string]string{"serverType": "cx22"}, nil, nil, "serverType", "withdrawn"},
		{"server type cx32 removed", map[string]string{"serverType": "cx32"}, nil, nil, "serverType", "withdrawn"},
		{"server type cx52 removed", map[string]string{"serverType": "cx52"}, nil, nil, "serverType", "withdrawn"},
		{"server type cpx51 removed", map[string]string{"serverType": "cpx51"}, nil, nil, "serverType", "withdrawn"},
		{"server type garbage", map[string]string{"serverType": "large"}, nil, nil, "serverType", "cx23"},
		{"image not debian", map[string]string{"image": "ubuntu-24.04"}, nil, nil, "image", "debian-13"},
		{"ssh key unparsable", map[string]string{"sshPublicKeys": `["ssh-ed25519 notakey"]`}, nil, nil, "sshPublicKeys", "OpenSSH public key"},
		{"no ssh key at all", nil, []string{"sshPublicKeys"}, nil, "sshPublicKeys", "no SSH key"},
		{"selector malformed", map[string]string{"sshKeySelector": "team==ops;rm"}, nil, nil, "sshKeySelector", "label selector"},
		{"cidr unparsable", map[string]string{"sshAllowedCidrs": `["10.0.0.0/33"]`}, nil, nil, "sshAllowedCidrs", "CIDR"},
		{"ssh port not a number", map[string]string{"sshPort": "ssh"}, nil, nil, "sshPort", "whole number"},
		{"ssh port fixed", map[string]string{"sshPort": "443"}, nil, nil, "sshPort", "https"},
		{"rtp range malformed", map[string]string{"janusRtpPorts": "20000:20100"}, nil, nil, "janusRtpPorts", "port range"},
		{"rtp range reversed", map[string]string{"janusRtpPorts": "20100-20000"}, nil, nil, "janusRtpPorts", "reversed"},
		{"rtp range low", map[string]string{"janusRtpPorts": "1000-1100"}, nil, nil, "janusRtpPorts", "1024-65535"},
		{"rtp range high", map[string]string{"janusRtpPorts": "65000-65600"}, nil, nil, "janusRtpPorts", "1024-65535"},
		{"rtp range fixed port", map[string]string{"janusRtpPorts": "3000-4000"}, nil, nil, "janusRtpPorts", "3478"},
		{"ranges overlap", map[string]string{"turnRelayPorts": "20050-20200"}, nil, nil, "turnRelayPorts", "overlaps"},
		{"dns zone foreign", map[string]string{"dnsZone": "example.net"}, nil, nil, "dnsZone", "does not contain"},
		{"turnOn443 not bool", map[string]string{"turnOn443": "yes please"}, nil, nil, "turnOn443", "true or false"},
		{"turn domain is the domain", map[string]string{"turnDomain": "talk.example.com"}, nil, nil, "turnDomain", "the domain itself"},
		{"turn domain hostile", map[string]string{"turnDomain": "turn.example.com;reboot"}, nil, nil, "turnDomain", "a-z"},
		{"turn domain outside the zone", map[string]string{"dnsZone": "example.com", "turnDomain": "turn.example.net"}, nil, nil, "turnDomain", "outside dnsZone"},
		{"dns zone trailing dot", map[string]string{"dnsZone": "example.com."}, nil, nil, "dnsZone", "trailing dot"},
		{"volume too small", map[string]string{"volumeSize": "5"}, nil, nil, "volumeSize", "10-10240"},
		{"volume too large", map[string]string{"volumeSize": "20000"}, nil, nil, "volumeSize", "10-10240"},
		{"keep on teardown not bool", map[string]string{"keepOnTeardown": "yes please"}, nil, nil, "keepOnTeardown", "true or false"},
		{"volume negative", map[string]string{"volumeSize": "-1"}, nil, nil, "volumeSize", "0 (no volume)"},
		{"image override unknown", map[string]string{"images": `{"redis":"redis:7.4"}`}, nil, nil, "images", "not a service"},
		{"image override unpinned", map[string]string{"images": `{"nats":"nats:latest"}`}, nil, nil, "images", "pinned"},
		{"signaling secret plain text", map[string]string{"signalingSecret": "givenSignalingSecret0123456789"}, nil, nil, "signalingSecret", "--secret"},
		{"turn secret short", map[string]string{"turnSecret": "short"}, nil, []string{"turnSecret"}, "turnSecret", "at least"},
		{"turn secret bad chars", map[string]string{"turnSecret": "has spaces in it 0123456789"}, nil, []string{"turnSecret"}, "turnSecret", "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := minimalConfig()
			maps.Copy(cfg, tt.set)
			for _, k := range tt.unset {
				delete(cfg, k)
			}
			_, err := load(t, cfg, tt.secret...)
			if err == nil {
				t.Fatalf("Load accepted %v", tt.set)
			}
			if keys := ErrorKeys(err); !slices.Contains(keys, tt.wantKey) {
				t.Errorf("error is about keys %v; want %q: %v", keys, tt.wantKey, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "nctalk:"+tt.wantKey+":") {
				t.Errorf("error %q does not name nctalk:%s", msg, tt.wantKey)
			}
			if !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("error %q does not say %q", msg, tt.wantMsg)
			}
			for _, v := range []string{"givenSignalingSecret0123456789", "has spaces in it 0123456789"} {
				if strings.Contains(msg, v) {
					t.Errorf("error %q repeats a secret value", msg)
				}
			}
		})
	}
}

func TestLoadReportsEveryBadKey(t *testing.T) {
	cfg := minimalConfig()
	cfg["location"] = "mars1"
	cfg["volumeSize"] = "3"
	cfg["domain"] = "talk"
	_, err := load(t, cfg)
	got := ErrorKeys(err)
	for _, k := range []string{"domain", "location", "volumeSize"} {
		if !slices.Contains(got, k) {
			t.Errorf("error names keys %v; want %s among them: %v", got, k, err)
		}
	}
}

func TestLoadAcceptsSelectorWithoutPublicKeys(t *testing.T) {
	cfg := minimalConfig()
	delete(cfg, "sshPublicKeys")
	for _, sel := range []string{"team=ops", "team==ops,env!=dev", "env in (prod,dev)", "admin", "!retired"} {
		cfg["sshKeySelector"] = sel
		if _, err := load(t, cfg); err != nil {
			t.Errorf("selector %q: %v", sel, err)
		}
	}
}

func TestSecretDoesNotPrint(t *testing.T) {
	s := Secret("topSecretValue0123456789")
	c := Config{SignalingSecret: s}
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v", s, s, s), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(out, s.Reveal()) {
			t.Errorf("formatted output %q contains the secret", out)
		}
	}
}

// TestLoadRefusesNonBaseNextcloudURLs: the stack loader gets nextcloudUrls
// as the JSON list Pulumi passes, whichever way it was set (`pulumi config
// set --path 'nextcloudUrls[0]' …` or a YAML list in Pulumi.<stack>.yaml);
// a query, empty query, fragment, lone "#" or user info is refused with the
// key named.
func TestLoadRefusesNonBaseNextcloudURLs(t *testing.T) {
	for _, u := range []string{
		"https://cloud.example.org/?a=b", "https://cloud.example.org?a=b", "https://cloud.example.org?",
		"https://cloud.example.org/?", "https://cloud.example.org#", "https://cloud.example.org/#",
		"https://cloud.example.org/nc#talk", "https://admin@cloud.example.org", "https://admin:pw@cloud.example.org/",
		"https://@cloud.example.org",
	} {
		cfg := minimalConfig()
		cfg["nextcloudUrls"] = `["https://cloud.example.com", "` + u + `"]`
		_, err := load(t, cfg)
		if err == nil {
			t.Errorf("%s accepted", u)
			continue
		}
		if !strings.Contains(err.Error(), "nctalk:nextcloudUrls: ") {
			t.Errorf("%s: error does not name nctalk:nextcloudUrls: %v", u, err)
		}
	}
}
