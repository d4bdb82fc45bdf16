package config

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// Validated checks every key: the shared ones by deriving the plan
// (cloudconfig.NewPlan), the Hetzner-only ones' structure here, and then
// every key's grammar in one loop (schema.CheckGrammars) for the keys not
// refused already. It returns the config with its Plan, or all problems
// found, joined, each a *keyError.
func (c Config) Validated() (Config, error) {
	var errs []error
	plan, err := cloudconfig.NewPlan(c.Settings)
	if err != nil {
		errs = append(errs, Namespaced(err))
	}
	c.Plan = plan
	for _, check := range []func() error{
		c.validateLocation,
		c.validateServerType,
		c.validateImage,
		c.validateSSHKeySelector,
		c.validateSSHKeyPresent,
		c.validateDNSZone,
		c.validateVolumeSize,
		c.validateMediaServers,
		c.validateGeoIP,
		c.validateSecrets,
	} {
		if err := check(); err != nil {
			errs = append(errs, err)
		}
	}
	if joined, ok := schema.CheckGrammars(&c).(interface{ Unwrap() []error }); ok {
		refused := schema.KeysOf(errors.Join(errs...))
		for _, err := range joined.Unwrap() {
			if !slices.Contains(refused, schema.KeyOf(err)) {
				errs = append(errs, Namespaced(err))
			}
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("stack configuration: %w", errors.Join(errs...))
	}
	return c, nil
}

func (c Config) validateLocation() error {
	if !slices.Contains(locations, c.Location) {
		return KeyErrorf(schema.KeyLocation, "%q is not a Hetzner Cloud location; want one of %s", c.Location, strings.Join(locations, ", "))
	}
	return nil
}

var serverTypePattern = regexp.MustCompile(`^(cx|cpx|cax|ccx)[0-9]{2}$`)

// removedServerTypes were withdrawn by Hetzner (list as of 2026-12-05,
// the date docs/configuration.md gives). It is the offline default only: every
// preview asks Hetzner's catalogue (infra's checkCatalogue), which also
// knows types withdrawn later.
var removedServerTypes = []string{"cx22", "cx32", "cx42", "cx52", "cpx11", "cpx21", "cpx31", "cpx41", "cpx51"}

func (c Config) validateServerType() error {
	const valid = "current x86 types are cx23, cx33, cx43, cx53 and cpx12 to cpx62; Arm types cax11 and up"
	if slices.Contains(removedServerTypes, c.ServerType) {
		return KeyErrorf(schema.KeyServerType, "%q was withdrawn by Hetzner; %s", c.ServerType, valid)
	}
	if !serverTypePattern.MatchString(c.ServerType) {
		return KeyErrorf(schema.KeyServerType, "%q is not a Hetzner server type; %s", c.ServerType, valid)
	}
	return nil
}

var imagePattern = regexp.MustCompile(`^(debian-[0-9]+|[0-9]+)$`)

func (c Config) validateImage() error {
	if !imagePattern.MatchString(c.Image) {
		return KeyErrorf(schema.KeyImage, "%q is not supported; the cloud-config targets Debian: want a Hetzner image name such as %s, or a numeric image ID of a Debian snapshot", c.Image, Default().Image)
	}
	return nil
}

var selectorTerm = regexp.MustCompile(`^\s*(!?[A-Za-z0-9][A-Za-z0-9._/-]*|[A-Za-z0-9][A-Za-z0-9._/-]*\s*(==?|!=)\s*[A-Za-z0-9._-]*|[A-Za-z0-9][A-Za-z0-9._/-]*\s+(in|notin)\s+\([A-Za-z0-9._,\s-]*\))\s*$`)

func (c Config) validateSSHKeySelector() error {
	if c.SSHKeySelector == "" {
		return nil
	}
	for _, term := range splitSelector(c.SSHKeySelector) {
		if !selectorTerm.MatchString(term) {
			return KeyErrorf(schema.KeySSHKeySelector, "%q is not a Hetzner label selector (term %q); want e.g. team=ops or env in (prod,dev)", c.SSHKeySelector, term)
		}
	}
	return nil
}

// splitSelector splits a label selector at the commas outside parentheses.
func splitSelector(sel string) []string {
	var terms []string
	depth, start := 0, 0
	for i, r := range sel {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				terms = append(terms, sel[start:i])
				start = i + 1
			}
		}
	}
	return append(terms, sel[start:])
}

func (c Config) validateSSHKeyPresent() error {
	if len(c.Settings.SSHAuthorizedKeys) == 0 && c.SSHKeySelector == "" {
		return KeyErrorf(schema.KeySSHPublicKeys, "no SSH key: set %[1]s:%[2]s (OpenSSH public keys) and/or %[1]s:%[3]s (label selector of keys already in the Hetzner project)",
			schema.Namespace, schema.KeySSHPublicKeys, schema.KeySSHKeySelector)
	}
	return nil
}

func (c Config) validateDNSZone() error {
	z := c.DNSZone
	if z == "" {
		return nil
	}
	if z != strings.ToLower(strings.TrimSpace(z)) || strings.HasSuffix(z, ".") || !strings.Contains(z, ".") {
		return KeyErrorf(schema.KeyDNSZone, "%q is not a zone name; want a lower-case name without trailing dot, such as example.com", z)
	}
	if d := c.Settings.Domain; d != z && !strings.HasSuffix(d, "."+z) {
		return KeyErrorf(schema.KeyDNSZone, "%q does not contain the domain %q; want the zone the domain lives in, e.g. %s", z, d, parentOf(d))
	}
	if t := c.Settings.TURNName(); c.Settings.TURNOn443 && t != z && !strings.HasSuffix(t, "."+z) {
		return KeyErrorf(schema.KeyTURNDomain, "%q is outside dnsZone %q, which gets its A and AAAA records; want a name in the zone such as turn.%s, or turnOn443 false", t, z, c.Settings.Domain)
	}
	return nil
}

