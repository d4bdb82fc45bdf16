// Package cloudconfig renders the #cloud-config document that turns a fresh
// Debian VM into a Nextcloud Talk High-Performance Backend. It is pure Go:
// NewPlan validates the settings once and derives the plan (port table,
// names, Nextcloud entries); Plan.Render turns the plan and the secrets into
// bytes. The Pulumi stack (infra) and the `nctalk render` command both use
// it.
package cloudconfig

import (
	"github.com/nctalk/nctalk/schema"
)

// Settings are the non-secret inputs of a rendering. Each field's tag names
// its config key (schema.Keys), so schema.Load fills it for the stack and
// for `nctalk render` alike.
type Settings struct {
	// Domain is the backend's FQDN, e.g. talk.example.com.
	Domain string `nctalk:"domain"`
	// NextcloudURLs are the base URLs of the Nextcloud servers allowed to
	// use the backend, e.g. https://cloud.example.com.
	NextcloudURLs []string `nctalk:"nextcloudUrls"`
	// ACMEEmail is the Let's Encrypt account contact.
	ACMEEmail string `nctalk:"acmeEmail"`
	// ACMEStaging selects Let's Encrypt's staging CA (untrusted certificates,
	// generous rate limits) for trials.
	ACMEStaging bool `nctalk:"acmeStaging"`
	// ACMEServer is the ACME directory URL certbot uses (https); "" means
	// Let's Encrypt (or its staging CA with ACMEStaging). Both set is an error.
	ACMEServer string `nctalk:"acmeServer"`
	// RegistryMirror is a pull-through registry mirror (https://host[:port])
	// the VM's Docker uses for Docker Hub images ("registry-mirrors" in
	// /etc/docker/daemon.json); "" for none. Images from other registries
	// (aio-talk on ghcr.io) are not mirrored: override them with Images.
	RegistryMirror string `nctalk:"registryMirror"`
	// SSHPort is the port sshd listens on; 0 means schema.DefaultSSHPort.
	SSHPort int `nctalk:"sshPort"`
	// SSHAuthorizedKeys are OpenSSH public keys for root's authorized_keys.
	// Optional on Hetzner (the API injects keys), needed on other clouds.
	SSHAuthorizedKeys []string `nctalk:"sshPublicKeys"`
	// SSHAllowedCIDRs are the source networks (config key sshAllowedCidrs)
	// the host firewall admits to SSH; empty means anywhere. parseSSHCIDRs
	// parses and checks them for both the cloud and the host firewall.
	SSHAllowedCIDRs []string `nctalk:"sshAllowedCidrs"`
	// JanusRTPPorts is Janus' RTP/RTCP UDP range; zero means schema.DefaultJanusRTPPorts.
	JanusRTPPorts schema.PortRange `nctalk:"janusRtpPorts"`
	// TURNRelayPorts is coturn's relay UDP range; zero means schema.DefaultTURNRelayPorts.
	TURNRelayPorts schema.PortRange `nctalk:"turnRelayPorts"`
	// Images overrides DefaultImages by service name.
	Images map[string]string `nctalk:"images"`
	// TURNOn443 turns TURN over TLS on port 443 on (on by default, as
	// schema.Keys declares it): nginx's stream front on 443 routes the TURN
	// name (TURNDomain) to coturn and everything else to the HTTPS server.
	TURNOn443 bool `nctalk:"turnOn443"`
	// TURNDomain is the name TURN over TLS on 443 is reached by (SNI); ""
	// means "turn." + Domain. The certificate carries it as a second name.
	TURNDomain string `nctalk:"turnDomain"`
	// StateDevice is the block device (e.g. /dev/disk/by-id/scsi-0HC_Volume_123)
	// that keeps certificates and state across rebuilds; "" for none.
	StateDevice string `nctalk:"stateDevice"`
}

// Secrets are the shared secrets of a rendering. Every field must be set.
type Secrets struct {
	// SignalingSecret is shared with Nextcloud (talk:signaling:add).
	SignalingSecret string `nctalk:"signalingSecret"`
	// TURNSecret is coturn's static-auth-secret, shared with Nextcloud (talk:turn:add).
	TURNSecret string `nctalk:"turnSecret"`
	// SessionHashKey signs session cookies (32 or 64 characters).
	SessionHashKey string
	// SessionBlockKey encrypts session cookies (16, 24 or 32 characters).
	SessionBlockKey string
	// InternalClientSecret authenticates internal signaling clients.
	InternalClientSecret string
	// JanusAPIKey is the signaling server's TURN REST API key ([turn] apikey).
	JanusAPIKey string
}

// List returns every secret value with its name, in schema.Secrets' order.
func (s Secrets) List() []NamedSecret {
	fields := s.fields()
	out := make([]NamedSecret, len(fields))
	for i, f := range fields {
		out[i] = NamedSecret{Name: f.name, Value: *f.ptr}
	}
	return out
}

// NamedSecret is one secret value and the name it has in errors and markers.
type NamedSecret struct {
	Name  string
	Value string
}

func (s Settings) sshPort() int {
	if s.SSHPort == 0 {
		return schema.DefaultSSHPort
	}
	return s.SSHPort
}

// Let's Encrypt's ACME directories.
const (
	letsEncryptDirectory        = "https://acme-v02.api.letsencrypt.org/directory"
	letsEncryptStagingDirectory = "https://acme-staging-v02.api.letsencrypt.org/directory"
)

// EffectiveACMEServer is the ACME directory certbot asks: ACMEServer, or
// Let's Encrypt's staging or production directory.
func (s Settings) EffectiveACMEServer() string {
	switch {
	case s.ACMEServer != "":
		return s.ACMEServer
	case s.ACMEStaging:
		return letsEncryptStagingDirectory
	}
	return letsEncryptDirectory
}

// TURNName is the TURN name on 443: TURNDomain, or "turn." + Domain.
func (s Settings) TURNName() string {
	if s.TURNDomain != "" {
		return s.TURNDomain
	}
	return defaultTURNPrefix + s.Domain
}

// defaultTURNPrefix makes the default TURN name from the domain.
const defaultTURNPrefix = "turn."

func (s Settings) janusRTPPorts() schema.PortRange {
	if s.JanusRTPPorts == (schema.PortRange{}) {
		return schema.DefaultJanusRTPPorts
	}
	return s.JanusRTPPorts
}

func (s Settings) turnRelayPorts() schema.PortRange {
	if s.TURNRelayPorts == (schema.PortRange{}) {
		return schema.DefaultTURNRelayPorts
	}
	return s.TURNRelayPorts
}
