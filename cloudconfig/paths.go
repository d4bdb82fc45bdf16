package cloudconfig

// Paths on the VM. The rendered document writes every service config to
// these paths; the compose file mounts them read-only into the containers;
// the integration tests extract the files by these paths.
const (
	// BaseDir holds the compose project and every service config.
	BaseDir = "/opt/nctalk"
	// ComposeFile is the docker compose project file.
	ComposeFile = BaseDir + "/compose.yaml"
	// SignalingConfig is nextcloud-spreed-signaling's server.conf.
	SignalingConfig = BaseDir + "/signaling/server.conf"
	// JanusConfigDir holds janus.jcfg and the enabled plugin/transport configs.
	JanusConfigDir = BaseDir + "/janus"
	// NATSConfig is nats-server's config file.
	NATSConfig = BaseDir + "/nats/nats.conf"
	// CoturnConfig is coturn's turnserver.conf.
	CoturnConfig = BaseDir + "/coturn/turnserver.conf"
	// CoturnTLSDir holds the copy of the certificate and key that coturn
	// (unprivileged) can read; the renewal hook refreshes it.
	CoturnTLSDir = BaseDir + "/coturn/tls"
	// NginxConfig is the nginx server configuration.
	NginxConfig = BaseDir + "/nginx/nginx.conf"
	// CoturnStateDir is the coturn image's VOLUME, a tmpfs in its read-only
	// container: coturn's SQLite user database (unused with REST
	// credentials, but always opened) and pid file.
	CoturnStateDir = "/var/lib/coturn"
	// NginxTempDir holds nginx's temp files (nginx.conf sets every temp
	// path under it) and NginxRunDir its pid file: tmpfs in its read-only
	// container.
	NginxTempDir = "/var/cache/nginx"
	NginxRunDir  = "/run"
	// ACMEWebroot is where nginx serves /.well-known/acme-challenge/ from.
	ACMEWebroot = BaseDir + "/acme"
	// LetsEncryptDir is certbot's config dir; on the state volume when one is attached.
	LetsEncryptDir = "/etc/letsencrypt"
	// StateMount is where the state volume is mounted.
	StateMount = "/mnt/nctalk-state"
	// ReadyMarker is written when every service answers its health check.
	ReadyMarker = "/var/lib/nctalk/ready"
	// ACMEFailureLog keeps the times of failed certbot attempts, one a line,
	// so the setup stays under Let's Encrypt's failed-validation limit
	// across its runs (ACMEFailuresPerHour).
	ACMEFailureLog = "/var/lib/nctalk/acme-failed"

	// NginxTLSDir holds nginx's copy of the certificate (a self-signed
	// placeholder until Let's Encrypt answers), refreshed by the deploy hook.
	NginxTLSDir = BaseDir + "/nginx/tls"
	// TLSCertFile and TLSKeyFile are the file names in NginxTLSDir and CoturnTLSDir.
	TLSCertFile = "fullchain.pem"
	TLSKeyFile  = "privkey.pem"
	// ScriptsDir holds the provisioning scripts.
	ScriptsDir = BaseDir + "/bin"
	// SetupScript is what SetupUnit runs: volume, TLS, firewall, SSH,
	// compose, certificate, readiness, in that order.
	SetupScript = ScriptsDir + "/nctalk-setup"
	// FirstBootScript is cloud-init's runcmd: it starts SetupUnit and waits
	// through the unit's retries until ReadyMarker exists (bounded), so
	// cloud-init reports the first boot done once the backend answers.
	FirstBootScript = ScriptsDir + "/nctalk-first-boot"
	// ReadyScript checks every service and writes ReadyMarker.
	ReadyScript = ScriptsDir + "/nctalk-ready"
	// CertDeployHook is certbot's deploy hook: copies the certificate for
	// nginx and coturn and reloads them.
	CertDeployHook = ScriptsDir + "/nctalk-cert-deploy"
	// HostFirewallConfig is the nftables ruleset built from FirewallRules.
	HostFirewallConfig = BaseDir + "/host/nftables.nft"
	// SetupUnit runs SetupScript: started by FirstBootScript at first
	// boot, again at every boot, and again a while after a failed run
	// (Restart=on-failure) until the backend is ready.
	SetupUnit = "/etc/systemd/system/nctalk-setup.service"
	// DockerDaemonConfig is dockerd's config: live-restore (containers keep
	// running while dockerd restarts) and registryMirror.
	DockerDaemonConfig = "/etc/docker/daemon.json"
	// ResolvedConfig turns off systemd-resolved's LLMNR and mDNS responders,
	// which listen on 5355 (and 5353) on every interface of a Debian 13 cloud image.
	ResolvedConfig = "/etc/systemd/resolved.conf.d/10-nctalk.conf"
	// HostFirewallUnit loads HostFirewallConfig at boot.
	HostFirewallUnit = "/etc/systemd/system/nctalk-firewall.service"
	// SSHDConfig is the sshd drop-in (port, key-only login).
	SSHDConfig = "/etc/ssh/sshd_config.d/10-nctalk.conf"
	// AutoUpgradesConfig turns on unattended security upgrades.
	AutoUpgradesConfig = "/etc/apt/apt.conf.d/52nctalk-auto-upgrades"
	// AuthorizedKeys holds the keys that log in as root besides root's own
	// ~/.ssh/authorized_keys (the cloud's keys): sshPublicKeys and the
	// stack's deploy key, which may only run ApplyCommand. Rewritten whole
	// by every in-place change, so a key removed from the config loses
	// its access.
	AuthorizedKeys = "/etc/ssh/nctalk/authorized_keys"
	// ApplyScript applies an in-place change (a Bundle) to the running box.
	ApplyScript = ScriptsDir + "/nctalk-apply"
	// AppliedUnits is the unit digests of what the box runs, written by
	// ApplyScript after each change it applied.
	AppliedUnits = "/var/lib/nctalk/units"
)

