package infra

import (
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/infra/infratest"
	"github.com/nctalk/nctalk/schema"
)

// mediaConfig is the test config with media servers.
func mediaConfig(t *testing.T, servers map[string]string) config.Config {
	t.Helper()
	cfg := testConfig(t)
	cfg.MediaServers = servers
	return cfg
}

// firewallRuleNames are the descriptions of a firewall's rules.
func firewallRuleNames(r infratest.Registration) []string {
	var out []string
	for _, rule := range r.Inputs["rules"].ArrayValue() {
		out = append(out, str(rule.ObjectValue()["description"]))
	}
	return out
}

// TestMediaServerResources: each media server is a box of its own, named
// after its host under the domain: primary IPv4/IPv6 in its location with
// reverse DNS, a firewall from its own port table (Janus' RTP range open;
// the signaling server's closed), A/AAAA records in the zone, a server of
// its type, and an apply whose delete drains it. One proxy token for all,
// generated as RSA; the signaling server's apply waits for the media
// servers'.
func TestMediaServerResources(t *testing.T) {
	m := infratest.New(defaultSeed)
	d := mustDeploy(t, mediaConfig(t, map[string]string{"media-1": "hel1/cx33", "media-2": "ash/cpx32"}), m)

	for _, tt := range []struct{ name, host, location, serverType string }{
		{"media-1", "media-1.talk.example.com", "hel1", "cx33"},
		{"media-2", "media-2.talk.example.com", "ash", "cpx32"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "nctalk-" + tt.name
			srv := named(t, m, prefix+"-server")
			if str(srv.Inputs["name"]) != tt.host || str(srv.Inputs["location"]) != tt.location || str(srv.Inputs["serverType"]) != tt.serverType {
				t.Errorf("server %s in %s as %s; want %s in %s as %s", str(srv.Inputs["name"]), str(srv.Inputs["location"]), str(srv.Inputs["serverType"]), tt.host, tt.location, tt.serverType)
			}
			for _, family := range []string{"ipv4", "ipv6"} {
				ip := named(t, m, prefix+"-"+family)
				if str(ip.Inputs["location"]) != tt.location || str(ip.Inputs["name"]) != strings.ReplaceAll(tt.host, ".", "-")+"-"+family {
					t.Errorf("%s: %s in %s", family, str(ip.Inputs["name"]), str(ip.Inputs["location"]))
				}
				if dp := plain(ip.Inputs["deleteProtection"]); ip.Protect || dp.IsBool() && dp.BoolValue() {
					t.Errorf("%s is protected: removing the media server would fail", family)
				}
				if ptr := str(named(t, m, prefix+"-rdns-"+family).Inputs["dnsPtr"]); ptr != tt.host {
					t.Errorf("%s reverse DNS %q, want %q", family, ptr, tt.host)
				}
			}
			for _, typ := range []string{"A", "AAAA"} {
				if rr := named(t, m, prefix+"-dns-"+typ); str(rr.Inputs["name"]) != strings.TrimSuffix(tt.host, "."+testZone) {
					t.Errorf("%s record %q in the zone, want %q", typ, str(rr.Inputs["name"]), strings.TrimSuffix(tt.host, "."+testZone))
				}
			}
			rules := firewallRuleNames(named(t, m, prefix+"-firewall"))
			for _, want := range []string{"acme-http", "https", "janus-rtp", "ssh", "turn", "turn-relay", "turns"} {
				if !slices.Contains(rules, want) {
					t.Errorf("firewall lacks %s: %v", want, rules)
				}
			}
			apply := named(t, m, prefix+"-apply")
			if got := str(apply.Inputs["delete"]); got != cloudconfig.DrainCommand {
				t.Errorf("the apply's delete is %q, want the drain %q", got, cloudconfig.DrainCommand)
			}
			if !slices.ContainsFunc(named(t, m, "nctalk-apply").Dependencies, func(urn string) bool { return strings.HasSuffix(urn, "::"+prefix+"-apply") }) {
				t.Errorf("the signaling server's apply does not wait for %s's", tt.name)
			}
		})
	}
	if rules := firewallRuleNames(named(t, m, "nctalk-firewall")); slices.Contains(rules, "janus-rtp") {
		t.Errorf("the signaling server's firewall opens Janus' RTP range: %v", rules)
	}
	if v, ok := named(t, m, "nctalk-apply").Inputs["delete"]; ok && v.HasValue() {
		t.Errorf("the signaling server's apply drains on delete: %v", v)
	}
	keys := m.OfType(infratest.TypePrivateKey)
	var rsa []string
	for _, k := range keys {
		if str(k.Inputs["algorithm"]) == "RSA" {
			rsa = append(rsa, k.Name)
		}
	}
	if !slices.Equal(rsa, []string{"nctalk-proxy-token"}) {
		t.Errorf("RSA keys %v, want the one proxy token", rsa)
	}
	turn, _ := d.outputs[schema.OutputTURNServers].value.([]any)
	var servers []string
	for _, e := range turn {
		servers = append(servers, e.(map[string]string)["server"])
	}
	for _, want := range []string{"talk.example.com:3478", "media-1.talk.example.com:3478", "media-1.talk.example.com:5349", "media-2.talk.example.com:5349"} {
		if !slices.Contains(servers, want) {
			t.Errorf("the TURN servers output lacks %s: %v", want, servers)
		}
	}
}

