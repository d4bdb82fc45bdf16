package cloudconfig

import "sort"

// Service names, as used in the compose file and as keys of the images
// override map (config key `images`).
const (
	ServiceSignaling = "signaling"
	ServiceJanus     = "janus"
	ServiceNATS      = "nats"
	ServiceCoturn    = "coturn"
	ServiceNginx     = "nginx"
	// ServiceProxy is a media server's signaling proxy (scale-out).
	ServiceProxy = "proxy"
)

// DefaultImages pins the container image of every service. docs/architecture.md's
// "What runs on the VM" table explains each choice; tests/images keeps each
// image's contract (binary path, entrypoint, user, file capabilities) with
// the upstream Dockerfile line it comes from.
var DefaultImages = map[string]string{
	ServiceSignaling: "strukturag/nextcloud-spreed-signaling:2.1.1",
	ServiceJanus:     "ghcr.io/nextcloud-releases/aio-talk:20260817_082005",
	ServiceNATS:      "nats:2.14.5-alpine",
	ServiceCoturn:    "coturn/coturn:4.18.0-r0",
	ServiceNginx:     "nginx:1.30.6-alpine",
	ServiceProxy:     "strukturag/nextcloud-spreed-signaling:2.1.1-proxy",
}

// ServiceNames lists the services in a fixed order.
func ServiceNames() []string {
	names := make([]string, 0, len(DefaultImages))
	for n := range DefaultImages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
