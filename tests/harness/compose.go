package harness

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/images"
)

// composeService is what the harness takes from a compose service: how
// the container starts its program, as whom, with which capabilities and
// which mounts.
type composeService struct {
	Image       string     `yaml:"image"`
	Entrypoint  stringList `yaml:"entrypoint"`
	Command     stringList `yaml:"command"`
	User        string     `yaml:"user"`
	CapAdd      []string   `yaml:"cap_add"`
	CapDrop     []string   `yaml:"cap_drop"`
	SecurityOpt []string   `yaml:"security_opt"`
	NetworkMode string     `yaml:"network_mode"`
	Volumes     []string   `yaml:"volumes"`
	ReadOnly    bool       `yaml:"read_only"`
	Tmpfs       stringList `yaml:"tmpfs"`
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

// noNewPrivileges reports whether security_opt sets no-new-privileges.
func (cs composeService) noNewPrivileges() bool {
	for _, o := range cs.SecurityOpt {
		switch strings.ReplaceAll(o, "=", ":") {
		case "no-new-privileges", "no-new-privileges:true":
			return true
		}
	}
	return false
}

// volume is one compose bind mount, with its source as a VM path.
type volume struct {
	Source, Target string
	ReadOnly       bool
}

// volumes resolves the service's short-syntax bind mounts; relative
// sources are relative to the compose file's directory, as compose reads them.
func (cs composeService) volumes(service string) ([]volume, error) {
	var out []volume
	for _, v := range cs.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("compose service %s: volume %q is not source:target[:ro]", service, v)
		}
		src := parts[0]
		if !filepath.IsAbs(src) {
			src = filepath.Join(filepath.Dir(cloudconfig.ComposeFile), src)
		}
		out = append(out, volume{Source: src, Target: parts[1], ReadOnly: len(parts) == 3 && parts[2] == "ro"})
	}
	return out, nil
}

// containerSpec is how Docker would run the compose service from its
// image: the image contract's entrypoint and command combined with the
// compose entrypoint/command, the compose user (else the image's), the
// capability bounding set from cap_drop/cap_add, no_new_privs from
// security_opt, a read-only root (read_only) with its tmpfs mounts. Binds are left to the caller (they need host paths).
func containerSpec(service string, cs composeService) (images.RunSpec, error) {
	c, err := images.ContractOf(service)
	if err != nil {
		return images.RunSpec{}, err
	}
	if cs.NetworkMode != "host" {
		return images.RunSpec{}, fmt.Errorf("compose service %s: network_mode %q, the harness runs only host networking", service, cs.NetworkMode)
	}
	argv := c.Argv(cs.Entrypoint, cs.Command)
	if len(argv) == 0 {
		return images.RunSpec{}, fmt.Errorf("compose service %s has neither entrypoint nor command, and its image neither", service)
	}
	user := cs.User
	if user == "" {
		user = c.User
	}
	var tmpfs []string
	for _, t := range cs.Tmpfs {
		p, _, _ := strings.Cut(t, ":") // options: Docker's defaults are what the harness mounts
		tmpfs = append(tmpfs, p)
	}
	if cs.ReadOnly {
		// Docker mounts a writable anonymous volume on each image VOLUME
		// that compose leaves uncovered; the harness does not emulate it.
		for _, v := range c.Volumes {
			covered := slices.Contains(tmpfs, v)
			for _, m := range cs.Volumes {
				parts := strings.Split(m, ":")
				covered = covered || len(parts) > 1 && parts[1] == v
			}
			if !covered {
				return images.RunSpec{}, fmt.Errorf("compose service %s: read_only, and the image's VOLUME %s has neither tmpfs nor volume (Docker would make it a writable anonymous volume)", service, v)
			}
		}
	}
	return images.RunSpec{
		Service:    service,
		Argv:       argv,
		User:       user,
		Caps:       images.Capabilities(cs.CapAdd, cs.CapDrop),
		NoNewPrivs: cs.noNewPrivileges(),
		Env:        c.Env,
		WorkDir:    c.WorkDir,
		ReadOnly:   cs.ReadOnly,
		Tmpfs:      tmpfs,
	}, nil
}

// ContainerSpec is how the rendered compose file (in files, as WriteFiles
// returns them) runs service: the substitute image's contract with the
// compose entrypoint, command, user, capabilities and no-new-privileges.
// Binds are left to the caller. Tests outside the stack (e.g. in their own
// network namespaces) use it to run a daemon exactly as the stack does.
func ContainerSpec(files map[string]WrittenFile, service string) (images.RunSpec, error) {
	compose, ok := files[cloudconfig.ComposeFile]
	if !ok {
		return images.RunSpec{}, fmt.Errorf("the cloud-config writes no %s", cloudconfig.ComposeFile)
	}
	services, err := parseCompose(compose.Content)
	if err != nil {
		return images.RunSpec{}, err
	}
	cs, ok := services[service]
	if !ok {
		return images.RunSpec{}, fmt.Errorf("%s has no service %q", cloudconfig.ComposeFile, service)
	}
	return containerSpec(service, cs)
}
