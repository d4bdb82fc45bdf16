package images

import (
	"strings"

	"github.com/nctalk/nctalk/cloudconfig"
)

// gap is one way the substitutes' runtime is still more lenient than
// Docker's on the VM, and why it stays so here. The per-image differences
// are each Contract's Gaps; docs/testing.md lists both.
type gap struct {
	// What differs.
	What string
	// Why it is not closed in the daemon tests, and what covers it.
	Why string
}

// runtimeGaps are the remaining differences between how RunSpec runs a
// container and how Docker runs the compose service.
var runtimeGaps = []gap{
	{"no seccomp filter (Docker loads its default profile, an allow-list of system calls)",
		"loading one needs a BPF program of that profile; a hand-written copy would be a second, untested profile. The VM test runs the real images under Docker's profile"},
	{"no AppArmor profile (docker-default on the VM)",
		"the test machines have no AppArmor; the VM test runs under it"},
	{"no cgroup of its own: no cgroup namespace, no /sys/fs/cgroup, no pids or memory limits, no device allow-list",
		"the harness does not manage cgroups (the machine's init may not delegate them); the compose file sets no limits of its own, and the VM test runs under Docker's"},
	{"resource limits (ulimits) are the test process's, not dockerd's defaults",
		"the daemons here stay far below either; the VM test runs with dockerd's"},
	{"only the daemon packages are pinned; the rest of the sid root (libc, OpenSSL, …) is sid's of the day the root was built",
		"snapshot.debian.org is not reachable from the build machines; versions.txt beside the root lists every package, and the images are Debian builds, not the images' own binaries, in any case (each Contract's Gaps)"},
}

// imageGapWhy says, per image, why its Contract's Gaps stay.
var imageGapWhy = map[string]string{
	cloudconfig.ServiceCoturn:    "the image cannot be pulled where the tests run (no Docker Hub); Debian builds the same release, and the compose file passes its own config",
	cloudconfig.ServiceJanus:     "the aio-talk image cannot be pulled where the tests run; the compose file runs only its janus binary with nctalk's configs (plugins and transports by name), so the AIO start-up and the plugin folder do not reach it",
	cloudconfig.ServiceNATS:      "sid packages 2.15.1 and the image cannot be pulled; the compose file passes its own config (tests/images/configkeys names the version difference)",
	cloudconfig.ServiceNginx:     "the image cannot be pulled; Debian builds the same release with the stream module as a dynamic module, and the image's entrypoint scripts act only on the default config, which the compose file replaces",
	cloudconfig.ServiceSignaling: "sid has no 2.1.1 and the image cannot be pulled; the compose file passes -config, so the entrypoint's generation is not used (tests/images/configkeys names the config differences)",
	cloudconfig.ServiceProxy:     "sid has no 2.1.1 and the image cannot be pulled; the compose file runs the binary with -config, so the entrypoint is not used (tests/images/configkeys names the config differences)",
}

// gapsTable is the markdown table rows of every gap: runtimeGaps, then each
// image's Gaps, as docs/testing.md lists them.
func gapsTable() []string {
	var rows []string
	for _, g := range runtimeGaps {
		where := "runtime"
		if strings.HasPrefix(g.What, "only the daemon packages") {
			where = "root"
		}
		rows = append(rows, "| "+where+" | "+g.What+" | "+g.Why+" |")
	}
	for _, c := range Contracts() {
		rows = append(rows, "| image "+c.Service+" | "+c.Gaps+" | "+imageGapWhy[c.Service]+" |")
	}
	return rows
}
