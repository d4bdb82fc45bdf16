package images

import (
	"strings"

	"github.com/nctalk/nctalk/cloudconfig"
)

// file is one path a substitute adds on top of the sid root: a file with
// content, a symlink, a directory, or a copy of a root file (CopyOf) with
// file capabilities (Caps, setcap syntax).
type file struct {
	Path    string
	Mode    uint32
	Content string
	Symlink string
	Dir     bool
	CopyOf  string
	Caps    string
	// Owner is "uid:gid" for a path the image gives to a user ("" = root).
	Owner string
}

// packages are the sid packages of the one shared root besides the
// daemons (pinned): what the entrypoints need (bash for coturn's and
// signaling's, util-linux's setpriv in place of su-exec, CA certificates).
var packages = []string{"bash", "ca-certificates", "libcap2-bin", "util-linux"}

// pinnedPackage is one daemon package of the sid root at the exact version
// the substitute runs.
type pinnedPackage struct {
	// Service is the compose service whose program the package holds.
	Service string
	// Package and Version are the Debian package and its version.
	Package, Version string
}

// pinned are the daemon packages, installed at exactly these versions (they
// are part of the cache key, so a new pin builds a new root). When sid
// moves on, BuildRoot fails naming the package: update the version here,
// and the config contract of the new version (tests/images/configkeys).
var pinned = []pinnedPackage{
	{cloudconfig.ServiceCoturn, "coturn", "4.18.0-1"},
	{cloudconfig.ServiceJanus, "janus", "1.4.1+ds-4+b2"},
	{cloudconfig.ServiceNATS, "nats-server", "2.15.1-1"},
	{cloudconfig.ServiceNginx, "nginx", "1.30.6-2"},
	{cloudconfig.ServiceNginx, "libnginx-mod-stream", "1.30.6-2"},
	{cloudconfig.ServiceSignaling, "nextcloud-spreed-signaling", "2.0.2-2+b2"},
	{cloudconfig.ServiceProxy, "nextcloud-spreed-signaling-proxy", "2.0.2-2+b2"},
}

// SubstituteVersion is the upstream version of the service's program in
// its substitute: the first pinned package's Debian version without epoch,
// revision and repack suffix (1.4.1+ds-4+b2 is 1.4.1).
func SubstituteVersion(service string) string {
	for _, p := range pinned {
		if p.Service == service {
			v := p.Version
			if _, after, ok := strings.Cut(v, ":"); ok {
				v = after
			}
			if i := strings.LastIndex(v, "-"); i > 0 {
				v = v[:i]
			}
			v, _, _ = strings.Cut(v, "+")
			return v
		}
	}
	return ""
}

// rootPackages is the mmdebstrap package list: packages, then each pinned
// package as name=version.
func rootPackages() []string {
	out := append([]string{}, packages...)
	for _, p := range pinned {
		out = append(out, p.Package+"="+p.Version)
	}
	return out
}