// Container users: one uid per service, so the host firewall (nftables.nft,
// output chain) can tell the host-networked containers apart and each
// config file carrying a secret is readable by the one service that reads
// it. compose.yaml runs each service as its uid; none shares one with
// another service or with the images' defaults (nobody 65534, aio-talk's
// 1000). NginxWorkerUID is the nginx image's own user (the master runs as
// root and switches its workers to it by name).
const (
	// SignalingUID is the user nextcloud-spreed-signaling runs as (image 2.1.1+).
	SignalingUID = 850
	// JanusUID is the user the Janus container is run as.
	JanusUID = 851
	// NATSUID is the user the NATS container is run as.
	NATSUID = 852
	// CoturnUID is the user the coturn container is run as.
	CoturnUID = 853
	// NginxWorkerUID is the nginx image's user "nginx" (uid 101), its
	// workers' (nginx.conf: user NginxWorkerUser).
	NginxWorkerUID = 101
)

// NginxWorkerUser is the account nginx.conf's `user` directive names for
// the workers: the nginx image's "nginx" (NginxWorkerUID). The image's
// nginx is built with --user=nginx; the directive makes it explicit, and
// the host firewall's gates rely on the workers' uid.
const NginxWorkerUser = "nginx"

// ContainerUIDs maps each service to the uid its processes run as (nginx:
// its workers; its master is root). A test keeps them distinct.
var ContainerUIDs = map[string]int{
	ServiceSignaling: SignalingUID,
	ServiceJanus:     JanusUID,
	ServiceNATS:      NATSUID,
	ServiceCoturn:    CoturnUID,
	ServiceNginx:     NginxWorkerUID,
}

// Janus config files in JanusConfigDir: the core, the one plugin and the one
// transport that are enabled.
const (
	JanusConfigFile       = JanusConfigDir + "/janus.jcfg"
	JanusVideoRoomConfig  = JanusConfigDir + "/janus.plugin.videoroom.jcfg"
	JanusWebsocketsConfig = JanusConfigDir + "/janus.transport.websockets.jcfg"
)

// CertificateDir is where certbot keeps the live certificate of domain.
func CertificateDir(domain string) string { return LetsEncryptDir + "/live/" + domain }
