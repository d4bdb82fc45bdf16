package cloudconfig

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/nctalk/nctalk/schema"
	"golang.org/x/crypto/ssh"
)

// validate checks every setting the rendering uses and returns the first
// problem as a *schema.KeyError naming the config key and what would be valid.
// First each key's structure (whose errors say best what would be valid),
// then every key's grammar, in one loop (schema.CheckGrammars): no value
// outside its grammar reaches a template. Cloud-only keys (location,
// serverType, volumeSize, dnsZone) are checked by the stack, not here.
func (s Settings) validate() error {
	checks := []func() error{
		s.validateDomain,
		s.validateNextcloudURLs,
		s.validateACMEEmail,
		s.validateACMEServer,
		s.validateRegistryMirror,
		s.validateSSHKeys,
		s.validateSSHCIDRs,
		s.validatePorts,
		s.validateTURNDomain,
		s.validateImages,
		s.validateStateDevice,
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return schema.CheckGrammars(&s)
}

func (s Settings) validateDomain() error {
	if err := checkFQDN(s.Domain); err != nil {
		return schema.Errorf(schema.KeyDomain, "%q %v; want a fully qualified lower-case host name such as talk.example.com", s.Domain, err)
	}
	return nil
}

// checkFQDN accepts lower-case DNS names of at least two labels, without a
// trailing dot, whose top-level label is not numeric.
func checkFQDN(name string) error {
	if name == "" {
		return errors.New("is empty")
	}
	if len(name) > 253 {
		return errors.New("is longer than 253 characters")
	}
	if strings.HasSuffix(name, ".") {
		return errors.New("ends with a dot")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return errors.New("is an IP address, not a host name")
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return errors.New("has only one label")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return errors.New("has an empty label or one longer than 63 characters")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("has the label %q that starts or ends with '-'", l)
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("contains %q (only a-z, 0-9, '-' and '.' are allowed)", c)
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return errors.New("has a numeric top-level label")
	}
	return nil
}

// isLoopbackHost reports whether host is localhost or a loopback address;
// only such Nextcloud URLs may use plain http (tests on one machine).
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (s Settings) validateNextcloudURLs() error {
	if len(s.NextcloudURLs) == 0 {
		return schema.Errorf(schema.KeyNextcloudURLs, "is empty; list at least one Nextcloud base URL such as https://cloud.example.com")
	}
	seen := map[string]bool{}
	for i, raw := range s.NextcloudURLs {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return schema.Errorf(schema.KeyNextcloudURLs, "entry %d %q is not an absolute URL; want https://cloud.example.com[/path]", i, raw)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		default:
			return schema.Errorf(schema.KeyNextcloudURLs, "entry %d %q must use https (http only for localhost/loopback test servers)", i, raw)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			return schema.Errorf(schema.KeyNextcloudURLs, "entry %d %q must not contain credentials, a query or a fragment; want the base URL only", i, raw)
		}
		if strings.ContainsAny(raw, " \t\r\n\"'#;,") {
			return schema.Errorf(schema.KeyNextcloudURLs, "entry %d %q contains whitespace, quotes or one of #;, which the signaling config cannot carry", i, raw)
		}
		host := u.Hostname()
		if !isLoopbackHost(host) {
			if err := checkFQDN(strings.ToLower(host)); err != nil {
				if _, ipErr := netip.ParseAddr(host); ipErr != nil {
					return schema.Errorf(schema.KeyNextcloudURLs, "entry %d %q: host %v", i, raw, err)
				}
			}
		}
		norm := strings.TrimSuffix(raw, "/")
		if seen[norm] {
			return schema.Errorf(schema.KeyNextcloudURLs, "entry %d %q is listed twice", i, raw)
		}
		seen[norm] = true
	}
	return nil
}

func (s Settings) validateACMEEmail() error {
	addr, err := mail.ParseAddress(s.ACMEEmail)
	if err != nil || addr.Address != s.ACMEEmail || addr.Name != "" {
		return schema.Errorf(schema.KeyACMEEmail, "%q is not a plain e-mail address; want e.g. admin@example.com", s.ACMEEmail)
	}
	if strings.HasPrefix(s.ACMEEmail, "-") {
		return schema.Errorf(schema.KeyACMEEmail, "%q starts with '-', which certbot would read as an option; want e.g. admin@example.com", s.ACMEEmail)
	}
	_, domain, _ := strings.Cut(s.ACMEEmail, "@")
	if checkFQDN(strings.ToLower(domain)) != nil || strings.ContainsAny(s.ACMEEmail, " \t'\"\\$`") {
		return schema.Errorf(schema.KeyACMEEmail, "%q is not an address Let's Encrypt accepts; want e.g. admin@example.com", s.ACMEEmail)
	}
	return nil
}

