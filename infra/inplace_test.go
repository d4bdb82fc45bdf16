package infra

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/infra/infratest"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/tests/engine"
)

// planned says what a config change plans, as the engine decides it from
// two runs' registrations: the server replaced (its image or location, or
// the boot document's replacement trigger, changes), else what the box is
// told (the apply's unit digests, in words), else whether only Hetzner
// resources change.
func planned(t *testing.T, before, after *infratest.Mocks) string {
	t.Helper()
	srvA, srvB := named(t, before, "nctalk-server"), named(t, after, "nctalk-server")
	stashA, stashB := named(t, before, "nctalk-boot-document"), named(t, after, "nctalk-boot-document")
	if str(srvA.Inputs["image"]) != str(srvB.Inputs["image"]) || str(srvA.Inputs["location"]) != str(srvB.Inputs["location"]) ||
		stashA.ReplacementTrigger != stashB.ReplacementTrigger {
		return "replace"
	}
	if old, new := unitDigests(t, before, "nctalk-apply"), unitDigests(t, after, "nctalk-apply"); len(cloudconfig.CompareUnits(old, new)) > 0 {
		return "in place: " + cloudconfig.DescribeChanges(old, new)
	}
	// A server's user data is its boot document (a stash): the engine
	// keeps the stash's first value until its replacement trigger changes,
	// where the mocks hand on every new one.
	inputs := func(m *infratest.Mocks) map[string]string {
		out := map[string]string{}
		for _, r := range m.Resources() {
			if r.Type == infratest.TypeCommand {
				continue
			}
			in := r.Inputs.Mappable()
			switch r.Type {
			case infratest.TypeStash:
				in = map[string]any{"replacementTrigger": r.ReplacementTrigger}
			case infratest.TypeServer:
				delete(in, "userData")
			}
			b, _ := json.Marshal(in)
			out[r.Type+"::"+r.Name] = string(b)
		}
		return out
	}
	a, b := inputs(before), inputs(after)
	for k, v := range a {
		if b[k] != v {
			return "Hetzner only"
		}
	}
	if len(a) != len(b) {
		return "Hetzner only"
	}
	return "nothing"
}

// unitDigests are the unit digests an apply registered (its triggers[0]).
func unitDigests(t *testing.T, m *infratest.Mocks, apply string) cloudconfig.UnitDigests {
	t.Helper()
	raw := named(t, m, apply).Inputs["triggers"].ArrayValue()[0]
	b, err := json.Marshal(raw.Mappable())
	if err != nil {
		t.Fatal(err)
	}
	var u cloudconfig.UnitDigests
	if err := json.Unmarshal(b, &u); err != nil {
		t.Fatalf("%s's triggers[0] are not unit digests: %v", apply, err)
	}
	return u
}

