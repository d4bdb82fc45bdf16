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
)

// DefaultImages pins the container image of every service. The README's
// "What runs on the VM" table explains each choice.
var DefaultImages = map[string]string{
	ServiceSignaling: "strukturag/nextcloud-spreed-signaling:2.1.1",
	ServiceJanus:     "ghcr.io/nextcloud-releases/aio-talk:20260122_105751",
	ServiceNATS:      "nats:2.11.9-alpine",
	ServiceCoturn:    "coturn/coturn:4.7.0",
	ServiceNginx:     "nginx:1.28.0-alpine",
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
