package schema

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// mapSource is a Source over a map; structured marks values that are
// lists or maps, encrypted the keys held encrypted.
type mapSource struct {
	values     map[string]string
	structured map[string]bool
	encrypted  map[string]bool
	listable   bool
}

func (m mapSource) Lookup(key string) (Value, bool, error) {
	v, ok := m.values[key]
	return Value{Text: v, Structured: m.structured[key], Encrypted: m.encrypted[key]}, ok, nil
}

func (m mapSource) Names() []string {
	if !m.listable {
		return nil
	}
	var names []string
	for k := range m.values {
		names = append(names, k)
	}
	return names
}

// target has a field for every key, the way Settings and the stack's
// Config tag theirs.
type target struct {
	Inner struct {
		Domain   string            `nctalk:"domain"`
		URLs     []string          `nctalk:"nextcloudUrls"`
		Email    string            `nctalk:"acmeEmail"`
		Staging  bool              `nctalk:"acmeStaging"`
		Server   string            `nctalk:"acmeServer"`
		Mirror   string            `nctalk:"registryMirror"`
		Keys     []string          `nctalk:"sshPublicKeys"`
		CIDRs    []string          `nctalk:"sshAllowedCidrs"`
		SSHPort  int               `nctalk:"sshPort"`
		RTP      PortRange         `nctalk:"janusRtpPorts"`
		Relay    PortRange         `nctalk:"turnRelayPorts"`
		Off443   bool              `nctalk:"turnOn443,negate"`
		TURNName string            `nctalk:"turnDomain"`
		Images   map[string]string `nctalk:"images"`
		Device   string            `nctalk:"stateDevice"`
	}
	Location  string     `nctalk:"location"`
	Type      string     `nctalk:"serverType"`
	Image     string     `nctalk:"image"`
	Selector  string     `nctalk:"sshKeySelector"`
	Zone      string     `nctalk:"dnsZone"`
	Volume    int        `nctalk:"volumeSize"`
	Keep      bool       `nctalk:"keepOnTeardown"`
	Signaling secretText `nctalk:"signalingSecret"`
	TURN      string     `nctalk:"turnSecret"`
}

// secretText stands for a string type such as the stack's config.Secret.
type secretText string

func TestLoadAppliesTheSchemaDefaults(t *testing.T) {
	var got target
	if err := Load(mapSource{}, StackReader, &got); err != nil {
		t.Fatalf("Load: %v", err)
	}
	in := got.Inner
	if in.SSHPort != 22 || in.RTP != (PortRange{First: 20000, Last: 20100}) || in.Relay != (PortRange{First: 49160, Last: 49200}) {
		t.Errorf("sshPort %d, janusRtpPorts %v, turnRelayPorts %v; want 22, 20000-20100, 49160-49200", in.SSHPort, in.RTP, in.Relay)
	}
	if !slices.Equal(in.CIDRs, []string{"0.0.0.0/0", "::/0"}) || in.Keys == nil || len(in.Keys) != 0 || in.Images == nil {
		t.Errorf("sshAllowedCidrs %q, sshPublicKeys %#v, images %#v; want anywhere, empty list, empty map", in.CIDRs, in.Keys, in.Images)
	}
	if in.Off443 || !got.Keep || got.Location != "fsn1" || got.Type != "cx23" || got.Image != "debian-13" || got.Volume != 10 {
		t.Errorf("turnOn443 off=%v keepOnTeardown=%v location=%s serverType=%s image=%s volumeSize=%d", in.Off443, got.Keep, got.Location, got.Type, got.Image, got.Volume)
	}
}