// TestProxyTokenStaysSecret: the proxy token's private key is a secret in
// every input that carries it, and in no output, the redacted cloud-config
// included.
func TestProxyTokenStaysSecret(t *testing.T) {
	m := infratest.New(defaultSeed)
	d := mustDeploy(t, mediaConfig(t, map[string]string{"media-1": "hel1/cx33"}), m)
	var private string
	for _, k := range m.OfType(infratest.TypePrivateKey) {
		if k.Name == "nctalk-proxy-token" {
			private = str(k.State["privateKeyPem"])
		}
	}
	line := strings.Split(private, "\n")[1]
	if len(line) < 40 {
		t.Fatalf("no private key recorded: %q", private)
	}
	for _, r := range m.Registrations() {
		for k, v := range r.Inputs {
			if !v.ContainsSecrets() && strings.Contains(v.String(), line[:40]) {
				t.Errorf("%s's input %s carries the proxy token's private key in the clear", r.Name, k)
			}
		}
	}
	for k, o := range d.outputs {
		if s, ok := o.value.(string); ok && strings.Contains(s, line[:40]) {
			t.Errorf("output %s carries the proxy token's private key", k)
		}
	}
	if !strings.Contains(d.outputs["cloudConfigRedacted"].value.(string), "<redacted:proxyTokenKey>") {
		t.Error("the redacted cloud-config has no marker of the proxy token's key")
	}
}

// TestMediaServerGrowAndShrink: adding a media server or removing one
// reloads signaling on the signaling server (its proxy list) and nothing
// else there; the other media servers are not touched.
func TestMediaServerGrowAndShrink(t *testing.T) {
	one := map[string]string{"media-1": "hel1/cx33"}
	two := map[string]string{"media-1": "hel1/cx33", "media-2": "fsn1/cx33"}
	for _, tt := range []struct {
		name     string
		from, to map[string]string
	}{{"added", one, two}, {"removed", two, one}} {
		t.Run(tt.name, func(t *testing.T) {
			before, after := infratest.New(defaultSeed), infratest.New(defaultSeed)
			mustDeploy(t, mediaConfig(t, tt.from), before)
			mustDeploy(t, mediaConfig(t, tt.to), after)
			if got, want := planned(t, before, after), "in place: signaling reloaded; coturn, nats, nginx untouched"; got != want {
				t.Errorf("the signaling server: %s\nwant: %s", got, want)
			}
			triggers := func(m *infratest.Mocks) string {
				return named(t, m, "nctalk-media-1-apply").Inputs["triggers"].String()
			}
			if triggers(before) != triggers(after) {
				t.Error("media-1 is told something")
			}
		})
	}
}

// TestMediaServersRefused: bad entries are refused at preview, naming the
// key and what would be valid, before any resource is registered.
func TestMediaServersRefused(t *testing.T) {
	tests := []struct {
		name    string
		servers map[string]string
		want    string
	}{
		{"unknown location", map[string]string{"media-1": "fra1/cx33"}, `media-1: "fra1" is not a Hetzner Cloud location`},
		{"type not offered there", map[string]string{"media-1": "ash/cx33"}, `media-1: "cx33" is not offered in nctalk:location ash (it is in fsn1, hel1, nbg1)`},
		{"withdrawn type", map[string]string{"media-1": "hel1/cx22"}, `"cx22" is not a current Hetzner server type`},
		{"no server type", map[string]string{"media-1": "hel1"}, `"hel1" is not location/serverType`},
		{"name not a DNS label", map[string]string{"Media_1": "hel1/cx33"}, `name "Media_1": want a DNS label`},
		{"the TURN name", map[string]string{"turn": "hel1/cx33"}, "is the TURN name of 443"},
		{"more than the limit", func() map[string]string {
			m := map[string]string{}
			for i := range schema.MaxMediaServers + 1 {
				m["media-"+string(rune('a'+i))] = "hel1/cx33"
			}
			return m
		}(), "has 17 entries; the limit is 16"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.MediaServers = tt.servers
			_, err := cfg.Validated()
			if err == nil { // the catalogue's refusals come at preview
				m := infratest.New(defaultSeed)
				d := deploy(t, cfg, m)
				err = d.err
				if len(m.Resources()) > 0 {
					t.Errorf("%d resources registered before the refusal", len(m.Resources()))
				}
			}
			if err == nil || !strings.Contains(err.Error(), "nctalk:mediaServers") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant nctalk:mediaServers … %s", err, tt.want)
			}
		})
	}
}

