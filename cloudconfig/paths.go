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
	// ACMEWebroot is where nginx serves /.well-known/acme-challenge/ from.
	ACMEWebroot = BaseDir + "/acme"
	// LetsEncryptDir is certbot's config dir; on the state volume when one is attached.
	LetsEncryptDir = "/etc/letsencrypt"
	// StateMount is where the state volume is mounted.
	StateMount = "/mnt/nctalk-state"
	// ReadyMarker is written when every service answers its health check.
	ReadyMarker = "/var/lib/nctalk/ready"
)

// CertificateDir is where certbot keeps the live certificate of domain.
func CertificateDir(domain string) string { return LetsEncryptDir + "/live/" + domain }
