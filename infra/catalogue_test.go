package infra

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"

	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/infra/infratest"
	"github.com/nctalk/nctalk/schema"
)

// TestCatalogueAtPreview runs the stack against the mocked catalogue: a
// withdrawn, unknown or misplaced server type, an unknown location and an
// unknown or deprecated image fail before anything is registered, naming
// the key, the reason and what Hetzner offers instead.
func TestCatalogueAtPreview(t *testing.T) {
	tests := []struct {
		name       string
		location   string
		serverType string
		image      string
		wantKey    string   // "" means the deployment succeeds
		want       []string // substrings of the error
	}{
		{"good x86", "fsn1", "cx23", "debian-13", "", nil},
		{"good arm", "nbg1", "cax11", "debian-13", "", nil},
		{"good everywhere type", "ash", "cpx22", "debian-12", "", nil},
		{"good snapshot id", "fsn1", "cx23", "310557660", "", nil},
		{"deprecated type", "fsn1", "cx22", "debian-13", schema.KeyServerType,
			[]string{`"cx22" is deprecated`, "2025-12-31", "current types in fsn1: cax11, cax21, cax31, cax41, cx23, cx33, cx43, cx53, cpx12, cpx22, cpx32, cpx42, cpx52, cpx62"}},
		{"deprecated everywhere", "ash", "cpx11", "debian-13", schema.KeyServerType,
			[]string{`"cpx11" is deprecated`, "current types in ash: cpx12, cpx22, cpx32, cpx42, cpx52, cpx62"}},
		{"withdrawn cx32", "fsn1", "cx32", "debian-13", schema.KeyServerType,
			[]string{`"cx32" is deprecated`, "current types in fsn1: cax11"}},
		{"unknown type", "fsn1", "cx99", "debian-13", schema.KeyServerType,
			[]string{`"cx99" is unknown to Hetzner`, "current types in fsn1: cax11, cax21, cax31, cax41, cx23, cx33, cx43, cx53, cpx12, cpx22, cpx32, cpx42, cpx52, cpx62"}},
		{"type not in location", "ash", "cx23", "debian-13", schema.KeyServerType,
			[]string{`"cx23" is not offered in nctalk:location ash`, "it is in fsn1, hel1, nbg1", "current types in ash: cpx12, cpx22, cpx32, cpx42, cpx52, cpx62"}},
		{"unknown location", "fra1", "cx23", "debian-13", schema.KeyLocation,
			[]string{`"fra1" is not a Hetzner location`, "ash, fsn1, hel1, hil, nbg1, sin"}},
		{"unknown image", "fsn1", "cx23", "debian-99", schema.KeyImage,
			[]string{`"debian-99" is unknown to Hetzner for x86 servers`, "current Debian images: debian-12, debian-13"}},
		{"image not for arm", "fsn1", "cax11", "ubuntu-24.04", schema.KeyImage,
			[]string{`"ubuntu-24.04" is unknown to Hetzner for arm servers`}},
		{"deprecated image", "fsn1", "cx23", "debian-11", schema.KeyImage,
			[]string{`"debian-11" is deprecated`, "current Debian images: debian-12, debian-13"}},
		{"unknown snapshot id", "fsn1", "cx23", "12345", schema.KeyImage,
			[]string{`"12345" is unknown to Hetzner`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Location, cfg.ServerType, cfg.Image = tt.location, tt.serverType, tt.image
			m := infratest.New(defaultSeed)
			d := deploy(t, cfg, m)
			if tt.wantKey == "" {
				if d.err != nil {
					t.Fatalf("NewTalkBackend: %v", d.err)
				}
				srv := one(t, m, infratest.TypeServer).Inputs
				if got := str(srv["serverType"]) + " " + str(srv["location"]) + " " + str(srv["image"]); got != tt.serverType+" "+tt.location+" "+tt.image {
					t.Errorf("server = %s", got)
				}
				return
			}
			if d.err == nil {
				t.Fatalf("%s/%s/%s was accepted; want an error about nctalk:%s", tt.location, tt.serverType, tt.image, tt.wantKey)
			}
			msg := d.err.Error()
			if !strings.HasPrefix(msg, "nctalk:"+tt.wantKey+": ") {
				t.Errorf("error %q does not start with nctalk:%s", msg, tt.wantKey)
			}
			if keys := config.ErrorKeys(d.err); !slices.Equal(keys, []string{tt.wantKey}) {
				t.Errorf("ErrorKeys = %v; want [%s]", keys, tt.wantKey)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			if regs := m.Resources(); len(regs) != 0 {
				t.Errorf("%d resources registered; want none", len(regs))
			}
		})
	}
}

// TestCatalogueLookupsAreMade checks the stack asks the provider (not an
// offline list) for each of the three values.
func TestCatalogueLookupsAreMade(t *testing.T) {
	m := infratest.New(defaultSeed)
	mustDeploy(t, testConfig(t), m)
	var tokens []string
	for _, c := range m.Calls() {
		tokens = append(tokens, c.Token)
	}
	for _, want := range []string{infratest.TokenGetLocations, infratest.TokenGetServerTypes, infratest.TokenGetImages, infratest.TokenGetServers, infratest.TokenGetZones} {
		if !slices.Contains(tokens, want) {
			t.Errorf("invokes %v; want %s", tokens, want)
		}
	}
}

// TestDNSZoneNotInCloudDNS: a zone that is still on the old DNS Console is
// not in the Cloud API; the preview fails naming nctalk:dnsZone and says
// what to do, instead of the provider's bare not-found at create time.
func TestDNSZoneNotInCloudDNS(t *testing.T) {
	tests := []struct {
		name  string
		zones map[string]string
		want  []string // substrings of the error; none: success
	}{
		{"migrated", map[string]string{"example.com": "primary"}, nil},
		{"still on the DNS Console", map[string]string{"example.org": "primary"},
			[]string{`zone "example.com" is not in this project's Hetzner DNS`, "old DNS Console", "migrated to the Hetzner Console",
				"pulumi config rm nctalk:dnsZone", "create the A and AAAA records by hand"}},
		{"secondary zone", map[string]string{"example.com": "secondary"},
			[]string{`zone "example.com" is a secondary zone`, "leave nctalk:dnsZone empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := infratest.New(defaultSeed)
			m.Catalogue.Zones = tt.zones
			d := deploy(t, testConfig(t), m)
			if tt.want == nil {
				if d.err != nil {
					t.Fatalf("NewTalkBackend: %v", d.err)
				}
				return
			}
			if d.err == nil {
				t.Fatal("deployment succeeded; want an error about nctalk:dnsZone")
			}
			if keys := config.ErrorKeys(d.err); !slices.Equal(keys, []string{schema.KeyDNSZone}) {
				t.Errorf("ErrorKeys = %v; want [dnsZone]: %v", keys, d.err)
			}
			for _, w := range tt.want {
				if !strings.Contains(d.err.Error(), w) {
					t.Errorf("error %q does not say %q", d.err, w)
				}
			}
			if regs := m.Resources(); len(regs) != 0 {
				t.Errorf("%d resources registered; want none", len(regs))
			}
		})
	}
	t.Run("no zone, no look-up", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.DNSZone = ""
		m := infratest.New(defaultSeed)
		m.Catalogue.Zones = nil
		mustDeploy(t, cfg, m)
		for _, c := range m.Calls() {
			if c.Token == infratest.TokenGetZone || c.Token == infratest.TokenGetZones {
				t.Error("the zones looked up without dnsZone")
			}
		}
	})
}

