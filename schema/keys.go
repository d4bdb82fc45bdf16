package schema

// Namespace is the project name that prefixes every stack config key:
// `nctalk:<key>`.
const Namespace = "nctalk"

// Config key names. Stack config reads them as `nctalk:<key>`; the render
// command's YAML file takes them with or without the prefix.
const (
	KeyDomain          = "domain"
	KeyNextcloudURLs   = "nextcloudUrls"
	KeyACMEEmail       = "acmeEmail"
	KeyACMEStaging     = "acmeStaging"
	KeyACMEServer      = "acmeServer"
	KeyRegistryMirror  = "registryMirror"
	KeyLocation        = "location"
	KeyServerType      = "serverType"
	KeyImage           = "image"
	KeySSHPublicKeys   = "sshPublicKeys"
	KeySSHKeySelector  = "sshKeySelector"
	KeySSHAllowedCIDRs = "sshAllowedCidrs"
	KeySSHPort         = "sshPort"
	KeyDNSZone         = "dnsZone"
	KeyVolumeSize      = "volumeSize"
	KeyKeepOnTeardown  = "keepOnTeardown"
	KeySignalingSecret = "signalingSecret"
	KeyTURNSecret      = "turnSecret"
	KeyJanusRTPPorts   = "janusRtpPorts"
	KeyTURNRelayPorts  = "turnRelayPorts"
	KeyTURNOn443       = "turnOn443"
	KeyTURNDomain      = "turnDomain"
	KeyImages          = "images"
	KeyStateDevice     = "stateDevice"
	KeyMediaServers    = "mediaServers"
	KeyMediaDrain      = "mediaDrainMinutes"
	KeyGeoIPDatabase   = "geoipDatabaseUrl"
	KeyGeoIPOverrides  = "geoipOverrides"
)

// Kind is the type of a config key's value.
type Kind int

// The kinds of config values.
const (
	KindString    Kind = iota // a string
	KindBool                  // true or false
	KindInt                   // a whole number
	KindList                  // a list of strings
	KindMap                   // a map of strings to strings
	KindPortRange             // "first-last" or one port, as a string
	KindSecret                // a string kept encrypted in the stack
)

// Scope says who reads a key.
type Scope int

// The scopes of config keys.
const (
	// shared keys are read by the stack and by `nctalk render`.
	shared Scope = iota
	// StackOnly keys configure Hetzner resources; `nctalk render` accepts
	// and ignores them, so one file serves both.
	StackOnly
	// RenderOnly keys exist for `nctalk render` only (the stack derives
	// them from resources it creates).
	RenderOnly
)

// Key declares one config key, once: the loaders, Pulumi.yaml, the docs'
// tables and the examples derive from or are checked against it.
type Key struct {
	// Name is the key without the `nctalk:` prefix.
	Name string
	// Kind is the type of its value.
	Kind Kind
	// Scope says whether the stack, `nctalk render` or both read it.
	Scope Scope
	// Required keys have no default.
	Required bool
	// Default is the value of an unset optional key, JSON-compatible (as
	// Pulumi.yaml declares it).
	Default any
	// DefaultDoc, when set, is how the docs write a default that is derived
	// from other keys (e.g. `turn.<domain>`).
	DefaultDoc string
	// Doc is the one-line description (Pulumi.yaml's).
	Doc string
	// Example shows how to set the key, for errors about its type.
	Example string
	// Sample is a valid value other than the default, as Pulumi config
	// holds it (lists and maps as JSON). The tests set the key to it: that
	// it loads into its field, reaches what it configures, and what a
	// change of it plans.
	Sample string
	// Grammar is the characters and sizes a string value may have: every
	// string, list, map and secret key has one, checked for every key in
	// one loop (CheckGrammars); nil for booleans, numbers and port ranges,
	// which parse strictly.
	Grammar *Grammar
	// Min and Max bound a number the loader accepts, when Max is set (a
	// given 0 is then an error, not the default).
	Min, Max int
}

