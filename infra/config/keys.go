// Package config loads and validates the stack configuration (`nctalk:<key>`)
// before any resource is registered. Keys shared with `nctalk render` are
// checked by cloudconfig's Settings.Validate; the Hetzner-only keys here.
package config

import (
	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// Namespace is the project name that prefixes every key: `nctalk:<key>`.
const Namespace = "nctalk"

// Hetzner-only config keys. The keys shared with the render command are
// cloudconfig.Key*.
const (
	KeyLocation       = "location"
	KeyServerType     = "serverType"
	KeyImage          = "image"
	KeySSHKeySelector = "sshKeySelector"
	KeyDNSZone        = "dnsZone"
	KeyVolumeSize     = "volumeSize"
	KeyKeepOnTeardown = "keepOnTeardown"
)

// Defaults of the optional keys. Pulumi.yaml declares the same defaults; a
// test keeps the two equal.
const (
	DefaultLocation   = "fsn1"
	DefaultServerType = "cx23"
	DefaultImage      = "debian-13"
	DefaultVolumeSize = 10
)

// Volume size limits in GiB (Hetzner's minimum and maximum volume size).
const (
	MinVolumeSize = 10
	MaxVolumeSize = 10240
)

// Locations are the Hetzner Cloud locations a server and its primary IPs
// can be created in.
var Locations = []string{"ash", "fsn1", "hel1", "hil", "nbg1", "sin"}

// AllKeys lists every key the stack reads, in the order of docs/configuration.md's
// configuration table.
func AllKeys() []string {
	return []string{
		cloudconfig.KeyDomain,
		cloudconfig.KeyNextcloudURLs,
		cloudconfig.KeyACMEEmail,
		cloudconfig.KeyACMEStaging,
		cloudconfig.KeyACMEServer,
		cloudconfig.KeyRegistryMirror,
		KeyLocation,
		KeyServerType,
		KeyImage,
		cloudconfig.KeySSHPublicKeys,
		KeySSHKeySelector,
		cloudconfig.KeySSHAllowedCIDRs,
		cloudconfig.KeySSHPort,
		KeyDNSZone,
		KeyVolumeSize,
		KeyKeepOnTeardown,
		cloudconfig.KeySignalingSecret,
		cloudconfig.KeyTURNSecret,
		cloudconfig.KeyJanusRTPPorts,
		cloudconfig.KeyTURNRelayPorts,
		cloudconfig.KeyTURNOn443,
		cloudconfig.KeyTURNDomain,
		cloudconfig.KeyImages,
	}
}

// Defaults returns the default value of every optional key as Pulumi.yaml
// declares it (JSON-compatible values); required keys are absent.
func Defaults() map[string]any {
	return map[string]any{
		cloudconfig.KeyACMEStaging:     false,
		cloudconfig.KeyACMEServer:      "",
		cloudconfig.KeyRegistryMirror:  "",
		KeyLocation:                    DefaultLocation,
		KeyServerType:                  DefaultServerType,
		KeyImage:                       DefaultImage,
		cloudconfig.KeySSHPublicKeys:   []any{},
		KeySSHKeySelector:              "",
		cloudconfig.KeySSHAllowedCIDRs: []any{"0.0.0.0/0", "::/0"},
		cloudconfig.KeySSHPort:         schema.DefaultSSHPort,
		KeyDNSZone:                     "",
		KeyVolumeSize:                  DefaultVolumeSize,
		KeyKeepOnTeardown:              true,
		cloudconfig.KeySignalingSecret: "",
		cloudconfig.KeyTURNSecret:      "",
		cloudconfig.KeyJanusRTPPorts:   schema.DefaultJanusRTPPorts.String(),
		cloudconfig.KeyTURNRelayPorts:  schema.DefaultTURNRelayPorts.String(),
		cloudconfig.KeyTURNOn443:       true,
		cloudconfig.KeyTURNDomain:      "",
		cloudconfig.KeyImages:          map[string]any{},
	}
}
