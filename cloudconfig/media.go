package cloudconfig

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/nctalk/nctalk/schema"
)

// Scale-out: one signaling server places its publishers on
// several media servers, each a signaling proxy (the `proxy` program of
// nextcloud-spreed-signaling, image <version>-proxy) in front of its own
// Janus. Signaling's [mcu] then has type proxy, the proxies' URLs and the
// RS256 token key it signs its requests with; each proxy holds only the
// public half ([tokens]).

// MediaServer is one media server the signaling server places publishers
// on through its proxy.
type MediaServer struct {
	// Name is the media server's DNS label, e.g. media-1; it orders the
	// proxies in signaling's url list.
	Name string
	// Host is its host name: its certificate's name, its DNS records' and
	// its TURN entries' (e.g. media-1.talk.example.com).
	Host string
	// URL is where signaling reaches the proxy: http(s) or ws(s), e.g.
	// https://media-1.talk.example.com/ (signaling resolves "proxy"
	// against it, so a path must end with /; 2.1.1 sfu/proxy reconnect).
	URL string
	// Country is the ISO 3166-1 alpha-2 code of the server's location
	// (DE): the proxy reports it, and signaling prefers a proxy in the
	// publisher's country.
	Country string
}

// ProxyToken is the key pair signaling authenticates to the proxies with
// (RS256 tokens): the private key stays on the signaling server, the
// public key goes to every proxy under the token's ID.
type ProxyToken struct {
	// ID names the key in the proxies' [tokens] section and in signaling's
	// token_id.
	ID string
	// PrivateKey is the RSA private key, PEM (PKCS #1 or #8); a secret
	// (RenderRedacted writes its marker).
	PrivateKey string
	// PublicKey is its public half, PEM (PKIX).
	PublicKey string
}

// Paths of scale-out: the token's private key beside signaling's
// server.conf (main box); a media server's proxy config and the token's
// public key.
const (
	// proxyTokenKey is signaling's token private key (0400, signaling's uid).
	proxyTokenKey = BaseDir + "/signaling/proxy-token.key"
	// proxyConfig is a media server's proxy.conf.
	proxyConfig = BaseDir + "/proxy/proxy.conf"
	// proxyTokenPublicKey is the token's public key on a media server.
	proxyTokenPublicKey = BaseDir + "/proxy/token.pub"
)

// proxyTokenKeyName names the token's private key in markers and errors.
const proxyTokenKeyName = "proxyTokenKey"

// mediaTopology is the plan's scale-out (WithMediaServers); zero for one box.
type mediaTopology struct {
	servers []MediaServer
	token   ProxyToken
	// drain bounds a removed media server's drain (WithMediaDrain);
	// zero: defaultDrain.
	drain time.Duration
	// geoip is how signaling learns clients' countries (WithGeoIP).
	geoip viewGeoIP
}

