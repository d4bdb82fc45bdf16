package cloudconfig

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"
	"text/template"

	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// MaxUserDataBytes is Hetzner's limit for user data: the document as
// EncodeUserData packs it.
const MaxUserDataBytes = 32 * 1024

// maxTypicalUserDataBytes is the user data (EncodeUserData) a typical setting
// (a few backends, keys and CIDRs, a volume, 64-character secrets) must stay
// under: half of Hetzner's limit, headroom for what the backend grows into.
const maxTypicalUserDataBytes = 16 * 1024

// targetUserDataBytes is the user data budget of the reference setting as
// the stack renders it (with its access: the host key). The in-place apply
// script (nctalk-apply) and the host key took it from 11.9 to 13.1 KiB, the
// second hardening round (per-client limits) to 14.7 KiB.
const targetUserDataBytes = 15*1024 + 512

//go:embed templates/*
var templateFS embed.FS

var templates = template.Must(template.New("").Option("missingkey=error").Funcs(template.FuncMap{
	"indent": indent,
	"join":   strings.Join,
	// sh quotes a value as one shell word (ShellQuote); every value in a
	// shell script goes through it.
	"sh": ShellQuote,
	// yaml and yamlblock write one YAML scalar; every value in the
	// cloud-config goes through one of them.
	"yaml":      yamlScalar,
	"yamlblock": yamlBlock,
	"dir":       path.Dir,
	// rel writes a path under BaseDir relative to the compose project.
	"rel": func(p string) string { return "." + strings.TrimPrefix(p, BaseDir) },
}).ParseFS(templateFS, "templates/*"))

// File is one entry of the document's write_files.
type File struct {
	// Path is the absolute path on the VM.
	Path string
	// Perms is the octal mode, e.g. "0644".
	Perms string
	// Append adds Content to an existing file instead of replacing it.
	Append bool
	// Content is the file's bytes.
	Content []byte
}

// fileSpec says which template becomes which file, with what mode and
// owner (0: root; else the uid of the one container user that reads it),
// and on which boxes (every box when none is named).
type fileSpec struct {
	path, perms, template string
	owner                 int
	on                    []box
}

// fileSpecs lists every rendered file in document order.
var fileSpecs = []fileSpec{
	{ComposeFile, "0644", "compose.yaml", 0, nil},
	{SignalingConfig, "0400", "signaling-server.conf", SignalingUID, []box{boxSingle, boxSignaling}},
	{proxyTokenKey, "0400", "proxy-token.key", SignalingUID, []box{boxSignaling}},
	{JanusConfigFile, "0644", "janus.jcfg", 0, []box{boxSingle, boxMedia}},
	{JanusVideoRoomConfig, "0644", "janus.plugin.videoroom.jcfg", 0, []box{boxSingle, boxMedia}},
	{JanusWebsocketsConfig, "0644", "janus.transport.websockets.jcfg", 0, []box{boxSingle, boxMedia}},
	{NATSConfig, "0644", "nats.conf", 0, []box{boxSingle, boxSignaling}},
	{proxyConfig, "0644", "proxy.conf", 0, []box{boxMedia}},
	{proxyTokenPublicKey, "0644", "proxy-token.pub", 0, []box{boxMedia}},
	{CoturnConfig, "0400", "turnserver.conf", CoturnUID, nil},
	{NginxConfig, "0644", "nginx.conf", 0, nil},
	{HostFirewallConfig, "0644", "nftables.nft", 0, nil},
	{hostFirewallUnit, "0644", "nctalk-firewall.service", 0, nil},
	{sshdConfig, "0644", "sshd.conf", 0, nil},
	{AuthorizedKeys, "0644", "authorized_keys", 0, nil},
	{resolvedConfig, "0644", "resolved.conf", 0, nil},
	{autoUpgradesConfig, "0644", "auto-upgrades.conf", 0, nil},
	{setupUnit, "0644", "nctalk-setup.service", 0, nil},
	{SetupScript, "0755", "nctalk-setup.sh", 0, nil},
	{firstBootScript, "0755", "nctalk-first-boot.sh", 0, nil},
	{certDeployHook, "0755", "nctalk-cert-deploy.sh", 0, nil},
	{ReadyScript, "0755", "nctalk-ready.sh", 0, nil},
	{applyScript, "0755", "nctalk-apply.sh", 0, nil},
}

