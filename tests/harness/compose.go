package harness

import (
	"fmt"
	"os/exec"
	"path"
	"strings"

	"gopkg.in/yaml.v3"
)

// composeService is what the harness takes from a compose service: how
// the container starts its program, and as whom.
type composeService struct {
	Entrypoint stringList `yaml:"entrypoint"`
	Command    stringList `yaml:"command"`
	User       string     `yaml:"user"`
}

// stringList is a compose string-or-list field.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = strings.Fields(n.Value)
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
}

// parseCompose reads the services of the rendered compose file.
func parseCompose(doc []byte) (map[string]composeService, error) {
	var c struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(doc, &c); err != nil {
		return nil, fmt.Errorf("compose file: %w", err)
	}
	return c.Services, nil
}

// imageEntrypoints is what an image runs when compose sets no entrypoint:
// the nats and coturn images' entrypoint scripts put their server in
// front of a command that starts with a flag.
var imageEntrypoints = map[string]string{
	"nats":   "nats-server",
	"coturn": "turnserver",
}

// composeArgv is the command line the container would run, with the
// image's program replaced by Debian's binary of the same name (the
// signaling server by signalingBin).
func composeArgv(service string, cs composeService, signalingBin string) ([]string, error) {
	argv := append(append([]string{}, cs.Entrypoint...), cs.Command...)
	if len(cs.Entrypoint) == 0 && (len(argv) == 0 || strings.HasPrefix(argv[0], "-")) {
		ep, ok := imageEntrypoints[service]
		if !ok {
			return nil, fmt.Errorf("compose service %s sets no entrypoint and its command %q starts with a flag", service, argv)
		}
		argv = append([]string{ep}, argv...)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("compose service %s has neither entrypoint nor command", service)
	}
	switch base := path.Base(argv[0]); base {
	case "nextcloud-spreed-signaling", "nextcloud-spreed-signaling-server", "server", "signaling":
		argv[0] = signalingBin
	default:
		bin, err := exec.LookPath(base)
		if err != nil {
			return nil, fmt.Errorf("compose service %s runs %s, which Debian does not have: %w", service, argv[0], err)
		}
		argv[0] = bin
	}
	return argv, nil
}
