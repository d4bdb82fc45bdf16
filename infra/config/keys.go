// Package config loads and validates the stack configuration (`nctalk:<key>`)
// before any resource is registered. The keys, their types and defaults are
// schema.Keys, read by schema.Load (the loader `nctalk render` uses too);
// the shared keys are checked by cloudconfig.NewPlan, the
// Hetzner-only keys here.
package config

// Volume size limits in GiB (Hetzner's minimum and maximum volume size).
const (
	minVolumeSize = 10
	maxVolumeSize = 10240
)

// locations are the Hetzner Cloud locations a server and its primary IPs
// can be created in.
var locations = []string{"ash", "fsn1", "hel1", "hil", "nbg1", "sin"}