// fileOwners maps the files a container user owns to its uid.
func fileOwners() map[string]int {
	out := map[string]int{}
	for _, f := range fileSpecs {
		if f.owner != 0 {
			out[f.path] = f.owner
		}
	}
	return out
}

// packages are the Debian packages the document installs, without their
// recommendations. docker-compose is Debian 13's Compose v2 (it provides
// `docker compose`); Debian 13 ships the docker CLI as docker-cli, which
// docker.io and docker-compose only recommend (the VM test's first boot
// without it: "docker: command not found"). apparmor, which docker.io also
// only recommends, keeps Docker's docker-default profile on every container.
var packages = []string{
	"apparmor", "bind9-dnsutils", "certbot", "curl", "docker-cli", "docker-compose", "docker.io",
	"nftables", "openssl", "unattended-upgrades",
}

// janusPlugins, janusTransports and janusLoggers are the Janus modules
// janus.jcfg disables: everything but the VideoRoom plugin and the websockets
// transport. Event handlers are not loaded at all (events.broadcast = false).
var (
	janusPlugins = []string{
		"libjanus_audiobridge.so", "libjanus_duktape.so", "libjanus_echotest.so",
		"libjanus_lua.so", "libjanus_nosip.so", "libjanus_recordplay.so", "libjanus_sip.so",
		"libjanus_streaming.so", "libjanus_textroom.so", "libjanus_videocall.so",
		"libjanus_voicemail.so",
	}
	janusTransports = []string{
		"libjanus_http.so", "libjanus_mqtt.so", "libjanus_nanomsg.so",
		"libjanus_pfunix.so", "libjanus_rabbitmq.so",
	}
	janusLoggers = []string{"libjanus_jsonlog.so"}
)

// DeniedPeerNetworks are the networks coturn never relays to, so the relay is
// no door into the host or a private network: "this network", loopback,
// private, CGNAT, link-local (the metadata service), IETF protocol
// assignments, benchmarking, multicast and reserved space, IPv4 and IPv6
// (including IPv4-mapped, NAT64 and 6to4 addresses, which embed an IPv4
// address that may be private). Not "::": coturn 4.6 reads a
// range starting at the unspecified address as matching every peer.
var DeniedPeerNetworks = []string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/3",
	"::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16",
	"fc00::/7", "fe80::/10", "ff00::/8",
}

// PublicResolvers are the resolvers the DNS wait asks directly, in order,
// before the certificate is requested: the machine's own resolver answers
// its own name locally (cloud-init's manage_etc_hosts, systemd-resolved) and
// can never show the public record.
var PublicResolvers = []string{"1.1.1.1", "9.9.9.9", "8.8.8.8"}

// dnsWaitMinutes bounds the wait for the domain to resolve to the host.
const dnsWaitMinutes = 30

// firstBootWaitMinutes bounds how long the first boot waits for a later run
// of the setup to succeed after its first run failed: cloud-init reports an
// error only then (the unit goes on retrying).
const firstBootWaitMinutes = 30

// EffectiveImages is DefaultImages with the settings' overrides applied.
func (s Settings) EffectiveImages() map[string]string {
	out := make(map[string]string, len(DefaultImages))
	for k, v := range DefaultImages {
		out[k] = v
	}
	for k, v := range s.Images {
		out[k] = v
	}
	return out
}

// backend is one [backend-N] section of the signaling config.
type backend struct{ ID, URL string }

