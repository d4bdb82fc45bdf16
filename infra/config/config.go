package config

import (
	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// Config is the validated stack configuration. Each field's tag names its
// config key (schema.Keys); Settings' fields carry their own.
type Config struct {
	// Settings are the inputs shared with `nctalk render`; StateDevice is
	// left empty here, the stack fills it in from the volume it creates.
	Settings cloudconfig.Settings
	// Location is the Hetzner location of the server, its IPs and volume.
	Location string `nctalk:"location"`
	// ServerType is the Hetzner server type, e.g. cx23.
	ServerType string `nctalk:"serverType"`
	// Image is the Hetzner image name (debian-N) or a numeric image ID.
	Image string `nctalk:"image"`
	// SSHKeySelector is a Hetzner label selector for SSH keys already in
	// the project; "" for none.
	SSHKeySelector string `nctalk:"sshKeySelector"`
	// DNSZone is the Hetzner DNS zone that gets the A and AAAA records of
	// the domain; "" means the admin creates them.
	DNSZone string `nctalk:"dnsZone"`
	// VolumeSize is the state volume's size in GiB; 0 means no volume.
	VolumeSize int `nctalk:"volumeSize"`
	// KeepOnTeardown protects the primary IPs and the state volume (Pulumi
	// protect and Hetzner delete protection), so `nctalk teardown` keeps
	// them; false lets it delete them.
	KeepOnTeardown bool `nctalk:"keepOnTeardown"`
	// MediaServers are the media servers by name: "location/serverType"
	// (MediaServerList parses them).
	MediaServers map[string]string `nctalk:"mediaServers"`
	// MediaDrainMinutes bounds how long a removed media server drains.
	MediaDrainMinutes int `nctalk:"mediaDrainMinutes"`
	// GeoIPDatabaseURL is the country database signaling downloads, with
	// media servers; "" for none.
	GeoIPDatabaseURL string `nctalk:"geoipDatabaseUrl"`
	// GeoIPOverrides are network=CC entries, with media servers.
	GeoIPOverrides []string `nctalk:"geoipOverrides"`
	// SignalingSecret, when set, is used instead of a generated one.
	SignalingSecret Secret `nctalk:"signalingSecret"`
	// TURNSecret, when set, is used instead of a generated one.
	TURNSecret Secret `nctalk:"turnSecret"`
	// Plan is what follows from the validated Settings (firewall, names,
	// Nextcloud entries, the document); Validated derives it once and the
	// stack reads the settings through it.
	Plan cloudconfig.Plan `nctalk:"-"`
}

// Default returns the configuration every optional key defaults to
// (schema.Keys' defaults), with the required keys (domain, nextcloudUrls,
// acmeEmail) empty.
func Default() Config {
	var c Config
	if err := schema.Load(schema.Values{}, schema.StackReader, &c); err != nil {
		panic("config: the schema's defaults do not load: " + err.Error())
	}
	return c
}

// GivenSecret returns the value the config gives for a configurable
// secret of schema.Secrets; "" means it is generated.
func (c Config) GivenSecret(name string) Secret {
	switch name {
	case schema.KeySignalingSecret:
		return c.SignalingSecret
	case schema.KeyTURNSecret:
		return c.TURNSecret
	}
	return ""
}
