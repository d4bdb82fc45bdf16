package config

import (
	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// Config is the validated stack configuration.
type Config struct {
	// Settings are the inputs shared with `nctalk render`; StateDevice is
	// left empty here, the stack fills it in from the volume it creates.
	Settings cloudconfig.Settings
	// Location is the Hetzner location of the server, its IPs and volume.
	Location string
	// ServerType is the Hetzner server type, e.g. cx23.
	ServerType string
	// Image is the Hetzner image name (debian-N) or a numeric image ID.
	Image string
	// SSHKeySelector is a Hetzner label selector for SSH keys already in
	// the project; "" for none.
	SSHKeySelector string
	// DNSZone is the Hetzner DNS zone that gets the A and AAAA records of
	// the domain; "" means the admin creates them.
	DNSZone string
	// VolumeSize is the state volume's size in GiB; 0 means no volume.
	VolumeSize int
	// KeepOnTeardown protects the primary IPs and the state volume (Pulumi
	// protect and Hetzner delete protection), so `nctalk teardown` keeps
	// them; false lets it delete them.
	KeepOnTeardown bool
	// SignalingSecret, when set, is used instead of a generated one.
	SignalingSecret Secret
	// TURNSecret, when set, is used instead of a generated one.
	TURNSecret Secret
}

// Default returns the configuration every optional key defaults to, with
// the required keys (domain, nextcloudUrls, acmeEmail) empty.
func Default() Config {
	return Config{
		Settings: cloudconfig.Settings{
			SSHPort:         schema.DefaultSSHPort,
			SSHAllowedCIDRs: []string{"0.0.0.0/0", "::/0"},
			JanusRTPPorts:   schema.DefaultJanusRTPPorts,
			TURNRelayPorts:  schema.DefaultTURNRelayPorts,
		},
		Location:   DefaultLocation,
		ServerType: DefaultServerType,
		Image:      DefaultImage,
		VolumeSize: DefaultVolumeSize,
		// Default true: see KeyKeepOnTeardown.
		KeepOnTeardown: true,
	}
}