// view is what the templates in templates/ see, one value per render. Every
// field is typed: a template that names a field the view lacks fails the
// first render of every test, and TestViewFieldsAreUsed fails on a field no
// template reads. The top fields are the operator's settings as the files
// need them; the groups (Ports, Paths, UIDs, Images, Janus) are the fixed
// tables, filled in one place (newView) from schema's port table and the
// constants of paths.go and images.go.
type view struct {
	// The site, read by most files: names, ACME, the state volume, SSH
	// (sshd.conf), the Talk entries and every secret.
	Domain, ACMEEmail, StateDevice, SignalingPath string
	ACMEServer, TURNDomain, TURNURIs              string
	ACMEStaging, TURN443                          bool
	SSHPort                                       int
	Secrets                                       Secrets

	// The tables the files share: the fixed ports, paths and container
	// users, and the images (DefaultImages with the settings' overrides).
	Ports  viewPorts
	Paths  viewPaths
	UIDs   viewUIDs
	Images viewImages

	// signaling-server.conf: one [backend-N] section per Nextcloud URL, and
	// the list of their IDs; the networks Janus is never told to reach
	// from a client's ICE candidates (DeniedPeerNetworks).
	Backends          []backend
	BackendIDs        string
	BlockedCandidates string
	// signaling-server.conf's [mcu]: its own Janus, or the media servers'
	// proxies and the token's key (WithMediaServers); proxy.conf: a media
	// server's proxy (ForMediaServer). Run says which services the box
	// runs (compose.yaml, nginx.conf, the host firewall, the checks).
	MCU   viewMCU
	Proxy viewProxy
	Run   viewRun

	// janus.jcfg: the RTP range (also the host firewall's relay rule) and
	// the modules Janus does not load.
	RTPPorts schema.PortRange
	Janus    viewJanus

	// turnserver.conf: the relay range (also the host firewall's relay
	// rules), the quotas and the peers coturn never relays to.
	RelayPorts  schema.PortRange
	TURNLimits  TURNLimits
	DeniedPeers []string

	// nginx.conf: the workers' account (NginxWorkerUser).
	NginxWorkerUser string

	// nftables.nft: the input chain's rules, from FirewallRules; the
	// per-client limits (also nginx.conf's) and the IPv6 mask of a client.
	NFTRules       []string
	Limits         viewLimits
	IPv6ClientMask string

	// nctalk-setup.sh: the public resolvers the DNS wait asks, and the
	// wait's bound in rounds of 10 s and in minutes; the failed certbot
	// attempts it makes in an hour.
	Resolvers                     []string
	DNSWaitRounds, DNSWaitMinutes int
	ACMEFailuresPerHour           int

	// nctalk-first-boot.sh: the wait for a retried setup, in rounds of 10 s
	// and in minutes.
	FirstBootWaitRounds, FirstBootWaitMinutes int

	// cloud-config.yaml: the Debian packages and every rendered file; with
	// an Access, the SSH host key.
	Packages []string
	Files    []File

	// authorized_keys and cloud-config.yaml: the stack's access (Access),
	// the admins' keys.
	Access    viewAccess
	AdminKeys []string

	// nctalk-apply.sh: the bundle's format, the units in the order it acts
	// on them; nctalk-setup.sh: the files a container user owns.
	BundleFormat string
	Units        []Unit
	OwnedFiles   []ownedFile
}

// viewAccess is the stack's way onto the box (Access): the host key (or its
// marker, redacted) and its public half, and the deploy key's
// authorized_keys line (restricted to ApplyCommand).
type viewAccess struct {
	HostKey                      []byte
	HostPublicKey, DeployKeyLine string
}

// ownedFile is a file a container user owns: Owner is "uid:gid".
type ownedFile struct{ Path, Owner string }

// viewPorts is the fixed port table (schema): the public ports, then the
// loopback ports of the internal services.
type viewPorts struct {
	HTTP, HTTPS, TURN, TURNS     int
	SignalingHTTP, JanusWS, NATS int
	HTTPSLocal, TURNSLocal       int
	ProxyHTTP                    int
}

// viewPaths are the paths on the VM (paths.go), in the order of the files
// that name them: compose project, service configs and the directories
// compose mounts, TLS copies, ACME and state, scripts and units.
type viewPaths struct {
	// ComposeFile is the compose project; the service directories below
	// are mounted read-only from it.
	ComposeFile string
	// SignalingConfig, JanusConfigDir, NATSConfig, CoturnConfig and
	// NginxConfig are the service configs; the *Dir fields are the
	// directories that hold them.
	SignalingConfig, SignalingDir string
	JanusConfigDir                string
	NATSConfig, NATSDir           string
	CoturnConfig, CoturnDir       string
	NginxConfig, NginxDir         string
	// coturnStateDir, nginxTempDir and nginxRunDir are the tmpfs mounts
	// of the read-only containers: all a service may write.
	CoturnStateDir, NginxTempDir, NginxRunDir string
	// coturnTLSDir and NginxTLSDir hold the copies of the certificate
	// (TLSCertFile) and key (TLSKeyFile) that the deploy hook refreshes.
	CoturnTLSDir, NginxTLSDir string
	TLSCertFile, TLSKeyFile   string
	// ACMEWebroot is served by nginx for HTTP-01; LetsEncryptDir is
	// certbot's, bind-mounted from stateMount when a volume is attached.
	ACMEWebroot, LetsEncryptDir, StateMount string
	// SetupScript, firstBootScript, ReadyScript and certDeployHook are the
	// provisioning scripts; ReadyMarker is what ReadyScript writes.
	SetupScript, FirstBootScript, ReadyScript, CertDeployHook, ReadyMarker string
	// acmeFailureLog keeps the setup's failed certbot attempts.
	ACMEFailureLog string
	// HostFirewallConfig is the nftables ruleset the firewall unit loads.
	HostFirewallConfig string
	// SetupUnitName is the setup unit's name, as firstBootScript starts it.
	SetupUnitName string
	// AuthorizedKeys, applyScript and appliedUnits serve in-place changes.
	AuthorizedKeys, ApplyScript, AppliedUnits string
	// ProxyTokenKey is signaling's token key (scale-out);
	// ProxyConfig, ProxyDir and ProxyTokenPublicKey a media server's proxy
	// config, the directory compose mounts and the token's public half.
	ProxyTokenKey, ProxyTokenPublicKey, ProxyConfig, ProxyDir string
}