func (s Settings) validateSSHKeys() error {
	seen := map[string]int{}
	for i, k := range s.SSHAuthorizedKeys {
		if strings.ContainsAny(k, "\r\n") {
			return schema.Errorf(schema.KeySSHPublicKeys, "entry %d holds more than one line; give one OpenSSH public key per entry", i)
		}
		pub, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil || len(strings.TrimSpace(string(rest))) > 0 {
			return schema.Errorf(schema.KeySSHPublicKeys, "entry %d is not an OpenSSH public key (%v); want a line such as \"ssh-ed25519 AAAA… comment\"", i, err)
		}
		fp := ssh.FingerprintSHA256(pub)
		if j, dup := seen[fp]; dup {
			return schema.Errorf(schema.KeySSHPublicKeys, "entries %d and %d are the same key (%s); give each key once", j, i, fp)
		}
		seen[fp] = i
	}
	return nil
}

func (s Settings) validateSSHCIDRs() error {
	_, err := parseSSHCIDRs(s.SSHAllowedCIDRs)
	return err
}

// parseSSHCIDRs parses the sshAllowedCidrs entries ("203.0.113.0/24",
// "2001:db8::/32", or a bare address meaning a single host), already held
// to their grammar by validate. An empty list means SSH from anywhere:
// 0.0.0.0/0 and ::/0. The result is masked, sorted (IPv4 first) and free
// of duplicates, so renderings are deterministic.
func parseSSHCIDRs(values []string) ([]netip.Prefix, error) {
	if len(values) == 0 {
		return []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, nil
	}
	seen := map[netip.Prefix]bool{}
	var out []netip.Prefix
	for i, v := range values {
		v = strings.TrimSpace(v)
		p, err := parseAddrOrPrefix(v)
		if err != nil {
			return nil, schema.Errorf(schema.KeySSHAllowedCIDRs, "entry %d %q is not a CIDR; want e.g. 203.0.113.0/24 or 2001:db8::/32", i, values[i])
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-unmapBits(p)).Masked()
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	sortPrefixes(out)
	return out, nil
}

// parseAddrOrPrefix parses a prefix (203.0.113.0/24) or a bare address,
// which stands for its own /32 or /128. A zoned address is refused.
func parseAddrOrPrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		return netip.ParsePrefix(v)
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q has a zone", v)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// unmapBits is how many prefix bits an IPv4-mapped IPv6 prefix loses when
// unmapped.
func unmapBits(p netip.Prefix) int {
	if p.Addr().Is4In6() {
		return 96
	}
	return 0
}

func sortPrefixes(ps []netip.Prefix) {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c // IPv4 sorts before IPv6
		}
		return a.Bits() - b.Bits()
	})
}

// fixedPorts are the ports no configurable port or range may take.
func fixedPorts() []struct {
	Name string
	Port int
} {
	return []struct {
		Name string
		Port int
	}{
		{"http", schema.PortHTTP}, {"https", schema.PortHTTPS}, {"turn", schema.PortTURN}, {"turns", schema.PortTURNS},
		{"signaling (loopback)", schema.PortSignalingHTTP}, {"janus websockets (loopback)", schema.PortJanusWS},
		{"nats (loopback)", schema.PortNATS}, {"nginx https behind the 443 front (loopback)", schema.PortHTTPSLocal},
		{"nginx turn hop of the 443 front (loopback)", schema.PortTURNSLocal},
	}
}

func (s Settings) validatePorts() error {
	if s.SSHPort < 0 || s.SSHPort > 65535 {
		return schema.Errorf(schema.KeySSHPort, "%d is out of range; want 1-65535 (default %d)", s.SSHPort, schema.DefaultSSHPort)
	}
	ssh := s.sshPort()
	for _, f := range fixedPorts() {
		if ssh == f.Port {
			return schema.Errorf(schema.KeySSHPort, "%d is taken by %s; pick another port", ssh, f.Name)
		}
	}
	ranges := []struct {
		key      string
		r, deflt schema.PortRange
	}{
		{schema.KeyJanusRTPPorts, s.janusRTPPorts(), schema.DefaultJanusRTPPorts},
		{schema.KeyTURNRelayPorts, s.turnRelayPorts(), schema.DefaultTURNRelayPorts},
	}
	for _, x := range ranges {
		if x.r.First > x.r.Last {
			return schema.Errorf(x.key, "%d-%d is reversed; want first-last with first ≤ last, e.g. %s", x.r.First, x.r.Last, x.deflt)
		}
		if x.r.First < 1024 || x.r.Last > 65535 {
			return schema.Errorf(x.key, "%s is outside 1024-65535; want e.g. %s", x.r, x.deflt)
		}
		for _, f := range fixedPorts() {
			if x.r.Contains(f.Port) {
				return schema.Errorf(x.key, "%s contains port %d (%s); pick a range without it", x.r, f.Port, f.Name)
			}
		}
		if x.r.Contains(ssh) {
			return schema.Errorf(x.key, "%s contains the SSH port %d; pick a range without it", x.r, ssh)
		}
	}
	if ranges[0].r.Overlaps(ranges[1].r) {
		return schema.Errorf(schema.KeyTURNRelayPorts, "%s overlaps %s %s; the two ranges must be disjoint", ranges[1].r, schema.KeyJanusRTPPorts, ranges[0].r)
	}
	return nil
}