// TestEveryKeyPlansInPlaceOrReplace is the table of every config key: what
// a change of it plans. Only what needs another machine replaces the server
// (image, location) and sshPort (the stack's own connection goes to it);
// everything else reaches the running box in place, restarting only what it
// touches, or changes Hetzner resources only. The words are what the
// preview summary and the box say. The expectations are written out; a key
// without a row (a new one) is changed to its Sample and must not replace
// the server, the rule README states.
func TestEveryKeyPlansInPlaceOrReplace(t *testing.T) {
	const none = "; coturn, janus, nats, nginx, signaling untouched"
	tests := map[string]struct {
		change func(*config.Config)
		want   string
	}{
		schema.KeyDomain: {func(c *config.Config) { c.Settings.Domain = "talk2.example.com" },
			"in place: files updated, coturn restarted, signaling restarted, nginx reloaded, certificate renewed; janus, nats untouched"},
		schema.KeyNextcloudURLs: {func(c *config.Config) {
			c.Settings.NextcloudURLs = append(c.Settings.NextcloudURLs, "https://cloud2.example.com")
		}, "in place: signaling reloaded; coturn, janus, nats, nginx untouched"},
		schema.KeyACMEEmail:      {func(c *config.Config) { c.Settings.ACMEEmail = "ops@example.com" }, "in place: files updated" + none},
		schema.KeyACMEStaging:    {func(c *config.Config) { c.Settings.ACMEStaging = true }, "in place: files updated, certificate renewed" + none},
		schema.KeyACMEServer:     {func(c *config.Config) { c.Settings.ACMEServer = "https://acme.example.com/directory" }, "in place: files updated, certificate renewed" + none},
		schema.KeyRegistryMirror: {func(c *config.Config) { c.Settings.RegistryMirror = "https://mirror.example.com" }, "in place: dockerd restarted" + none},
		schema.KeyLocation:       {func(c *config.Config) { c.Location = "nbg1" }, "replace"},
		schema.KeyServerType:     {func(c *config.Config) { c.ServerType = "cx33" }, "Hetzner only"},
		schema.KeyImage:          {func(c *config.Config) { c.Image = "debian-12" }, "replace"},
		schema.KeySSHPublicKeys: {func(c *config.Config) {
			c.Settings.SSHAuthorizedKeys = append(c.Settings.SSHAuthorizedKeys, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfUHbVCx8mUKP6yi/nE7NuLzfSw5UXYmulhUXgGbwSP ops@example")
		}, "in place: files updated" + none},
		schema.KeySSHKeySelector: {func(c *config.Config) { c.SSHKeySelector = "team=ops" }, "in place: files updated" + none},
		schema.KeySSHAllowedCIDRs: {func(c *config.Config) {
			c.Settings.SSHAllowedCIDRs = append(c.Settings.SSHAllowedCIDRs, "192.0.2.0/24")
		}, "in place: host-firewall reloaded" + none},
		schema.KeySSHPort:         {func(c *config.Config) { c.Settings.SSHPort = 2222 }, "replace"},
		schema.KeyDNSZone:         {func(c *config.Config) { c.DNSZone = "" }, "Hetzner only"},
		schema.KeyVolumeSize:      {func(c *config.Config) { c.VolumeSize = 20 }, "Hetzner only"},
		schema.KeyKeepOnTeardown:  {func(c *config.Config) { c.KeepOnTeardown = false }, "Hetzner only"},
		schema.KeySignalingSecret: {func(c *config.Config) { c.SignalingSecret = "givenSignalingSecret0123456789abcdef" }, "in place: signaling reloaded; coturn, janus, nats, nginx untouched"},
		schema.KeyTURNSecret:      {func(c *config.Config) { c.TURNSecret = "givenTurnSecret0123456789abcdef" }, "in place: coturn restarted, signaling restarted; janus, nats, nginx untouched"},
		schema.KeyJanusRTPPorts: {func(c *config.Config) { c.Settings.JanusRTPPorts = schema.PortRange{First: 20000, Last: 20200} },
			"in place: host-firewall reloaded, janus restarted; coturn, nats, nginx, signaling untouched"},
		schema.KeyTURNRelayPorts: {func(c *config.Config) { c.Settings.TURNRelayPorts = schema.PortRange{First: 49160, Last: 49300} },
			"in place: host-firewall reloaded, coturn restarted, nginx reloaded; janus, nats, signaling untouched"},
		schema.KeyTURNOn443: {func(c *config.Config) { c.Settings.TURNOn443 = false },
			"in place: files updated, signaling restarted, nginx reloaded, certificate renewed; coturn, janus, nats untouched"},
		schema.KeyTURNDomain: {func(c *config.Config) { c.Settings.TURNDomain = "relay.example.com" },
			"in place: files updated, signaling restarted, nginx reloaded, certificate renewed; coturn, janus, nats untouched"},
		// The first media server: Janus moves off the box (its RTP range
		// closes), signaling's container loses its dependency on it.
		schema.KeyMediaServers: {func(c *config.Config) { c.MediaServers = map[string]string{"media-1": "hel1/cx33"} },
			"in place: files updated, host-firewall reloaded, janus removed, signaling recreated; coturn, nats, nginx untouched"},
		schema.KeyMediaDrain: {func(c *config.Config) { c.MediaDrainMinutes = 30 }, "nothing"}, // no media server to drain
		// Without media servers there is no choice of media server to make.
		schema.KeyGeoIPDatabase:  {func(c *config.Config) { c.GeoIPDatabaseURL = "https://geoip.example.org/country.mmdb" }, "nothing"},
		schema.KeyGeoIPOverrides: {func(c *config.Config) { c.GeoIPOverrides = []string{"203.0.113.0/24=FI"} }, "nothing"},
		schema.KeyImages: {func(c *config.Config) {
			c.Settings.Images = map[string]string{cloudconfig.ServiceNATS: "nats:2.14.7-alpine"}
		}, "in place: nats recreated; coturn, janus, nginx, signaling untouched"},
	}
	for _, k := range schema.Keys {
		if k.Scope == schema.RenderOnly {
			continue // not a key of the stack (stateDevice: the stack uses its volume's)
		}
		tt, ok := tests[k.Name]
		if !ok {
			tt.change = sampleChange(t, k)
		}
		t.Run(k.Name, func(t *testing.T) {
			before := infratest.New(defaultSeed)
			before.SSHKeys["team=ops"] = []infratest.ExistingSSHKey{{ID: existingKeyID, Name: "ops"}}
			mustDeploy(t, testConfig(t), before)
			cfg := testConfig(t)
			tt.change(&cfg)
			after := infratest.New(defaultSeed)
			after.SSHKeys["team=ops"] = before.SSHKeys["team=ops"]
			mustDeploy(t, cfg, after)
			got := planned(t, before, after)
			switch {
			case ok && got != tt.want:
				t.Errorf("a change of %s plans: %s\nwant: %s", k.Name, got, tt.want)
			case !ok && got == "replace":
				t.Errorf("a change of %s to %q replaces the server; only image, location and sshPort may", k.Name, k.Sample)
			}
		})
	}
}

// TestTriggersAreTheRecordedOnes: the engine recorded the apply's
// triggers as the program registers them (the unit digests, then the
// server's ID), so the summary reads what the program sends.
func TestTriggersAreTheRecordedOnes(t *testing.T) {
	raw, err := engine.Fixture("url.preview-sames.json")
	if err != nil {
		t.Fatal(err)
	}
	var preview struct {
		Steps []struct {
			URN      string `json:"urn"`
			NewState struct {
				Inputs map[string]any `json:"inputs"`
			} `json:"newState"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(raw, &preview); err != nil {
		t.Fatal(err)
	}
	for _, s := range preview.Steps {
		if !strings.HasSuffix(s.URN, "$"+infratest.TypeCommand+"::nctalk-apply") {
			continue
		}
		triggers, _ := s.NewState.Inputs["triggers"].([]any)
		units, _ := triggers[0].(map[string]any)
		for _, u := range cloudconfig.Units {
			if _, ok := units[u.Name]; !ok && u.Name != cloudconfig.ServiceProxy { // media servers' only
				t.Errorf("the recorded triggers lack the unit %s: %v", u.Name, units)
			}
		}
		if len(triggers) != 2 {
			t.Errorf("recorded triggers %v; want the digests and the server's ID", triggers)
		}
		return
	}
	t.Fatal("the recording has no step of the apply")
}

// sampleChange sets key k to its Sample, as the stack's loader reads it.
func sampleChange(t *testing.T, k schema.Key) func(*config.Config) {
	var loaded config.Config
	src := schema.Values{k.Name: {Text: k.Sample, Encrypted: k.Kind == schema.KindSecret}}
	if err := schema.Load(src, schema.StackReader, &loaded); err != nil {
		t.Fatalf("%s's Sample does not load: %v", k.Name, err)
	}
	from := taggedField(reflect.ValueOf(&loaded).Elem(), k.Name)
	return func(c *config.Config) {
		taggedField(reflect.ValueOf(c).Elem(), k.Name).Set(from)
	}
}

// taggedField is the field of v tagged with key, in v or an untagged
// struct field of it.
func taggedField(v reflect.Value, key string) reflect.Value {
	for i := range v.NumField() {
		f := v.Type().Field(i)
		switch tag, tagged := f.Tag.Lookup("nctalk"); {
		case tagged && tag == key:
			return v.Field(i)
		case !tagged && f.Type.Kind() == reflect.Struct:
			if inner := taggedField(v.Field(i), key); inner.IsValid() {
				return inner
			}
		}
	}
	return reflect.Value{}
}