// TestServerTypeWithdrawnEverywhere: a type Hetzner still lists but in no
// location (or only deprecated ones) is reported as deprecated, not as
// "offered in" an empty list.
func TestServerTypeWithdrawnEverywhere(t *testing.T) {
	m := infratest.New(defaultSeed)
	m.Catalogue.ServerTypes = append(m.Catalogue.ServerTypes, infratest.ServerType{ID: 9, Name: "cx21", Architecture: "x86"})
	cfg := testConfig(t)
	cfg.ServerType = "cx21"
	d := deploy(t, cfg, m)
	if d.err == nil || !strings.Contains(d.err.Error(), `nctalk:serverType: "cx21" is deprecated by Hetzner (offered in no location)`) {
		t.Errorf("error = %v; want cx21 deprecated, offered nowhere", d.err)
	}
}

// TestCatalogueKeepsARunningStack: what Hetzner withdraws after a server
// was created locks no update of the stack that runs on it (nor the `up`
// of an admin moving away from it); it stops only a server that would be
// created or resized to it. A deprecated type that can still be ordered
// only warns. (The engine run showed every `up` of such a stack failing.)
func TestCatalogueKeepsARunningStack(t *testing.T) {
	orderable := func(c *infratest.Catalogue) {
		for i, st := range c.ServerTypes {
			if st.Name == "cx23" {
				for j := range st.Locations {
					c.ServerTypes[i].Locations[j] = infratest.TypeLocation{Name: st.Locations[j].Name, Deprecated: true, Available: true, UnavailableAfter: "2099-01-01T00:00:00+00:00"}
				}
			}
		}
	}
	running := func(serverType, image string) []infratest.RunningServer {
		return []infratest.RunningServer{{Name: testDomain, ServerType: serverType, Image: image, Labels: map[string]string{"app": "nctalk", "stack": "dev"}}}
	}
	tests := []struct {
		name       string
		catalogue  func(*infratest.Catalogue)
		running    []infratest.RunningServer
		serverType string
		image      string
		wantErr    string // "" means the deployment succeeds
	}{
		{"deprecated but orderable: created with a warning", orderable, nil, "cx23", "debian-13", ""},
		{"withdrawn, the running server has it", nil, running("cx22", "debian-13"), "cx22", "debian-13", ""},
		{"withdrawn, a resize to it", nil, running("cx23", "debian-13"), "cx22", "debian-13", `nctalk:serverType: "cx22" is deprecated`},
		{"withdrawn, no server yet", nil, nil, "cx22", "debian-13", `nctalk:serverType: "cx22" is deprecated`},
		{"another stack's server does not count", nil, []infratest.RunningServer{{Name: testDomain, ServerType: "cx22", Image: "debian-13", Labels: map[string]string{"app": "nctalk", "stack": "prod"}}}, "cx22", "debian-13", `"cx22" is deprecated`},
		{"deprecated image, the running server has it", nil, running("cx23", "debian-11"), "cx23", "debian-11", ""},
		{"deprecated image, a new server", nil, nil, "cx23", "debian-11", `nctalk:image: "debian-11" is deprecated`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := infratest.New(defaultSeed)
			if tt.catalogue != nil {
				tt.catalogue(&m.Catalogue)
			}
			m.Running = tt.running
			cfg := testConfig(t)
			cfg.ServerType, cfg.Image = tt.serverType, tt.image
			d := deploy(t, cfg, m)
			switch {
			case tt.wantErr == "" && d.err != nil:
				t.Fatalf("NewTalkBackend: %v", d.err)
			case tt.wantErr != "" && (d.err == nil || !strings.Contains(d.err.Error(), tt.wantErr)):
				t.Fatalf("error = %v; want one saying %q", d.err, tt.wantErr)
			case tt.wantErr != "" && strings.Count(d.err.Error(), "nctalk:") != 1:
				t.Errorf("error %q names a key more than once", d.err)
			}
		})
	}
}

