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
	// coturnTLSDir holds the copy of the certificate and key that coturn
	// (unprivileged) can read; the renewal hook refreshes it.
	coturnTLSDir = BaseDir + "/coturn/tls"
	// NginxConfig is the nginx server configuration.
	NginxConfig = BaseDir + "/nginx/nginx.conf"
	// coturnStateDir is the coturn image's VOLUME, a tmpfs in its read-only
	// container: coturn's SQLite user database (unused with REST
	// credentials, but always opened) and pid file.
	coturnStateDir = "/var/lib/coturn"
	// nginxTempDir holds nginx's temp files (nginx.conf sets every temp
	// path under it) and nginxRunDir its pid file: tmpfs in its read-only
	// container.
	nginxTempDir = "/var/cache/nginx"
	nginxRunDir  = "/run"
	// ACMEWebroot is where nginx serves /.well-known/acme-challenge/ from.
	ACMEWebroot = BaseDir + "/acme"
	// LetsEncryptDir is certbot's config dir; on the state volume when one is attached.
	LetsEncryptDir = "/etc/letsencrypt"
	// stateMount is where the state volume is mounted.
	stateMount = "/mnt/nctalk-state"
	// ReadyMarker is written when every service answers its health check.
	ReadyMarker = "/var/lib/nctalk/ready"
	// acmeFailureLog keeps the times of failed certbot attempts, one a line,
	// so the setup stays under Let's Encrypt's failed-validation limit
	// across its runs (acmeFailuresPerHour).
	acmeFailureLog = "/var/lib/nctalk/acme-failed"

	// NginxTLSDir holds nginx's copy of the certificate (a self-signed
	// placeholder until Let's Encrypt answers), refreshed by the deploy hook.
	NginxTLSDir = BaseDir + "/nginx/tls"
	// TLSCertFile and TLSKeyFile are the file names in NginxTLSDir and coturnTLSDir.
	TLSCertFile = "fullchain.pem"
	TLSKeyFile  = "privkey.pem"
	// scriptsDir holds the provisioning scripts.
	scriptsDir = BaseDir + "/bin"
	// SetupScript is what setupUnit runs: volume, TLS, firewall, SSH,
	// compose, certificate, readiness, in that order.
	SetupScript = scriptsDir + "/nctalk-setup"
	// firstBootScript is cloud-init's runcmd: it starts setupUnit and waits
	// through the unit's retries until ReadyMarker exists (bounded), so
	// cloud-init reports the first boot done once the backend answers.
	firstBootScript = scriptsDir + "/nctalk-first-boot"
	// ReadyScript checks every service and writes ReadyMarker.
	ReadyScript = scriptsDir + "/nctalk-ready"
	// certDeployHook is certbot's deploy hook: copies the certificate for
	// nginx and coturn and reloads them.
	certDeployHook = scriptsDir + "/nctalk-cert-deploy"
	// HostFirewallConfig is the nftables ruleset built from FirewallRules.
	HostFirewallConfig = BaseDir + "/host/nftables.nft"
	// setupUnit runs SetupScript: started by firstBootScript at first
	// boot, again at every boot, and again a while after a failed run
	// (Restart=on-failure) until the backend is ready.
	setupUnit = "/etc/systemd/system/nctalk-setup.service"
	// dockerDaemonFile is dockerd's config: live-restore (containers keep
	// running while dockerd restarts) and registryMirror.
	dockerDaemonFile = "/etc/docker/daemon.json"
	// resolvedConfig turns off systemd-resolved's LLMNR and mDNS responders,
	// which listen on 5355 (and 5353) on every interface of a Debian 13 cloud image.
	resolvedConfig = "/etc/systemd/resolved.conf.d/10-nctalk.conf"
	// hostFirewallUnit loads HostFirewallConfig at boot.
	hostFirewallUnit = "/etc/systemd/system/nctalk-firewall.service"
	// sshdConfig is the sshd drop-in (port, key-only login).
	sshdConfig = "/etc/ssh/sshd_config.d/10-nctalk.conf"
	// autoUpgradesConfig turns on unattended security upgrades.
	autoUpgradesConfig = "/etc/apt/apt.conf.d/52nctalk-auto-upgrades"
	// AuthorizedKeys holds the keys that log in as root besides root's own
	// ~/.ssh/authorized_keys (the cloud's keys): sshPublicKeys and the
	// stack's deploy key, which may only run ApplyCommand. Rewritten whole
	// by every in-place change, so a key removed from the config loses
	// its access.
	AuthorizedKeys = "/etc/ssh/nctalk/authorized_keys"
	// applyScript applies an in-place change (a Bundle) to the running box.
	applyScript = scriptsDir + "/nctalk-apply"
	// appliedUnits is the unit digests of what the box runs, written by
	// applyScript after each change it applied.
	appliedUnits = "/var/lib/nctalk/units"
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
	// ProxyUID is the user a media server's signaling proxy is run as.
	ProxyUID = 854
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
	ServiceProxy:     ProxyUID,
}

// Janus config files in JanusConfigDir: the core, the one plugin and the one
// transport that are enabled.
const (
	JanusConfigFile       = JanusConfigDir + "/janus.jcfg"
	JanusVideoRoomConfig  = JanusConfigDir + "/janus.plugin.videoroom.jcfg"
	JanusWebsocketsConfig = JanusConfigDir + "/janus.transport.websockets.jcfg"
)