// parentOf drops the first label of a domain name.
func parentOf(domain string) string {
	if _, rest, ok := strings.Cut(domain, "."); ok {
		return rest
	}
	return domain
}

func (c Config) validateVolumeSize() error {
	if v := c.VolumeSize; v != 0 && (v < minVolumeSize || v > maxVolumeSize) {
		return KeyErrorf(schema.KeyVolumeSize, "%d GiB is not possible; want 0 (no volume) or %d-%d GiB", v, minVolumeSize, maxVolumeSize)
	}
	return nil
}

// validateSecrets checks the secrets given in config with the rules the
// rendering applies to every secret (cloudconfig's Secrets.Validate); the
// generated ones are valid placeholders here.
func (c Config) validateSecrets() error {
	probe := cloudconfig.Secrets{
		SignalingSecret:      "probeSignalingSecret0123456789",
		TURNSecret:           "probeTurnSecret0123456789abcde",
		SessionHashKey:       strings.Repeat("h", 64),
		SessionBlockKey:      strings.Repeat("b", 32),
		InternalClientSecret: "probeInternalClientSecret01234",
		JanusAPIKey:          "probeJanusApiKey0123456789abcd",
	}
	var errs []error
	if c.SignalingSecret.IsSet() {
		p := probe
		p.SignalingSecret = c.SignalingSecret.Reveal()
		if err := p.Validate(); err != nil {
			errs = append(errs, Namespaced(err))
		}
	}
	if c.TURNSecret.IsSet() {
		p := probe
		p.TURNSecret = c.TURNSecret.Reveal()
		if err := p.Validate(); err != nil {
			errs = append(errs, Namespaced(err))
		}
	}
	return errors.Join(errs...)
}

// MediaServer is one entry of mediaServers: its name (a DNS label, the
// first label of its host name), its Hetzner location and server type.
type MediaServer struct {
	Name, Location, ServerType string
}

// Host is the media server's host name under the domain.
func (m MediaServer) Host(domain string) string { return m.Name + "." + domain }

// mediaNamePattern is a media server's name: a DNS label.
var mediaNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// GeoIP is how signaling learns a caller's country, with media servers.
func (c Config) GeoIP() cloudconfig.GeoIP {
	return cloudconfig.GeoIP{DatabaseURL: c.GeoIPDatabaseURL, Overrides: c.GeoIPOverrides}
}

// validateGeoIP names the key of a bad database URL or override.
func (c Config) validateGeoIP() error {
	if err := cloudconfig.CheckGeoIP(cloudconfig.GeoIP{DatabaseURL: c.GeoIPDatabaseURL}); err != nil {
		return KeyErrorf(schema.KeyGeoIPDatabase, "%v", err)
	}
	if err := cloudconfig.CheckGeoIP(cloudconfig.GeoIP{Overrides: c.GeoIPOverrides}); err != nil {
		return KeyErrorf(schema.KeyGeoIPOverrides, "%v", err)
	}
	return nil
}

// MediaDrain is how long a removed media server drains at most
// (mediaDrainMinutes).
func (c Config) MediaDrain() time.Duration { return time.Duration(c.MediaDrainMinutes) * time.Minute }

// MediaServerList returns the media servers sorted by name. The config
// must have passed Validated.
func (c Config) MediaServerList() []MediaServer {
	out := make([]MediaServer, 0, len(c.MediaServers))
	for name, v := range c.MediaServers {
		loc, typ, _ := strings.Cut(v, "/")
		out = append(out, MediaServer{Name: name, Location: loc, ServerType: typ})
	}
	slices.SortFunc(out, func(a, b MediaServer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// validateMediaServers checks each entry's name and location/serverType
// offline; every preview asks Hetzner's catalogue too (infra).
func (c Config) validateMediaServers() error {
	names := slices.Sorted(maps.Keys(c.MediaServers))
	for _, name := range names {
		v := c.MediaServers[name]
		if !mediaNamePattern.MatchString(name) {
			return KeyErrorf(schema.KeyMediaServers, "name %q: want a DNS label of a-z 0-9 - (1-32 characters, no - at either end): it becomes %s.%s", name, "<name>", c.Settings.Domain)
		}
		loc, typ, ok := strings.Cut(v, "/")
		if !ok {
			return KeyErrorf(schema.KeyMediaServers, "%s: %q is not location/serverType; want e.g. hel1/cx33", name, v)
		}
		if !slices.Contains(locations, loc) {
			return KeyErrorf(schema.KeyMediaServers, "%s: %q is not a Hetzner Cloud location; want one of %s", name, loc, strings.Join(locations, ", "))
		}
		if slices.Contains(removedServerTypes, typ) || !serverTypePattern.MatchString(typ) {
			return KeyErrorf(schema.KeyMediaServers, "%s: %q is not a current Hetzner server type; want e.g. cx33 or cpx32", name, typ)
		}
		if host := name + "." + c.Settings.Domain; host == c.Settings.TURNName() && c.Settings.TURNOn443 {
			return KeyErrorf(schema.KeyMediaServers, "%s: %s is the TURN name of 443 (turnDomain); pick another name", name, host)
		}
	}
	return nil
}