// TestServerTypeWarnings: the warnings a preview prints about the server
// type. A running server of a current type gets none (every preview of
// such a stack warned that its type "can no longer be ordered", listing
// that very type among the current ones); one Hetzner withdrew from its
// location is told a rebuild needs another; a deprecated type that can
// still be ordered is told to move on.
func TestServerTypeWarnings(t *testing.T) {
	at := func(deprecated, available bool, after string) []hcloud.GetServerTypesServerTypeLocation {
		return []hcloud.GetServerTypesServerTypeLocation{{Name: "fsn1", IsDeprecated: deprecated, Available: available, UnavailableAfter: after}}
	}
	types := []hcloud.GetServerTypesServerType{
		{Name: "cx33", Locations: at(false, true, "")},
		{Name: "cx22", Locations: at(true, false, "2025-12-31T23:59:59+00:00")},
		{Name: "cx32", Locations: at(true, true, "2099-01-01T00:00:00+00:00")},
		{Name: "cx11"}, // in no location
	}
	for _, tt := range []struct {
		name, serverType string
		keeps            bool
		want             string // "" for no warning
	}{
		{"current, the running server has it", "cx33", true, ""},
		{"current, a new server", "cx33", false, ""},
		{"withdrawn, the running server has it", "cx22", true, `"cx22" can no longer be ordered in fsn1; the running server keeps it, but a rebuild needs another type: cx33`},
		{"not listed in the location any more, the running server has it", "cx11", true, `"cx11" can no longer be ordered in fsn1`},
		{"deprecated but orderable, the running server has it", "cx32", true, `"cx32" is deprecated by Hetzner (cannot be created after 2099-01-01T00:00:00+00:00)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, warning, err := pickServerType(types, tt.serverType, "fsn1", tt.keeps)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" && warning != "" || !strings.Contains(warning, tt.want) {
				t.Errorf("warning %q, want %q", warning, tt.want)
			}
		})
	}
}
