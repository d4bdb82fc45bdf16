package cloudconfig

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/nctalk/nctalk/schema"
)

// GeoIP is how the signaling server of a scale-out learns a client's
// country, so that it places the client's publisher on a media server in
// that country first (then on its continent, then by load): a country
// database it downloads, and overrides for networks the admin knows (a
// branch office's public addresses). Without either, every client's
// country is unknown and placement goes by load alone.
type GeoIP struct {
	// DatabaseURL is an https URL of a MaxMind-format country database
	// (.mmdb, .mmdb.gz or .tar.gz, e.g. db-ip.com's "IP to Country Lite"):
	// signaling downloads it at start and once a day ([geoip] url; a
	// failed download is retried and does not stop it). "" for none.
	DatabaseURL string
	// Overrides are "network=CC" entries: an IPv4 address or prefix and
	// an ISO 3166-1 alpha-2 country code, e.g. "203.0.113.0/24=FI"
	// ([geoip-overrides]; they win over the database). Not IPv6: signaling's
	// INI reader splits option names at ':'.
	Overrides []string
}

// geoipOverride is one parsed override.
type geoipOverride struct {
	Network netip.Prefix
	Country string
}

// parseGeoIPOverride parses "network=CC" into its canonical form: the
// prefix masked (a bare address is a /32), the country as given.
func parseGeoIPOverride(entry string) (geoipOverride, error) {
	network, country, ok := strings.Cut(entry, "=")
	if !ok {
		return geoipOverride{}, fmt.Errorf("%q is not network=CC (e.g. 203.0.113.0/24=FI)", entry)
	}
	prefix, err := parseAddrOrPrefix(network)
	if err != nil || prefix.Addr().Is4In6() {
		return geoipOverride{}, fmt.Errorf("%q: %q is not an IPv4 address or prefix (e.g. 203.0.113.0/24)", entry, network)
	}
	if prefix.Addr().Is6() {
		// goconf, signaling's INI reader, splits a line at its first = or
		// : (read.go), so an IPv6 network cannot be an option name there.
		return geoipOverride{}, fmt.Errorf("%q: IPv6 networks cannot be written in signaling's server.conf (its INI reader splits option names at ':'); want an IPv4 address or prefix (e.g. 203.0.113.0/24)", entry)
	}
	if !countryPattern.MatchString(country) {
		return geoipOverride{}, fmt.Errorf("%q: %q is not a country code of two capital letters (e.g. FI)", entry, country)
	}
	return geoipOverride{Network: prefix.Masked(), Country: country}, nil
}

// check validates g: an https URL without credentials or spaces, and
// overrides that parse, at most schema.MaxGeoIPOverrides, no network twice.
func (g GeoIP) check() ([]geoipOverride, error) {
	if g.DatabaseURL != "" {
		u, err := url.Parse(g.DatabaseURL)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" ||
			strings.ContainsAny(g.DatabaseURL, " \t\r\n\"'#;,$") || len(g.DatabaseURL) > 1024 {
			return nil, fmt.Errorf("database URL %q: want an https URL of at most 1024 bytes, without user info, fragment, whitespace, quotes or one of #;,$ (which server.conf cannot carry)", g.DatabaseURL)
		}
	}
	if len(g.Overrides) > schema.MaxGeoIPOverrides {
		return nil, fmt.Errorf("%d overrides, at most %d", len(g.Overrides), schema.MaxGeoIPOverrides)
	}
	var out []geoipOverride
	for _, entry := range g.Overrides {
		o, err := parseGeoIPOverride(entry)
		if err != nil {
			return nil, err
		}
		if i := slices.IndexFunc(out, func(p geoipOverride) bool { return p.Network == o.Network }); i >= 0 {
			return nil, fmt.Errorf("%q: the network %s is overridden twice", entry, o.Network)
		}
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b geoipOverride) int { return strings.Compare(a.Network.String(), b.Network.String()) })
	return out, nil
}

// CheckGeoIP reports what is wrong with g, naming the entry.
func CheckGeoIP(g GeoIP) error {
	_, err := g.check()
	return err
}

// WithGeoIP returns the plan with signaling looking up clients' countries
// (GeoIP). It renders on the signaling server of a scale-out only: a
// single box has one Janus and nothing to choose. The overrides are
// rendered sorted by network, each network masked; a change of them
// reloads signaling, a change of the database URL restarts it.
func (p Plan) WithGeoIP(g GeoIP) (Plan, error) {
	overrides, err := g.check()
	if err != nil {
		return Plan{}, err
	}
	p.media.geoip = viewGeoIP{DatabaseURL: g.DatabaseURL, Overrides: overrides}
	return p, nil
}

// viewGeoIP is signaling's [geoip] and [geoip-overrides] sections.
type viewGeoIP struct {
	DatabaseURL string
	Overrides   []geoipOverride
}