// TestMediaDrainMinutesReachesTheMediaServers: mediaDrainMinutes bounds the
// drain the media server runs when the stack deletes it (its nctalk-apply,
// in the bundle the apply's delete hands it), and a change of it rewrites
// that script on every media server, restarting nothing, and tells the
// signaling server nothing.
func TestMediaDrainMinutesReachesTheMediaServers(t *testing.T) {
	servers := map[string]string{"media-1": "hel1/cx33", "media-2": "ash/cpx32"}
	before, after := infratest.New(defaultSeed), infratest.New(defaultSeed)
	mustDeploy(t, mediaConfig(t, servers), before)
	cfg := mediaConfig(t, servers)
	cfg.MediaDrainMinutes = 10
	mustDeploy(t, cfg, after)
	if got := planned(t, before, after); got != "nothing" {
		t.Errorf("the signaling server: %s, want nothing", got)
	}
	for name := range servers {
		apply := named(t, after, "nctalk-"+name+"-apply")
		bundle, err := cloudconfig.DecodeBundle(str(apply.Inputs["stdin"]))
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(bundle.Files, func(f cloudconfig.File) bool { return strings.HasSuffix(f.Path, "/nctalk-apply") })
		if i < 0 {
			t.Fatalf("%s's bundle has no nctalk-apply", name)
		}
		if script := string(bundle.Files[i].Content); !strings.Contains(script, "compose stop --timeout 600 proxy") {
			t.Errorf("%s drains for other than mediaDrainMinutes 10 (600 s):\n%s", name, script)
		}
		if got, want := cloudconfig.DescribeChanges(unitDigests(t, before, "nctalk-"+name+"-apply"), unitDigests(t, after, "nctalk-"+name+"-apply")),
			"files updated; coturn, janus, nginx, proxy untouched"; got != want {
			t.Errorf("%s does: %s\nwant: %s", name, got, want)
		}
	}
}

// TestGeoIPReachesSignaling: with media servers, geoipOverrides reach the
// signaling server's server.conf and a change of them reloads signaling
// only; bad entries are refused with the key named before any resource
// is registered.
func TestGeoIPReachesSignaling(t *testing.T) {
	servers := map[string]string{"media-1": "hel1/cx33"}
	before, after := infratest.New(defaultSeed), infratest.New(defaultSeed)
	mustDeploy(t, mediaConfig(t, servers), before)
	cfg := mediaConfig(t, servers)
	cfg.GeoIPOverrides = []string{"203.0.113.0/24=FI"}
	mustDeploy(t, cfg, after)
	if got, want := planned(t, before, after), "in place: signaling reloaded; coturn, nats, nginx untouched"; got != want {
		t.Errorf("the signaling server: %s\nwant: %s", got, want)
	}
	bundle, err := cloudconfig.DecodeBundle(str(named(t, after, "nctalk-apply").Inputs["stdin"]))
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(bundle.Files, func(f cloudconfig.File) bool { return f.Path == cloudconfig.SignalingConfig })
	if i < 0 || !strings.Contains(string(bundle.Files[i].Content), "[geoip-overrides]\n203.0.113.0/24 = FI\n") {
		t.Errorf("the signaling server's server.conf lacks the override")
	}

	for _, tt := range []struct {
		key    string
		change func(*config.Config)
		want   string
	}{
		{schema.KeyGeoIPOverrides, func(c *config.Config) { c.GeoIPOverrides = []string{"203.0.113.0/24=Finland"} }, "is not a country code of two capital letters"},
		{schema.KeyGeoIPOverrides, func(c *config.Config) { c.GeoIPOverrides = []string{"office=FI"} }, "is not an IPv4 address or prefix"},
		{schema.KeyGeoIPDatabase, func(c *config.Config) { c.GeoIPDatabaseURL = "http://geoip.example.org/a.mmdb" }, "want an https URL"},
	} {
		cfg := mediaConfig(t, servers)
		tt.change(&cfg)
		_, err := cfg.Validated()
		if err == nil || !strings.Contains(err.Error(), "nctalk:"+tt.key) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v\nwant nctalk:%s … %s", err, tt.key, tt.want)
		}
	}
}