// lowerAlnum admits a-z and 0-9.
func lowerAlnum(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' }

// hostChars is the alphabet of host names.
func hostChars(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.'
}

// secretGrammar is the grammar of every secret, config key or not.
var secretGrammar = Grammar{Key: KeySignalingSecret, Chars: "A-Z a-z 0-9 and " + secretChars, MaxBytes: MaxSecretLength, Secret: true,
	allowed: asciiIn(secretChars)}

// grammar returns g with its Key set to name, for the table below.
func grammar(name string, g Grammar) *Grammar {
	g.Key = name
	return &g
}

// Keys declares every config key, in the order of docs/configuration.md's
// configuration table and of Pulumi.yaml.
var Keys = []Key{
	{Name: KeyDomain, Kind: KindString, Required: true,
		Doc:     "Required. FQDN of the backend, e.g. talk.example.com; nginx serves https://<domain>/standalone-signaling.",
		Example: "`pulumi config set domain talk.example.com`",
		Sample:  "talk.example.org",
		Grammar: grammar(KeyDomain, Grammar{Chars: "a-z 0-9 - .", MaxBytes: 253, allowed: hostChars})},
	{Name: KeyNextcloudURLs, Kind: KindList, Required: true,
		Doc:     `Required. Base URLs of the Nextcloud servers allowed to use the backend, e.g. ["https://cloud.example.com"] (https; http only for loopback test hosts).`,
		Example: "`pulumi config set --path 'nextcloudUrls[0]' https://cloud.example.com`",
		Sample:  `["https://cloud.example.org/nextcloud"]`,
		Grammar: grammar(KeyNextcloudURLs, Grammar{Chars: "A-Z a-z 0-9 and -._~:/?@!&()*+=%[] (no $: the signaling server expands $(NAME) from its environment)", MaxBytes: 2048, MaxEntries: 64, allowed: asciiIn("-._~:/?@!&()*+=%[]")})},
	{Name: KeyACMEEmail, Kind: KindString, Required: true,
		Doc:     "Required. Let's Encrypt account contact, e.g. admin@example.com.",
		Example: "`pulumi config set acmeEmail admin@example.com`",
		Sample:  "ops@example.org",
		Grammar: grammar(KeyACMEEmail, Grammar{Chars: "A-Z a-z 0-9 and .@!#%&*+/=?^_{|}~-", MaxBytes: 254, allowed: asciiIn(".@!#%&*+/=?^_{|}~-")})},
	{Name: KeyACMEStaging, Kind: KindBool, Default: false, Sample: "true",
		Doc: "Use Let's Encrypt's staging CA (untrusted certificates, generous rate limits) for trials."},
	{Name: KeyACMEServer, Kind: KindString, Default: "",
		Doc:     "ACME directory URL (https) certbot uses instead of Let's Encrypt; not together with acmeStaging.",
		Example: "`pulumi config set acmeServer https://acme.example.com/directory`",
		Sample:  "https://acme.example.org/directory",
		Grammar: grammar(KeyACMEServer, Grammar{Chars: "A-Z a-z 0-9 and .-_~/:[]", MaxBytes: 200, allowed: asciiIn(".-_~/:[]")})},
	{Name: KeyRegistryMirror, Kind: KindString, Default: "",
		Doc:     "Pull-through registry mirror (https://host[:port]) the VM's Docker uses for Docker Hub images.",
		Example: "`pulumi config set registryMirror https://mirror.example.com`",
		Sample:  "https://mirror.example.org:5000",
		Grammar: grammar(KeyRegistryMirror, Grammar{Chars: "A-Z a-z 0-9 and .-_~/:[]", MaxBytes: 200, allowed: asciiIn(".-_~/:[]")})},
	{Name: KeyLocation, Kind: KindString, Scope: StackOnly, Default: "fsn1", Sample: "hel1",
		Doc:     "Hetzner location of the server, its primary IPs and volume (fsn1, nbg1, hel1, ash, hil, sin).",
		Grammar: grammar(KeyLocation, Grammar{Chars: "a-z 0-9", MaxBytes: 16, allowed: lowerAlnum})},
	{Name: KeyServerType, Kind: KindString, Scope: StackOnly, Default: "cx23", Sample: "cpx22",
		Doc:     "Hetzner server type (x86 cx23/33/43/53, cpx12-62; Arm cax11+). Changes in place with a reboot.",
		Grammar: grammar(KeyServerType, Grammar{Chars: "a-z 0-9", MaxBytes: 16, allowed: lowerAlnum})},
	{Name: KeyImage, Kind: KindString, Scope: StackOnly, Default: "debian-13", Sample: "debian-12",
		Doc:     "Hetzner image, debian-N or a numeric Debian snapshot ID. Changing it replaces the server.",
		Grammar: grammar(KeyImage, Grammar{Chars: "a-z 0-9 -", MaxBytes: 64, allowed: func(r rune) bool { return lowerAlnum(r) || r == '-' }})},
	{Name: KeySSHPublicKeys, Kind: KindList, Default: []any{},
		Doc:     "OpenSSH public keys to upload and put on the server. With sshKeySelector, at least one key must result.",
		Example: "`pulumi config set --path 'sshPublicKeys[0]' \"$(cat ~/.ssh/id_ed25519.pub)\"`",
		Sample:  `["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfUHbVCx8mUKP6yi/nE7NuLzfSw5UXYmulhUXgGbwSP ops@example"]`,
		Grammar: grammar(KeySSHPublicKeys, Grammar{Chars: "printable Unicode and space (no control, format or line-separator characters)", MaxBytes: 16 * 1024, MaxEntries: 32, allowed: printableUnicode})},
	{Name: KeySSHKeySelector, Kind: KindString, Scope: StackOnly, Default: "", Sample: "team=ops",
		Doc:     "Label selector (e.g. team=ops) of SSH keys already in the Hetzner project, for keys that are uploaded there already.",
		Grammar: grammar(KeySSHKeySelector, Grammar{Chars: "A-Z a-z 0-9, space and ._-/=!,()", MaxBytes: 512, allowed: asciiIn("._-/=!,() ")})},
	{Name: KeySSHAllowedCIDRs, Kind: KindList, Default: []any{"0.0.0.0/0", "::/0"},
		Doc:     "Networks allowed to reach SSH, in the Hetzner firewall and the host firewall.",
		Example: "`pulumi config set --path 'sshAllowedCidrs[0]' 203.0.113.0/24`",
		Sample:  `["203.0.113.0/24"]`,
		Grammar: grammar(KeySSHAllowedCIDRs, Grammar{Chars: "0-9 a-f A-F . : /", MaxBytes: 43, MaxEntries: 100, allowed: func(r rune) bool {
			return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '.' || r == ':' || r == '/'
		}})},
	{Name: KeySSHPort, Kind: KindInt, Default: DefaultSSHPort, Min: 1, Max: 65535, Sample: "2222",
		Doc: "Port sshd listens on."},
	{Name: KeyDNSZone, Kind: KindString, Scope: StackOnly, Default: "", Sample: "example.org",
		Doc:     "Hetzner DNS zone (Cloud API) that gets the A and AAAA records of domain; empty means you create them yourself.",
		Grammar: grammar(KeyDNSZone, Grammar{Chars: "a-z 0-9 - .", MaxBytes: 253, allowed: hostChars})},
	{Name: KeyVolumeSize, Kind: KindInt, Scope: StackOnly, Default: 10, Sample: "20",
		Doc: "Size in GiB of the volume that keeps certificates and state across server rebuilds; 0 for none, else 10-10240."},
	{Name: KeyKeepOnTeardown, Kind: KindBool, Scope: StackOnly, Default: true, Sample: "false",
		Doc: "Protect the primary IPs and the state volume (Pulumi protect and Hetzner delete protection) so `nctalk teardown` keeps them; set false and run `pulumi up` before a teardown that deletes them too."},
	{Name: KeySignalingSecret, Kind: KindSecret, Default: "", DefaultDoc: "generated", Sample: "givenSignalingSecret0123456789",
		Doc:     "Secret shared with Nextcloud (talk:signaling:add). Set with --secret to keep an existing setup's secret; empty means generated.",
		Grammar: &secretGrammar},
	{Name: KeyTURNSecret, Kind: KindSecret, Default: "", DefaultDoc: "generated", Sample: "givenTurnSecret0123456789abcde",
		Doc:     "TURN secret shared with Nextcloud (talk:turn:add). Set with --secret to keep an existing one; empty means generated.",
		Grammar: grammar(KeyTURNSecret, secretGrammar)},
	{Name: KeyJanusRTPPorts, Kind: KindPortRange, Default: DefaultJanusRTPPorts.String(), Sample: "30000-30500",
		Doc: "Janus RTP UDP port range, first-last within 1024-65535; about one port per PeerConnection."},
	{Name: KeyTURNRelayPorts, Kind: KindPortRange, Default: DefaultTURNRelayPorts.String(), Sample: "40000-40100",
		Doc: "coturn relay UDP port range, first-last within 1024-65535, disjoint from janusRtpPorts."},
	{Name: KeyTURNOn443, Kind: KindBool, Default: true, Sample: "false",
		Doc: "TURN over TLS on port 443 for networks that allow only HTTPS; nginx routes turnDomain (TLS SNI) to coturn, every other name to HTTPS."},
	{Name: KeyTURNDomain, Kind: KindString, Default: "", DefaultDoc: "turn.<domain>",
		Doc:     "Name of TURN over TLS on 443 (a second name on the certificate; A/AAAA records with dnsZone); empty means turn.<domain>.",
		Example: "`pulumi config set turnDomain turn.example.com`",
		Sample:  "relay.example.org",
		Grammar: grammar(KeyTURNDomain, Grammar{Chars: "a-z 0-9 - .", MaxBytes: 253, allowed: hostChars})},
	{Name: KeyImages, Kind: KindMap, Default: map[string]any{},
		Doc:     "Container image overrides by service name (signaling, janus, nats, coturn, nginx; proxy on media servers), pinned by tag or digest.",
		Example: "`pulumi config set --path 'images.janus' <image:tag>`",
		Sample:  `{"nats":"nats:2.11.10-alpine"}`,
		Grammar: grammar(KeyImages, Grammar{Chars: "A-Z a-z 0-9 and ._-/:@, starting with a letter or digit", MaxBytes: 512, MaxEntries: ImageServices, allowed: asciiIn("._-/:@")})},
	{Name: KeyMediaServers, Kind: KindMap, Scope: StackOnly, Default: map[string]any{},
		Doc:     "Media servers by name, each location/serverType: a signaling proxy, Janus and coturn at <name>.<domain> that signaling places calls on; empty means one box.",
		Example: "`pulumi config set --path 'mediaServers.media-1' hel1/cx33`",
		Sample:  `{"media-1":"hel1/cx33"}`,
		Grammar: grammar(KeyMediaServers, Grammar{Chars: "a-z 0-9 and / (location/serverType)", MaxBytes: 33, MaxEntries: MaxMediaServers, allowed: func(r rune) bool { return lowerAlnum(r) || r == '/' }})},
	{Name: KeyMediaDrain, Kind: KindInt, Scope: StackOnly, Default: DefaultMediaDrainMinutes, Min: MinMediaDrainMinutes, Max: MaxMediaDrainMinutes, Sample: "30",
		Doc: "Minutes a removed media server drains (no new calls there; its calls go on) before it is deleted anyway."},
	{Name: KeyGeoIPDatabase, Kind: KindString, Scope: StackOnly, Default: "", Sample: "https://geoip.example.org/country.mmdb.gz",
		Doc:     "With media servers: https URL of a MaxMind-format country database (.mmdb, .mmdb.gz, .tar.gz) signaling downloads daily, so a caller's media goes to a media server in their country; empty means none.",
		Example: "`pulumi config set geoipDatabaseUrl https://download.db-ip.com/free/dbip-country-lite-2026-12.mmdb.gz`",
		Grammar: grammar(KeyGeoIPDatabase, Grammar{Chars: "A-Z a-z 0-9 and -._~:/?@!&()*+=%[]", MaxBytes: 1024, allowed: asciiIn("-._~:/?@!&()*+=%[]")})},
	{Name: KeyGeoIPOverrides, Kind: KindList, Scope: StackOnly, Default: []any{},
		Doc:     "With media servers: network=CC entries (an IPv4 address or prefix, a country code) that fix the country of callers from known networks, such as a branch office's public addresses; they win over the database.",
		Example: "`pulumi config set --path 'geoipOverrides[0]' 203.0.113.0/24=FI`",
		Sample:  `["203.0.113.0/24=FI"]`,
		Grammar: grammar(KeyGeoIPOverrides, Grammar{Chars: "A-Z a-z 0-9 and ./=", MaxBytes: 21, MaxEntries: MaxGeoIPOverrides, allowed: asciiIn("./=")})},
	{Name: KeyStateDevice, Kind: KindString, Scope: RenderOnly, Default: "",
		Doc:     "Block device (e.g. /dev/disk/by-id/scsi-0HC_Volume_123) that keeps certificates and state across rebuilds; the stack uses its volume's.",
		Example: "`stateDevice: /dev/disk/by-id/scsi-0HC_Volume_123`",
		Sample:  "/dev/disk/by-id/scsi-0HC_Volume_123",
		Grammar: grammar(KeyStateDevice, Grammar{Chars: "/dev/ then A-Z a-z 0-9 and ._-:+@/", MaxBytes: 255, allowed: asciiIn("._-:+@/")})},
}

// ImageServices is the number of services whose image the images key may
// override (cloudconfig's DefaultImages; a test keeps them equal).
const ImageServices = 6

// MaxGeoIPOverrides caps the geoipOverrides entries.
const MaxGeoIPOverrides = 64

// MaxMediaServers caps the media servers of one stack.
const MaxMediaServers = 16

// Bounds and default of mediaDrainMinutes: how long a removed media server
// drains before it is stopped anyway.
const (
	MinMediaDrainMinutes     = 1
	MaxMediaDrainMinutes     = 1440
	DefaultMediaDrainMinutes = 60
)

// Lookup returns the key named name.
func Lookup(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

// KeysFor returns the names of the keys a reader in scope reads (Shared
// and its own scope), in table order.
func KeysFor(scope Scope) []string {
	var names []string
	for _, k := range Keys {
		if k.Scope == shared || k.Scope == scope {
			names = append(names, k.Name)
		}
	}
	return names
}
