package cloudconfig

import (
	"strings"
	"testing"
)

// geoipPlan is the scale-out reference plan with g.
func geoipPlan(t *testing.T, g GeoIP) Plan {
	t.Helper()
	p, err := mediaPlan(t, twoMediaServers()).WithGeoIP(g)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGeoIPOnTheSignalingServer: the database URL and the overrides reach
// signaling's server.conf as [geoip] url and [geoip-overrides] (networks
// masked, sorted, a bare address as its /32), on the signaling
// server of a scale-out only; without them neither section is written.
func TestGeoIPOnTheSignalingServer(t *testing.T) {
	g := GeoIP{
		DatabaseURL: "https://download.db-ip.com/free/dbip-country-lite-2026-12.mmdb.gz",
		Overrides:   []string{"192.0.2.0/25=DE", "203.0.113.77/24=FI", "198.51.100.7=SE"},
	}
	conf := func(p Plan) string { return string(mustPlanFiles(t, p)[SignalingConfig].Content) }
	want := `token_key = /opt/nctalk/signaling/proxy-token.key

[geoip]
url = https://download.db-ip.com/free/dbip-country-lite-2026-12.mmdb.gz

[geoip-overrides]
192.0.2.0/25 = DE
198.51.100.7/32 = SE
203.0.113.0/24 = FI

[turn]`
	if got := conf(geoipPlan(t, g)); !strings.Contains(got, want) {
		t.Errorf("server.conf lacks\n%s\nin\n%s", want, got)
	}
	if got := conf(geoipPlan(t, GeoIP{})); strings.Contains(got, "[geoip") {
		t.Errorf("server.conf without GeoIP has a geoip section:\n%s", got)
	}
	one, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	if one, err = one.WithGeoIP(g); err != nil {
		t.Fatal(err)
	}
	if got := conf(one); strings.Contains(got, "[geoip") {
		t.Errorf("a single box (one Janus, nothing to choose) got a geoip section:\n%s", got)
	}
	media, err := geoipPlan(t, g).ForMediaServer("media-1")
	if err != nil {
		t.Fatal(err)
	}
	for path, f := range mustPlanFiles(t, media) {
		if strings.Contains(string(f.Content), "geoip") {
			t.Errorf("a media server's %s mentions geoip", path)
		}
	}
}

// TestGeoIPChangesWhatTheyTouch: new overrides reload signaling (2.0.2 and
// 2.1.1 reread [geoip-overrides] on SIGHUP); another database URL restarts
// it (read at start only).
func TestGeoIPChangesWhatTheyTouch(t *testing.T) {
	units := func(g GeoIP) UnitDigests {
		b, err := geoipPlan(t, g).Bundle(fakeSecrets())
		if err != nil {
			t.Fatal(err)
		}
		return b.Units
	}
	base := GeoIP{DatabaseURL: "https://geoip.example.org/a.mmdb", Overrides: []string{"203.0.113.0/24=FI"}}
	for _, tt := range []struct {
		name string
		to   GeoIP
		want string
	}{
		{"an override added", GeoIP{DatabaseURL: base.DatabaseURL, Overrides: []string{"203.0.113.0/24=FI", "192.0.2.0/24=DE"}}, "signaling reloaded; coturn, nats, nginx untouched"},
		{"the overrides removed", GeoIP{DatabaseURL: base.DatabaseURL}, "signaling reloaded; coturn, nats, nginx untouched"},
		{"another database", GeoIP{DatabaseURL: "https://geoip.example.org/b.mmdb", Overrides: base.Overrides}, "signaling restarted; coturn, nats, nginx untouched"},
		{"the same, written otherwise", GeoIP{DatabaseURL: base.DatabaseURL, Overrides: []string{"203.0.113.9/24=FI"}}, "nothing on the box changes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := DescribeChanges(units(base), units(tt.to)); got != tt.want {
				t.Errorf("the box does: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestWithGeoIPRefuses: each bad value is refused, naming the entry and
// what would be valid; hostile strings never reach server.conf.
func TestWithGeoIPRefuses(t *testing.T) {
	many := make([]string, 65)
	for i := range many {
		many[i] = "10.0." + string(rune('0'+i/10)) + string(rune('0'+i%10)) + ".0/24=DE"
	}
	tests := []struct {
		name string
		g    GeoIP
		want string
	}{
		{"no =", GeoIP{Overrides: []string{"203.0.113.0/24"}}, "is not network=CC"},
		{"not a network", GeoIP{Overrides: []string{"office=FI"}}, "is not an IPv4 address or prefix"},
		{"prefix too long", GeoIP{Overrides: []string{"203.0.113.0/33=FI"}}, "is not an IPv4 address or prefix"},
		{"a zone", GeoIP{Overrides: []string{"fe80::1%eth0=FI"}}, "is not an IPv4 address or prefix"},
		{"IPv6", GeoIP{Overrides: []string{"2001:db8::/32=FI"}}, "IPv6 networks cannot be written in signaling's server.conf"},
		{"IPv4 in IPv6", GeoIP{Overrides: []string{"::ffff:192.0.2.1=FI"}}, "is not an IPv4 address or prefix"},
		{"lower-case country", GeoIP{Overrides: []string{"203.0.113.0/24=fi"}}, "two capital letters"},
		{"a line break in the country", GeoIP{Overrides: []string{"203.0.113.0/24=FI\n[mcu]"}}, "two capital letters"},
		{"a line separator", GeoIP{Overrides: []string{"203.0.113.0/24=F\u2028I"}}, "two capital letters"},
		{"a network twice", GeoIP{Overrides: []string{"203.0.113.0/24=FI", "203.0.113.5/24=DE"}}, "overridden twice"},
		{"too many", GeoIP{Overrides: many}, "65 overrides, at most 64"},
		{"http", GeoIP{DatabaseURL: "http://geoip.example.org/a.mmdb"}, "want an https URL"},
		{"user info", GeoIP{DatabaseURL: "https://me:pw@geoip.example.org/a.mmdb"}, "want an https URL"},
		{"a line break", GeoIP{DatabaseURL: "https://geoip.example.org/a.mmdb\n[mcu]"}, "want an https URL"},
		{"an environment reference", GeoIP{DatabaseURL: "https://geoip.example.org/$(HOME).mmdb"}, "want an https URL"},
		{"a comment character", GeoIP{DatabaseURL: "https://geoip.example.org/a.mmdb;x"}, "want an https URL"},
		{"an INI interpolation", GeoIP{DatabaseURL: "https://geoip.example.org/%(url)s"}, "want an https URL"},
		{"huge", GeoIP{DatabaseURL: "https://geoip.example.org/" + strings.Repeat("a", 1024)}, "want an https URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := mediaPlan(t, twoMediaServers()).WithGeoIP(tt.g)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%+q: %v, want an error saying %q", tt.g, err, tt.want)
			}
		})
	}
}