func TestLoadReadsEveryKind(t *testing.T) {
	src := mapSource{values: map[string]string{
		"domain": "talk.example.org", "nextcloudUrls": `["https://a.example.org"]`, "acmeStaging": "true",
		"sshPort": "2222", "janusRtpPorts": "30000-30100", "turnOn443": "false", "images": `{"nats":"nats:2.14.5-alpine"}`,
		"signalingSecret": "s3cretSignalingValue", "volumeSize": "0",
	}, encrypted: map[string]bool{"signalingSecret": true}}
	var got target
	if err := Load(src, StackReader, &got); err != nil {
		t.Fatalf("Load: %v", err)
	}
	in := got.Inner
	if in.Domain != "talk.example.org" || !slices.Equal(in.URLs, []string{"https://a.example.org"}) || !in.Staging || in.SSHPort != 2222 ||
		in.RTP != (PortRange{First: 30000, Last: 30100}) || !in.Off443 || in.Images["nats"] != "nats:2.14.5-alpine" ||
		got.Signaling != "s3cretSignalingValue" || got.Volume != 0 {
		t.Errorf("Load = %+v", got)
	}
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name   string
		reader Scope
		src    mapSource
		key    string
		want   string
	}{
		{"bool", StackReader, mapSource{values: map[string]string{"acmeStaging": "yes please"}}, "acmeStaging", "not true or false"},
		{"int", StackReader, mapSource{values: map[string]string{"sshPort": "22x"}}, "sshPort", "not a whole number"},
		{"int out of range", RenderReader, mapSource{values: map[string]string{"sshPort": "0"}}, "sshPort", "0 is out of range; want 1-65535"},
		{"port range", StackReader, mapSource{values: map[string]string{"turnRelayPorts": "high"}}, "turnRelayPorts", "first-last"},
		{"list", StackReader, mapSource{values: map[string]string{"nextcloudUrls": "https://a.example.org"}}, "nextcloudUrls", "pulumi config set --path 'nextcloudUrls[0]'"},
		{"map", StackReader, mapSource{values: map[string]string{"images": `["nats"]`}}, "images", "not a map of strings"},
		{"list for a string", RenderReader, mapSource{values: map[string]string{"domain": `["a.example.org"]`}, structured: map[string]bool{"domain": true}}, "domain", "want a string"},
		{"plain secret in the stack", StackReader, mapSource{values: map[string]string{"turnSecret": "plainTurnSecretValue"}}, "turnSecret", "pulumi config set --secret turnSecret"},
		{"encrypted secret for render", RenderReader, mapSource{values: map[string]string{"turnSecret": ""}, encrypted: map[string]bool{"turnSecret": true}}, "turnSecret", "--secrets file"},
		{"unknown key", RenderReader, mapSource{values: map[string]string{"domian": "x"}, listable: true}, "domian", "known keys: domain,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got target
			err := Load(tt.src, tt.reader, &got)
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v; want a %s error saying %q", err, tt.key, tt.want)
			}
			if strings.Contains(err.Error(), "plainTurnSecretValue") {
				t.Errorf("the error shows the secret's value: %v", err)
			}
		})
	}
}

func TestLoadReadsOnlyItsScope(t *testing.T) {
	src := mapSource{values: map[string]string{"location": "hel1", "stateDevice": "/dev/vdb"}, listable: true}
	var stack, render target
	if err := Load(src, StackReader, &stack); err != nil {
		t.Fatal(err)
	}
	if err := Load(src, RenderReader, &render); err != nil {
		t.Fatal(err)
	}
	if stack.Location != "hel1" || stack.Inner.Device != "" {
		t.Errorf("the stack read location %q, stateDevice %q; want hel1 and nothing", stack.Location, stack.Inner.Device)
	}
	if render.Location != "" || render.Inner.Device != "/dev/vdb" {
		t.Errorf("render read location %q, stateDevice %q; want nothing and /dev/vdb", render.Location, render.Inner.Device)
	}
}

func TestLoadPanicsOnAnUnboundKey(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `nctalk:"domain"`) {
			t.Errorf("recover() = %v; want a panic naming the unbound key domain", r)
		}
	}()
	var partial struct {
		Location string `nctalk:"location"`
	}
	_ = Load(mapSource{}, StackReader, &partial)
}

// TestKeysAreWellFormed: names unique, required keys without default,
// optional keys with one that loads, grammars named after their key.
func TestKeysAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys {
		if seen[k.Name] {
			t.Errorf("%s is declared twice", k.Name)
		}
		seen[k.Name] = true
		if k.Required == (k.Default != nil) {
			t.Errorf("%s: required=%v default=%#v; a key has a default exactly when it is optional", k.Name, k.Required, k.Default)
		}
		if k.Doc == "" {
			t.Errorf("%s has no doc line", k.Name)
		}
		if k.Grammar != nil && k.Grammar.Key != k.Name {
			t.Errorf("%s's grammar is named %s", k.Name, k.Grammar.Key)
		}
		if (k.Kind == KindList || k.Kind == KindMap) && !strings.Contains(k.Example, k.Name) {
			t.Errorf("%s: a list or map key needs an Example that shows how to set it", k.Name)
		}
	}
	for _, s := range Secrets {
		if err := s.Check(strings.Repeat("a", s.Length)); err != nil {
			t.Errorf("a generated %s of %d characters would be refused: %v", s.Name, s.Length, err)
		}
		if k, ok := Lookup(s.Name); s.Configurable != ok || ok && k.Kind != KindSecret {
			t.Errorf("secret %s: configurable=%v, but config key found=%v", s.Name, s.Configurable, ok)
		}
	}
	if !reflect.DeepEqual(KeysFor(StackReader)[:3], []string{KeyDomain, KeyNextcloudURLs, KeyACMEEmail}) {
		t.Errorf("KeysFor(StackReader) starts %v", KeysFor(StackReader)[:3])
	}
}