// validateTURNDomain checks the TURN name of turnOn443 (turnDomain, or
// the default turn.<domain>): a host name other than the domain, because
// the 443 front tells TURN from HTTPS by this name alone.
func (s Settings) validateTURNDomain() error {
	if !s.TURNOn443 && s.TURNDomain == "" {
		return nil
	}
	name := s.TURNName()
	if err := checkFQDN(name); err != nil {
		if s.TURNDomain == "" {
			return schema.Errorf(schema.KeyTURNDomain, "the default %s%s %v; set turnDomain to a shorter name such as turn.example.com, or turnOn443 to false", defaultTURNPrefix, s.Domain, err)
		}
		return schema.Errorf(schema.KeyTURNDomain, "%q %v; want a fully qualified lower-case host name such as turn.example.com", name, err)
	}
	if name == s.Domain {
		return schema.Errorf(schema.KeyTURNDomain, "%q is the domain itself; port 443 routes TURN by a name of its own, e.g. %s%s", name, defaultTURNPrefix, s.Domain)
	}
	return schema.MustGrammar(schema.KeyTURNDomain).Check(-1, name)
}

func (s Settings) validateImages() error {
	for _, name := range sortedKeys(s.Images) {
		ref := s.Images[name]
		if _, ok := DefaultImages[name]; !ok {
			return schema.Errorf(schema.KeyImages, "%q is not a service; want one of %s", name, strings.Join(ServiceNames(), ", "))
		}
		if err := checkImageRef(ref); err != nil {
			return schema.Errorf(schema.KeyImages, "%s: %q %v; want a pinned reference such as %s", name, ref, err, DefaultImages[name])
		}
	}
	return nil
}

// checkImageRef accepts references pinned by a tag other than latest or by
// a digest.
func checkImageRef(ref string) error {
	if ref == "" {
		return errors.New("is empty")
	}
	if c := ref[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
		return errors.New("does not start with a letter or digit")
	}
	for _, c := range ref {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/:@", c)) {
			return fmt.Errorf("contains %q", c)
		}
	}
	if _, digest, ok := strings.Cut(ref, "@"); ok {
		if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
			return errors.New("has a malformed digest")
		}
		return nil
	}
	lastSlash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= lastSlash {
		return errors.New("has no tag")
	}
	if tag := ref[colon+1:]; tag == "latest" || tag == "" {
		return errors.New("is not pinned")
	}
	return nil
}

// checkPlainHTTPSURL accepts https://host[:port][/path] with a lower-case
// DNS name or an IP address as host, a path of [A-Za-z0-9._~/-] only, and no
// credentials, query or fragment: the grammar of acmeServer and
// registryMirror (at most 200 characters), so the value is inert in a shell
// word and in JSON.
func checkPlainHTTPSURL(raw string, allowPath bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Opaque != "" {
		return errors.New("is not an https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return errors.New("has credentials, a query or a fragment")
	}
	if !allowPath && strings.Trim(u.Path, "/") != "" {
		return errors.New("has a path")
	}
	host := u.Hostname()
	if _, err := netip.ParseAddr(host); err != nil {
		if err := checkFQDN(host); err != nil {
			return fmt.Errorf("has a host that %v", err)
		}
	}
	return nil
}

func (s Settings) validateACMEServer() error {
	if s.ACMEServer == "" {
		return nil
	}
	if s.ACMEStaging {
		return schema.Errorf(schema.KeyACMEServer, "and %s are both set; set %s (Let's Encrypt's staging CA) or %s (any ACME directory), not both", schema.KeyACMEStaging, schema.KeyACMEStaging, schema.KeyACMEServer)
	}
	if err := checkPlainHTTPSURL(s.ACMEServer, true); err != nil {
		return schema.Errorf(schema.KeyACMEServer, "%q %v; want an ACME directory URL such as %s", s.ACMEServer, err, letsEncryptDirectory)
	}
	return nil
}

func (s Settings) validateRegistryMirror() error {
	if s.RegistryMirror == "" {
		return nil
	}
	if err := checkPlainHTTPSURL(s.RegistryMirror, false); err != nil {
		return schema.Errorf(schema.KeyRegistryMirror, "%q %v; want a pull-through registry mirror such as https://mirror.example.com or https://10.0.0.2:5000", s.RegistryMirror, err)
	}
	return nil
}

func (s Settings) validateStateDevice() error {
	if s.StateDevice == "" {
		return nil
	}
	if !strings.HasPrefix(s.StateDevice, "/dev/") || len(s.StateDevice) == len("/dev/") || slices.Contains(strings.Split(s.StateDevice, "/"), "..") {
		return schema.Errorf(schema.KeyStateDevice, "%q is not a device path; want e.g. /dev/disk/by-id/scsi-0HC_Volume_123", s.StateDevice)
	}
	return nil
}

// Validate checks every secret against its declaration (schema.Secrets):
// set, of a length the secret may have, and made only of characters every
// config file carries verbatim (letters, digits and -_.~+/=). Errors are
// *schema.KeyError keyed by the secret's name and never hold a value.
func (s Secrets) Validate() error {
	for _, ns := range s.List() {
		spec, _ := schema.SecretByName(ns.Name)
		if err := spec.Check(ns.Value); err != nil {
			return err
		}
	}
	return nil
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