// viewUIDs are the container users (paths.go) that compose runs the
// services as, that own the config files carrying a secret and that the
// host firewall tells the containers apart by.
type viewUIDs struct{ Signaling, Janus, NATS, Coturn, NginxWorker, Proxy int }

// viewImages is the container image of every service: DefaultImages with
// the settings' overrides (Settings.EffectiveImages).
type viewImages struct{ Signaling, Janus, NATS, Coturn, Nginx, Proxy string }

// viewLimits are the per-client limits of limits.go.
type viewLimits struct {
	ConnectionsPerAddress, NewConnectionsPerSecond, NewConnectionsBurst int
	RequestsPerSecond, RequestBurst, WorkerConnections                  int
}

// viewJanus are janus.jcfg's disable lists: comma-separated module file
// names (janusPlugins, janusTransports, janusLoggers).
type viewJanus struct{ DisabledPlugins, DisabledTransports, DisabledLoggers string }

// newView builds what the templates see from a plan and the secrets.
func newView(p Plan, sec Secrets) view {
	s := p.settings
	images := s.EffectiveImages()
	v := view{
		Domain:        s.Domain,
		ACMEEmail:     s.ACMEEmail,
		ACMEStaging:   s.ACMEStaging,
		ACMEServer:    s.EffectiveACMEServer(),
		Resolvers:     PublicResolvers,
		StateDevice:   s.StateDevice,
		SignalingPath: talk.SignalingPath,
		TURN443:       s.TURNOn443,
		TURNDomain:    s.TURNName(),
		TURNURIs:      strings.Join(p.Endpoints.TURNURIs(), ","),
		SSHPort:       p.SSHPort,
		Secrets:       sec,
		RTPPorts:      p.JanusRTPPorts,
		RelayPorts:    p.TURNRelayPorts,
		TURNLimits:    TURNLimitsFor(p.TURNRelayPorts),
		Packages:      packages,
		Ports: viewPorts{
			HTTP: schema.PortHTTP, HTTPS: schema.PortHTTPS, TURN: schema.PortTURN, TURNS: schema.PortTURNS,
			SignalingHTTP: schema.PortSignalingHTTP, JanusWS: schema.PortJanusWS, NATS: schema.PortNATS,
			HTTPSLocal: schema.PortHTTPSLocal, TURNSLocal: schema.PortTURNSLocal,
			ProxyHTTP: schema.PortProxyHTTP,
		},
		Paths: viewPaths{
			ComposeFile:     ComposeFile,
			SignalingConfig: SignalingConfig, SignalingDir: path.Dir(SignalingConfig),
			JanusConfigDir: JanusConfigDir,
			NATSConfig:     NATSConfig, NATSDir: path.Dir(NATSConfig),
			CoturnConfig: CoturnConfig, CoturnDir: path.Dir(CoturnConfig),
			NginxConfig: NginxConfig, NginxDir: path.Dir(NginxConfig),
			CoturnStateDir: coturnStateDir, NginxTempDir: nginxTempDir, NginxRunDir: nginxRunDir,
			CoturnTLSDir: coturnTLSDir, NginxTLSDir: NginxTLSDir,
			TLSCertFile: TLSCertFile, TLSKeyFile: TLSKeyFile,
			ACMEWebroot: ACMEWebroot, LetsEncryptDir: LetsEncryptDir, StateMount: stateMount,
			SetupScript: SetupScript, FirstBootScript: firstBootScript, ReadyScript: ReadyScript,
			CertDeployHook: certDeployHook, ReadyMarker: ReadyMarker, ACMEFailureLog: acmeFailureLog,
			HostFirewallConfig: HostFirewallConfig,
			SetupUnitName:      path.Base(setupUnit),
			AuthorizedKeys:     AuthorizedKeys, ApplyScript: applyScript, AppliedUnits: appliedUnits,
			ProxyTokenKey: proxyTokenKey, ProxyTokenPublicKey: proxyTokenPublicKey,
			ProxyConfig: proxyConfig, ProxyDir: path.Dir(proxyConfig),
		},
		UIDs: viewUIDs{Signaling: SignalingUID, Janus: JanusUID, NATS: NATSUID, Coturn: CoturnUID, NginxWorker: NginxWorkerUID, Proxy: ProxyUID},
		Images: viewImages{
			Signaling: images[ServiceSignaling], Janus: images[ServiceJanus], NATS: images[ServiceNATS],
			Coturn: images[ServiceCoturn], Nginx: images[ServiceNginx], Proxy: images[ServiceProxy],
		},
		Janus: viewJanus{
			DisabledPlugins:    strings.Join(janusPlugins, ","),
			DisabledTransports: strings.Join(janusTransports, ","),
			DisabledLoggers:    strings.Join(janusLoggers, ","),
		},
		MCU:          newViewMCU(p.media, p.box),
		Proxy:        p.proxy,
		Run:          newViewRun(p.box),
		AdminKeys:    append(slices.Clone(s.SSHAuthorizedKeys), p.projectKeys...),
		Access:       newViewAccess(p.access),
		BundleFormat: bundleFormat,
		Units:        unitsOn(p.box),
		Limits: viewLimits{
			ConnectionsPerAddress: ConnectionsPerAddress, NewConnectionsPerSecond: newConnectionsPerSecond,
			NewConnectionsBurst: newConnectionsBurst, RequestsPerSecond: requestsPerSecond, RequestBurst: requestBurst,
			WorkerConnections: nginxWorkerConnections,
		},
		IPv6ClientMask:       ipv6Mask(ipv6ClientPrefix),
		NginxWorkerUser:      NginxWorkerUser,
		ACMEFailuresPerHour:  acmeFailuresPerHour,
		DNSWaitRounds:        dnsWaitMinutes * 6,
		DNSWaitMinutes:       dnsWaitMinutes,
		FirstBootWaitRounds:  firstBootWaitMinutes * 6,
		FirstBootWaitMinutes: firstBootWaitMinutes,
	}
	var ids []string
	for i, u := range s.NextcloudURLs {
		b := backend{ID: fmt.Sprintf("backend-%d", i+1), URL: strings.TrimSuffix(u, "/")}
		v.Backends = append(v.Backends, b)
		ids = append(ids, b.ID)
	}
	v.BackendIDs = strings.Join(ids, ", ")
	v.BlockedCandidates = strings.Join(DeniedPeerNetworks, ", ")
	for _, n := range DeniedPeerNetworks {
		v.DeniedPeers = append(v.DeniedPeers, prefixRange(netip.MustParsePrefix(n)))
	}
	v.NFTRules = nftRules(p.Firewall)
	for _, f := range fileSpecs {
		if f.owner != 0 && f.writtenOn(p.box) {
			v.OwnedFiles = append(v.OwnedFiles, ownedFile{Path: f.path, Owner: fmt.Sprintf("%d:%d", f.owner, f.owner)})
		}
	}
	return v
}