// substitutes are the files each image adds on top of the shared root, so
// that its Contract holds. The scripts are written for this project from
// the behaviour the Contract describes.
var substitutes = map[string][]file{
	cloudconfig.ServiceCoturn: {
		{Path: "/usr/bin/turnserver", Mode: 0o755, CopyOf: "/usr/bin/turnserver", Caps: "cap_net_bind_service=+ep"},
		{Path: "/usr/local/bin/docker-entrypoint.sh", Mode: 0o755, Content: `#!/bin/bash
# nctalk substitute of coturn/coturn's entrypoint: a first argument that
# is an option gets turnserver in front; each argument is shell-expanded.
if [ "${1:0:1}" == '-' ]; then
  set -- turnserver "$@"
fi
args=()
for a in "$@"; do
  args+=("$(eval "echo $a")")
done
exec "${args[@]}"
`},
		{Path: "/usr/local/bin/detect-external-ip", Mode: 0o755, Content: `#!/bin/sh
# nctalk substitute: the image asks DNS for the external address; tests
# have no external address.
echo "detect-external-ip: not available in the nctalk substitute image" >&2
exit 1
`},
	},
	cloudconfig.ServiceJanus: {
		// The image copies its /usr/local with --chmod=777 --chown=1000:1000
		// (Contract.Modes): janus itself is writable to every user there.
		{Path: "/usr/local", Dir: true, Mode: 0o777, Owner: "1000:1000"},
		{Path: "/usr/local/bin", Dir: true, Mode: 0o777, Owner: "1000:1000"},
		{Path: "/usr/local/lib", Dir: true, Mode: 0o777, Owner: "1000:1000"},
		{Path: "/usr/local/lib/janus", Dir: true, Mode: 0o777, Owner: "1000:1000"},
		{Path: "/usr/local/bin/janus", Mode: 0o777, CopyOf: "/usr/bin/janus", Owner: "1000:1000"},
		{Path: "/start.sh", Mode: 0o775, Content: `#!/bin/bash
# nctalk substitute of aio-talk's /start.sh: the AIO configuration is not
# reproduced (nctalk runs only the janus binary); the command is exec'd.
echo "start.sh: nctalk substitute of aio-talk, no AIO configuration written" >&2
exec "$@"
`},
	},
	cloudconfig.ServiceNATS: {
		{Path: "/usr/local/bin/nats-server", Symlink: "/usr/sbin/nats-server"},
		{Path: "/usr/local/bin/docker-entrypoint.sh", Mode: 0o755, Content: `#!/bin/sh
# nctalk substitute of the nats image's entrypoint: no arguments, or a
# first argument that is an option, runs nats-server with them.
set -e
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  set -- nats-server "$@"
fi
exec "$@"
`},
		{Path: "/etc/nats/nats-server.conf", Mode: 0o644, Content: "# nctalk substitute default\nport: 4222\nhttp_port: 8222\n"},
	},
	cloudconfig.ServiceNginx: {
		{Path: "/docker-entrypoint.d", Dir: true, Mode: 0o755},
		// As the image: logs to the container's output, so nginx opens its
		// compiled-in error log even on a read-only root.
		{Path: "/var/log/nginx/error.log", Symlink: "/dev/stderr"},
		{Path: "/var/log/nginx/access.log", Symlink: "/dev/stdout"},
		// The image's nginx has the stream module built in (the 443 front
		// needs it); Debian's loads it as a dynamic module. This nginx on
		// the PATH ahead of /usr/sbin loads it on every call, so configs
		// and commands (nginx -c …, -t, -s reload) work as with the image.
		// nginx keeps only the last -g, so every -g is folded into one.
		// The image's nginx is built --user=nginx --group=nginx: a config
		// without a user directive runs its workers as nginx (101);
		// Debian's would run them as nobody, so the wrapper names the
		// image's user unless the config (-c) names one.
		{Path: "/usr/local/sbin/nginx", Mode: 0o755, Content: `#!/bin/bash
# nctalk substitute: the image's nginx builds the stream module in, and
# runs its workers as nginx unless the config says otherwise.
set -e
g="load_module /usr/lib/nginx/modules/ngx_stream_module.so;"
conf=/etc/nginx/nginx.conf
args=()
while [ "$#" -gt 0 ]; do
  if [ "$1" = -g ] && [ "$#" -gt 1 ]; then g="$g $2"; shift 2; continue; fi
  if [ "$1" = -c ] && [ "$#" -gt 1 ]; then conf=$2; fi
  args+=("$1"); shift
done
if ! grep -Eqs '^[[:space:]]*user[[:space:]]' "$conf"; then
  g="$g user nginx nginx;"
fi
exec /usr/sbin/nginx -g "$g" "${args[@]}"
`},
		{Path: "/docker-entrypoint.sh", Mode: 0o755, Content: `#!/bin/sh
# nctalk substitute of the nginx image's entrypoint: for nginx it runs the
# scripts in /docker-entrypoint.d/ (the substitute ships none), then the command.
set -e
if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
  for f in $(find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -name '*.sh' | sort); do
    [ -x "$f" ] && "$f"
  done
  echo "$0: configuration complete; ready for start up"
fi
exec "$@"
`},
	},
	// Debian installs the proxy at the image's path
	// (/usr/bin/nextcloud-spreed-signaling-proxy): only the entrypoint and
	// /config are the image's own.
	cloudconfig.ServiceProxy: {
		{Path: "/config", Dir: true, Mode: 0o755},
		{Path: "/entrypoint.sh", Mode: 0o755, Content: `#!/bin/bash
# nctalk substitute of the proxy image's entrypoint: arguments are run as
# the command; without, the proxy runs as spreedbackend with $CONFIG.
set -e
if [ -n "$1" ]; then
  exec "$@"
fi
if [ -z "$CONFIG" ] || [ ! -f "$CONFIG" ]; then
  echo "entrypoint.sh: no configuration at CONFIG=$CONFIG (the nctalk substitute does not generate one)" >&2
  exit 1
fi
echo "Starting signaling proxy with $CONFIG ..."
exec setpriv --reuid=spreedbackend --regid=spreedbackend --init-groups /usr/bin/nextcloud-spreed-signaling-proxy -config "$CONFIG"
`},
	},
	cloudconfig.ServiceSignaling: {
		{Path: "/usr/bin/nextcloud-spreed-signaling", Symlink: "/usr/bin/nextcloud-spreed-signaling-server"},
		{Path: "/config", Dir: true, Mode: 0o755},
		{Path: "/entrypoint.sh", Mode: 0o755, Content: `#!/bin/bash
# nctalk substitute of the signaling image's entrypoint: arguments are run
# as the command; without, the server runs as spreedbackend with $CONFIG.
set -e
if [ -n "$1" ]; then
  exec "$@"
fi
if [ -z "$CONFIG" ] || [ ! -f "$CONFIG" ]; then
  echo "entrypoint.sh: no configuration at CONFIG=$CONFIG (the nctalk substitute does not generate one)" >&2
  exit 1
fi
exec setpriv --reuid=spreedbackend --regid=spreedbackend --init-groups /usr/bin/nextcloud-spreed-signaling -config "$CONFIG"
`},
	},
}