// Grammars of scale-out values: the proxies' names, countries and the
// token ID (the proxy reads [tokens] keys as INI keys).
var (
	mediaNamePattern  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	countryPattern    = regexp.MustCompile(`^[A-Z]{2}$`)
	hostPattern       = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$`)
	tokenIDPattern    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	proxyURLSchemes   = []string{"http", "https", "ws", "wss"}
	maxProxyURLLength = 255
)

// WithMediaServers returns the plan with signaling placing publishers on
// these media servers' proxies instead of its own Janus. Names must be
// unique DNS labels, hosts host names, URLs plain http(s)/ws(s) URLs,
// countries two capital letters. No media servers leaves the plan one box.
// The plan renders once it also has the proxy token (WithProxyToken).
func (p Plan) WithMediaServers(servers []MediaServer) (Plan, error) {
	if len(servers) == 0 {
		return derivedFrom(p, mediaTopology{}, boxSingle), nil
	}
	if len(servers) > schema.MaxMediaServers {
		return Plan{}, fmt.Errorf("%d media servers, at most %d", len(servers), schema.MaxMediaServers)
	}
	seen := map[string]bool{p.settings.Domain: true}
	if p.settings.TURNOn443 {
		seen[p.settings.TURNName()] = true
	}
	for _, m := range servers {
		if err := m.validate(); err != nil {
			return Plan{}, err
		}
		if seen[m.Name] || seen[m.Host] {
			return Plan{}, fmt.Errorf("media server %q: its name or host %s is taken (by another media server, the domain or the TURN name)", m.Name, m.Host)
		}
		seen[m.Name], seen[m.Host] = true, true
	}
	sorted := slices.Clone(servers)
	slices.SortFunc(sorted, func(a, b MediaServer) int { return strings.Compare(a.Name, b.Name) })
	return derivedFrom(p, mediaTopology{servers: sorted, token: p.media.token, drain: p.media.drain, geoip: p.media.geoip}, boxSignaling), nil
}

// WithMediaDrain returns the plan with a removed media server draining for
// at most d (mediaDrainMinutes): its proxy takes no new calls, its calls go
// on, and it is stopped when they have ended or d has passed. d is whole
// minutes from minMediaDrain to maxMediaDrain. Only the media servers'
// nctalk-apply carries it: a change restarts nothing.
func (p Plan) WithMediaDrain(d time.Duration) (Plan, error) {
	if d < minMediaDrain || d > maxMediaDrain || d%time.Minute != 0 {
		return Plan{}, fmt.Errorf("drain bound %v: whole minutes from %v to %v", d, minMediaDrain, maxMediaDrain)
	}
	p.media.drain = d
	return p, nil
}

// Bounds of a media server's drain (WithMediaDrain; mediaDrainMinutes'),
// and the bound without one.
const (
	minMediaDrain = schema.MinMediaDrainMinutes * time.Minute
	maxMediaDrain = schema.MaxMediaDrainMinutes * time.Minute
	defaultDrain  = schema.DefaultMediaDrainMinutes * time.Minute
)

// drainSeconds is the plan's drain bound in seconds.
func (m mediaTopology) drainSeconds() int {
	if m.drain == 0 {
		return int(defaultDrain / time.Second)
	}
	return int(m.drain / time.Second)
}

// WithProxyToken returns the plan with the key pair signaling signs its
// requests to the proxies with: an RSA key pair whose halves match, under
// an ID of a-z 0-9 -. The stack generates it (its private key a secret);
// a plan with media servers renders only with it.
func (p Plan) WithProxyToken(token ProxyToken) (Plan, error) {
	if err := token.validate(); err != nil {
		return Plan{}, err
	}
	p.media.token = token
	return p, nil
}

// checkMedia reports a plan with media servers but no proxy token.
func (p Plan) checkMedia() error {
	if p.box != boxSingle && p.media.token.ID == "" {
		return fmt.Errorf("the plan has media servers but no proxy token (WithProxyToken)")
	}
	return nil
}

// derivedFrom is p as box b of topology m: the signaling server runs no
// Janus, so its firewalls leave Janus' RTP range closed.
func derivedFrom(p Plan, m mediaTopology, b box) Plan {
	p.media, p.box = m, b
	p.Firewall = FirewallRules(p.settings)
	p.Endpoints = p.settings.Endpoints()
	for _, s := range m.servers {
		p.Endpoints.MediaHosts = append(p.Endpoints.MediaHosts, s.Host)
	}
	if b == boxSignaling {
		p.Firewall = slices.DeleteFunc(p.Firewall, func(r Rule) bool { return r.Name == ruleJanusRTP })
	}
	return p
}

// MediaServers returns the plan's media servers by name; none for one box.
func (p Plan) MediaServers() []MediaServer { return slices.Clone(p.media.servers) }

func (m MediaServer) validate() error {
	if !mediaNamePattern.MatchString(m.Name) {
		return fmt.Errorf("media server name %q: want a DNS label of a-z 0-9 - (1-32 characters, no - at either end)", m.Name)
	}
	if !hostPattern.MatchString(m.Host) || len(m.Host) > 253 {
		return fmt.Errorf("media server %q: host %q: want a host name of a-z 0-9 - . (at most 253 characters)", m.Name, m.Host)
	}
	if !countryPattern.MatchString(m.Country) {
		return fmt.Errorf("media server %q: country %q is not an ISO 3166-1 alpha-2 code (two capital letters, e.g. DE)", m.Name, m.Country)
	}
	u, err := url.Parse(m.URL)
	switch {
	case err != nil || len(m.URL) > maxProxyURLLength || strings.ContainsFunc(m.URL, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return fmt.Errorf("media server %q: URL %q is not a URL of at most %d printable ASCII characters", m.Name, m.URL, maxProxyURLLength)
	case !slices.Contains(proxyURLSchemes, u.Scheme) || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("media server %q: URL %q: want %s://host[:port][/path/], no user, query or fragment", m.Name, m.URL, strings.Join(proxyURLSchemes, "|"))
	case u.Path != "" && !strings.HasSuffix(u.Path, "/"):
		// Signaling resolves "proxy" against the URL: https://h/sub would
		// reach https://h/proxy, not https://h/sub/proxy.
		return fmt.Errorf("media server %q: URL %q: end its path with / (signaling adds proxy to it)", m.Name, m.URL)
	}
	return nil
}

// proxyTokenBits is the RSA key size of a proxy token (RS256).
const proxyTokenBits = 2048

// NewProxyToken generates a proxy token under id: an RSA key pair in the
// PEM forms pulumi-tls's PrivateKey gives (private key PKCS #1, public key
// PKIX). The stack's own token is a pulumi-tls resource; this is for
// stand-ins (the stack's preflight, mocks and tests).
func NewProxyToken(id string) (ProxyToken, error) {
	k, err := rsa.GenerateKey(rand.Reader, proxyTokenBits)
	if err != nil {
		return ProxyToken{}, fmt.Errorf("generating a proxy token: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return ProxyToken{}, fmt.Errorf("generating a proxy token: %w", err)
	}
	return ProxyToken{
		ID:         id,
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})),
		PublicKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}, nil
}

func (t ProxyToken) validate() error {
	if !tokenIDPattern.MatchString(t.ID) {
		return fmt.Errorf("the proxy token ID %q: want a-z 0-9 - (1-32 characters, starting with a letter or digit)", t.ID)
	}
	priv, err := parseRSAPrivateKey(t.PrivateKey)
	if err != nil {
		return fmt.Errorf("the proxy token key: %w", err)
	}
	pub, err := parseRSAPublicKey(t.PublicKey)
	if err != nil {
		return fmt.Errorf("the proxy token public key: %w", err)
	}
	if !priv.PublicKey.Equal(pub) {
		return fmt.Errorf("the proxy token key does not match its public key")
	}
	return nil
}

// pemBlock decodes one PEM block of type want (one of them) and nothing
// else: no text around it, no carriage return or Unicode line break. Its
// errors never quote the key.
func pemBlock(text string, want ...string) (*pem.Block, error) {
	if strings.ContainsAny(text, "\r\u0085\u2028\u2029") {
		return nil, fmt.Errorf("holds a carriage return or Unicode line break")
	}
	b, rest := pem.Decode([]byte(text))
	if b == nil || strings.TrimSpace(string(rest)) != "" || !slices.Contains(want, b.Type) {
		return nil, fmt.Errorf("want one PEM block of type %s", strings.Join(want, " or "))
	}
	return b, nil
}

func parseRSAPrivateKey(text string) (*rsa.PrivateKey, error) {
	b, err := pemBlock(text, "RSA PRIVATE KEY", "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	if b.Type == "RSA PRIVATE KEY" {
		k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("not a PKCS #1 RSA key")
		}
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if rk, ok := k.(*rsa.PrivateKey); err == nil && ok {
		return rk, nil
	}
	return nil, fmt.Errorf("not a PKCS #8 RSA key (the proxy verifies RS256 tokens)")
}

func parseRSAPublicKey(text string) (*rsa.PublicKey, error) {
	b, err := pemBlock(text, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if rk, ok := k.(*rsa.PublicKey); err == nil && ok {
		return rk, nil
	}
	return nil, fmt.Errorf("not an RSA public key")
}

// box is the machine of the topology a plan renders.
type box int

// The boxes.
const (
	// boxSingle is the one box: signaling with its own Janus.
	boxSingle box = iota
	// boxSignaling is the signaling server of a scale-out: its publishers
	// go to the media servers' proxies; it runs no Janus.
	boxSignaling
	// boxMedia is a media server: the proxy in front of its own Janus, and
	// coturn.
	boxMedia
)

// writtenOn reports whether the file belongs on box b.
func (f fileSpec) writtenOn(b box) bool { return len(f.on) == 0 || slices.Contains(f.on, b) }

// boxServices are the compose services each box runs, by name.
var boxServices = map[box][]string{
	boxSingle:    {ServiceCoturn, ServiceJanus, ServiceNATS, ServiceNginx, ServiceSignaling},
	boxSignaling: {ServiceCoturn, ServiceNATS, ServiceNginx, ServiceSignaling},
	boxMedia:     {ServiceCoturn, ServiceJanus, ServiceNginx, ServiceProxy},
}

// Services returns the compose services the plan's box runs, sorted.
func (p Plan) Services() []string { return slices.Clone(boxServices[p.box]) }

// unitsOn are the units nctalk-apply acts on on box b, in Units order:
// every host unit, and the services it runs. The signaling server of a
// scale-out acts on every service, so that the Janus of the one box it was
// is removed.
func unitsOn(b box) []Unit {
	if b == boxSignaling {
		return Units
	}
	var out []Unit
	for _, u := range Units {
		if !u.Service || slices.Contains(boxServices[b], u.Name) {
			out = append(out, u)
		}
	}
	return out
}

// viewRun says which services the box runs.
type viewRun struct{ Signaling, NATS, Janus, Proxy bool }

func newViewRun(b box) viewRun {
	has := func(s string) bool { return slices.Contains(boxServices[b], s) }
	return viewRun{Signaling: has(ServiceSignaling), NATS: has(ServiceNATS), Janus: has(ServiceJanus), Proxy: has(ServiceProxy)}
}

// viewMCU is signaling's [mcu] section: its own Janus, or the proxies
// (space-separated URLs) with the token (ID and private key) and how
// signaling learns the clients' countries to choose among them.
type viewMCU struct {
	Proxy                   bool
	URLs, TokenID, TokenKey string
	GeoIP                   viewGeoIP
}

// newViewMCU is the plan's [mcu] as the templates see it.
func newViewMCU(m mediaTopology, b box) viewMCU {
	if b != boxSignaling {
		return viewMCU{}
	}
	urls := make([]string, len(m.servers))
	for i, s := range m.servers {
		urls[i] = s.URL
	}
	return viewMCU{Proxy: true, URLs: strings.Join(urls, " "), TokenID: m.token.ID, TokenKey: strings.TrimSuffix(m.token.PrivateKey, "\n"), GeoIP: m.geoip}
}

// ForMediaServer returns the plan of the named media server of a
// scale-out plan (WithMediaServers; it renders once the plan had its
// WithProxyToken): its host name is the domain (the
// certificate's name, its TURN entries'), it runs the proxy (reporting
// the server's country, accepting the plan's token), Janus and coturn, and
// no TURN on 443. Everything else (SSH, ports, images, ACME) is the
// plan's.
func (p Plan) ForMediaServer(name string) (Plan, error) {
	if p.box != boxSignaling {
		return Plan{}, fmt.Errorf("media server %q: the plan has no media servers", name)
	}
	i := slices.IndexFunc(p.media.servers, func(m MediaServer) bool { return m.Name == name })
	if i < 0 {
		return Plan{}, fmt.Errorf("media server %q is not one of the plan's", name)
	}
	m := p.media.servers[i]
	s := p.settings
	s.Domain, s.TURNOn443, s.TURNDomain, s.StateDevice = m.Host, false, "", ""
	media := derivePlan(s)
	media.access, media.projectKeys = p.access, p.projectKeys
	media.media = mediaTopology{token: ProxyToken{ID: p.media.token.ID, PublicKey: p.media.token.PublicKey}, drain: p.media.drain}
	media.box = boxMedia
	media.proxy = viewProxy{Country: m.Country, TokenID: p.media.token.ID, TokenPublicKey: strings.TrimSuffix(p.media.token.PublicKey, "\n"),
		DrainSeconds: p.media.drainSeconds(), StopGraceSeconds: proxyStopGraceSeconds}
	return media, nil
}

// viewProxy is a media server's proxy.conf: its country and the token it
// accepts (ID and public key); nctalk-apply: how long the proxy drains when
// the stack deletes the server (WithMediaDrain); compose.yaml: how long
// compose's own stops wait for it.
type viewProxy struct {
	Country, TokenID, TokenPublicKey string
	DrainSeconds, StopGraceSeconds   int
}

// proxyStopGraceSeconds bounds compose's own stops of the proxy (an image
// bump recreating it, a reboot): SIGUSR1 drains it, its calls go on, and
// after this it is killed. Fixed, so that a change of the drain bound
// (mediaDrainMinutes) does not recreate the proxy.
const proxyStopGraceSeconds = 3600