// ipv6Mask is the IPv6 netmask of a prefix length, as nftables reads it
// (64: ffff:ffff:ffff:ffff::).
func ipv6Mask(bits int) string {
	var m [16]byte
	for i := range bits {
		m[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom16(m).String()
}

// prefixRange writes a prefix as coturn's "first-last" address range.
func prefixRange(p netip.Prefix) string {
	first := p.Masked().Addr()
	last := first.As16()
	bits := p.Bits()
	if first.Is4() {
		bits += 96
	}
	for i := bits; i < 128; i++ {
		last[i/8] |= 1 << (7 - i%8)
	}
	l := netip.AddrFrom16(last)
	if first.Is4() {
		l = l.Unmap()
	}
	if l == first {
		return first.String()
	}
	return first.String() + "-" + l.String()
}

// nftRules turns the plan's port table into nftables rule lines.
func nftRules(rules []Rule) []string {
	var lines []string
	for _, r := range rules {
		comment := fmt.Sprintf("comment %q", r.Name)
		switch {
		case r.Protocol == ICMP:
			lines = append(lines, "meta l4proto { icmp, ipv6-icmp } accept "+comment)
		case r.SSHOnly:
			var v4, v6 []string
			for _, p := range r.Sources {
				if p.Addr().Is4() {
					v4 = append(v4, p.String())
				} else {
					v6 = append(v6, p.String())
				}
			}
			for _, fam := range []struct {
				kw   string
				nets []string
			}{{"ip", v4}, {"ip6", v6}} {
				if len(fam.nets) > 0 {
					lines = append(lines, fmt.Sprintf("%s saddr { %s } %s dport %s accept %s",
						fam.kw, strings.Join(fam.nets, ", "), r.Protocol, r.PortString(), comment))
				}
			}
		default:
			lines = append(lines, fmt.Sprintf("%s dport %s accept %s", r.Protocol, r.PortString(), comment))
		}
	}
	return lines
}

// indent prefixes every non-empty line of b with n spaces and drops the
// final newline, for YAML block scalars.
func indent(n int, b []byte) string {
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n")
}

// renderDocument executes every template for a checked view.
func renderDocument(p Plan, v view) ([]byte, error) {
	var err error
	if v.Files, err = renderFiles(p, v); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := templates.ExecuteTemplate(&b, "cloud-config.yaml", v); err != nil {
		return nil, fmt.Errorf("rendering the cloud-config: %w", err)
	}
	return b.Bytes(), nil
}

// renderFiles executes every file template.
func renderFiles(p Plan, v view) ([]File, error) {
	s := p.settings
	files := make([]File, 0, len(fileSpecs)+1)
	for _, spec := range fileSpecs {
		if !spec.writtenOn(p.box) {
			continue
		}
		var b bytes.Buffer
		if err := templates.ExecuteTemplate(&b, spec.template, v); err != nil {
			return nil, fmt.Errorf("rendering %s: %w", spec.path, err)
		}
		files = append(files, File{Path: spec.path, Perms: spec.perms, Content: b.Bytes()})
	}
	daemon, err := dockerDaemonConfig(s)
	if err != nil {
		return nil, err
	}
	files = append(files, File{Path: dockerDaemonFile, Perms: "0644", Content: daemon})
	return files, nil
}

// dockerDaemonConfig is /etc/docker/daemon.json, written by the JSON encoder:
// live-restore keeps the containers (and calls) running while dockerd
// restarts, e.g. when unattended-upgrades updates docker.io; registryMirror
// becomes Docker's mirror for Docker Hub images.
func dockerDaemonConfig(s Settings) ([]byte, error) {
	cfg := struct {
		LiveRestore    bool     `json:"live-restore"`
		RegistryMirror []string `json:"registry-mirrors,omitempty"`
	}{LiveRestore: true}
	if s.RegistryMirror != "" {
		cfg.RegistryMirror = []string{s.RegistryMirror}
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("rendering %s: %w", dockerDaemonFile, err)
	}
	return append(b, '\n'), nil
}

// RedactionMarker replaces each secret in a redacted document; the secret's
// name is inserted at %s.
const RedactionMarker = "<redacted:%s>"

// Redact replaces every secret value in text with a fixed marker naming it.
// It searches, so it is for text whose structure is unknown (logs, command
// output); a secret that equals ordinary words replaces those words too.
// For the rendered document use RenderRedacted, which redacts by position.
// Longer secrets are replaced first, so a secret that contains another is
// never half-redacted; empty secrets are skipped.
func Redact(doc []byte, sec Secrets) []byte {
	list := sec.List()
	slices.SortStableFunc(list, func(a, b NamedSecret) int { return len(b.Value) - len(a.Value) })
	out := doc
	for _, ns := range list {
		if ns.Value == "" {
			continue
		}
		out = bytes.ReplaceAll(out, []byte(ns.Value), []byte(fmt.Sprintf(RedactionMarker, ns.Name)))
	}
	return out
}

// redactionSecrets has every secret set to its marker.
func redactionSecrets() Secrets {
	var m Secrets
	for _, ns := range m.List() {
		m.Set(ns.Name, fmt.Sprintf(RedactionMarker, ns.Name))
	}
	return m
}
