// Package images keeps the contract of every pinned container image (the
// binary path, entrypoint, command, default user and file capabilities the
// compose file relies on), builds substitutes for them from Debian sid's
// packages, and pushes those substitutes to a registry as OCI images.
//
// A substitute keeps the contract of the image it stands for: the same
// program at the same path, an entrypoint script at the image's path with
// the same behaviour, the image's default user and its accounts, and the
// same file capabilities. Tests (daemon stack and VM) run the substitutes,
// so a compose setting that would break the real image (e.g. dropping a
// capability that a binary carries as a file capability) breaks them too.
package images

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nctalk/nctalk/cloudconfig"
)

// Contract is what one pinned image offers to the compose file.
type Contract struct {
	// Service is the compose service name (cloudconfig.Service*).
	Service string
	// Image is the pinned image (cloudconfig.DefaultImages).
	Image string
	// Binary is the absolute path of the program the service runs.
	Binary string
	// Entrypoint and Cmd are the image's ENTRYPOINT and CMD.
	Entrypoint, Cmd []string
	// User is the image's USER ("" = root).
	User string
	// FileCaps maps a path to its file capabilities as getcap prints them
	// (e.g. "cap_net_bind_service=ep").
	FileCaps map[string]string
	// WorkDir is the image's WORKDIR ("" = /).
	WorkDir string
	// Modes are paths whose mode and owner the image sets in a way the
	// compose file's hardening depends on, as "0777 1000:1000".
	Modes map[string]string
	// Volumes are the image's VOLUMEs: Docker mounts a writable anonymous
	// volume there, even on a read-only root, unless compose mounts
	// something of its own (the harness refuses an uncovered one).
	Volumes []string
	// Source is the upstream Dockerfile or entrypoint line(s) the row comes from.
	Source string

	// Env is the image's ENV (beyond PATH).
	Env []string
	// Accounts are the users the image defines and the contract relies on,
	// as "name:uid:gid".
	Accounts []string
	// StopSignal is the image's STOPSIGNAL ("" = SIGTERM).
	StopSignal string
	// OnPath are program names the compose file runs by name (found
	// through PATH in the container).
	OnPath []string
	// Behaviour says what the entrypoint does with its arguments.
	Behaviour string
	// Gaps are the known differences between the substitute and the image
	// that the compose file does not rely on.
	Gaps string
}

// contracts is THE table of image contracts, read from each image's
// upstream Dockerfile and entrypoint script (revisions named in Source).
var contracts = []Contract{
	{
		Service:    cloudconfig.ServiceCoturn,
		Gaps:       "Debian's coturn 4.18.0 build; no /etc/coturn/turnserver.conf default; detect-external-ip is a stub that fails",
		Binary:     "/usr/bin/turnserver",
		Entrypoint: []string{"docker-entrypoint.sh"},
		Cmd:        []string{"--log-file=stdout", "--external-ip=$(detect-external-ip)"},
		User:       "nobody:nogroup",
		FileCaps:   map[string]string{"/usr/bin/turnserver": "cap_net_bind_service=ep"},
		Volumes:    []string{"/var/lib/coturn"},
		Accounts:   []string{"nobody:65534:65534"},
		OnPath:     []string{"docker-entrypoint.sh", "turnserver", "detect-external-ip"},
		Behaviour: "arguments starting with '-' get turnserver put in front; every argument is expanded " +
			"by the shell (eval \"echo $arg\"), then exec'd",
		Source: "coturn/coturn docker/coturn/debian/Dockerfile (tag docker/4.17.0-r0, unchanged in 4.18.0-r0): " +
			"`setcap CAP_NET_BIND_SERVICE=+ep /usr/bin/turnserver`; `USER nobody:nogroup`; `VOLUME [\"/var/lib/coturn\"]`; " +
			"`ENTRYPOINT [\"docker-entrypoint.sh\"]`; `CMD [\"--log-file=stdout\", \"--external-ip=$(detect-external-ip)\"]`; " +
			"rootfs/usr/local/bin/docker-entrypoint.sh: `if [ \"${1:0:1}\" == '-' ]; then set -- turnserver \"$@\"; fi` … `exec \"${expanded[@]}\"`",
	},
	{
		Service:    cloudconfig.ServiceJanus,
		Gaps:       "Debian's Janus 1.4.1 loads plugins from /usr/lib/x86_64-linux-gnu/janus/plugins (image: /usr/local/lib/janus/plugins); /start.sh writes no AIO configs, no supervisord, eturnal, NATS or signaling in the image",
		Binary:     "/usr/local/bin/janus",
		Entrypoint: []string{"/start.sh"},
		Cmd:        []string{"supervisord", "-c", "/supervisord.conf"},
		User:       "1000",
		Modes:      map[string]string{"/usr/local": "0777 1000:1000", "/usr/local/bin/janus": "0777 1000:1000"},
		Accounts:   []string{"eturnal:1000:1000"},
		OnPath:     []string{"janus"},
		Behaviour: "/start.sh writes the AIO configs, then exec \"$@\"; the compose file replaces the entrypoint " +
			"with `janus …` and uses only the janus binary",
		Source: "nextcloud/all-in-one Containers/talk/Dockerfile (2026-08-17): `ARG JANUS_VERSION=v1.4.1`; " +
			"`/src/configure …; make install` (prefix /usr/local); `COPY --from=janus … /usr/local /usr/local`; " +
			"`useradd --system -u 1000 eturnal`; `USER 1000`; `ENTRYPOINT [\"/start.sh\"]`; " +
			"`CMD [\"supervisord\", \"-c\", \"/supervisord.conf\"]`; start.sh ends `exec \"$@\"`",
	},
	{
		Service:    cloudconfig.ServiceNATS,
		Gaps:       "nats-server 2.15.1 (image 2.14.5); the default config is a two-line stand-in",
		Binary:     "/usr/local/bin/nats-server",
		Entrypoint: []string{"docker-entrypoint.sh"},
		Cmd:        []string{"nats-server", "--config", "/etc/nats/nats-server.conf"},
		User:       "",
		OnPath:     []string{"docker-entrypoint.sh", "nats-server"},
		Behaviour:  "no arguments, or a first argument starting with '-': nats-server is put in front; then exec \"$@\"",
		Source: "nats-io/nats-docker 2.14.x/alpine3.22/Dockerfile (NATS_SERVER 2.14.5): " +
			"`mv \"nats-server-v${NATS_SERVER}-linux-${natsArch}/nats-server\" /usr/local/bin`; no USER; " +
			"`ENTRYPOINT [\"docker-entrypoint.sh\"]`; `CMD [\"nats-server\", \"--config\", \"/etc/nats/nats-server.conf\"]`; " +
			"docker-entrypoint.sh: `if [ \"$#\" -eq 0 ] || [ \"${1#-}\" != \"$1\" ]; then set -- nats-server \"$@\"; fi; exec \"$@\"`",
	},
	{
		Service:    cloudconfig.ServiceNginx,
		Gaps:       "Debian's nginx 1.30.6 build, the stream module loaded by the `nginx` on the PATH; /docker-entrypoint.d/ is empty (image: ipv6, envsubst, worker tuning scripts)",
		Binary:     "/usr/sbin/nginx",
		Entrypoint: []string{"/docker-entrypoint.sh"},
		Cmd:        []string{"nginx", "-g", "daemon off;"},
		User:       "",
		Accounts:   []string{"nginx:101:101"},
		StopSignal: "SIGQUIT",
		OnPath:     []string{"nginx"},
		Behaviour: "when $1 is nginx or nginx-debug, runs the scripts in /docker-entrypoint.d/ (none in the " +
			"substitute); then exec \"$@\". nginx is built --user=nginx --group=nginx (nginx/pkg-oss alpine/Makefile): " +
			"without a user directive its workers run as nginx (101)",
		Source: "nginx/docker-nginx stable/alpine-slim/Dockerfile (nginx:stable-alpine = 1.30.6, 2026-10-21): " +
			"`adduser -S -D -H -u 101 … -G nginx nginx`; `ENTRYPOINT [\"/docker-entrypoint.sh\"]`; `STOPSIGNAL SIGQUIT`; " +
			"`CMD [\"nginx\", \"-g\", \"daemon off;\"]`; entrypoint/docker-entrypoint.sh: " +
			"`if [ \"$1\" = \"nginx\" ] || [ \"$1\" = \"nginx-debug\" ]; then … /docker-entrypoint.d/ …; fi; exec \"$@\"`",
	},
	{
		Service:    cloudconfig.ServiceSignaling,
		Gaps:       "signaling 2.0.2 from sid (image 2.1.1: sid has no 2.1.1); the entrypoint does not generate $CONFIG from the environment; setpriv in place of su-exec",
		Binary:     "/usr/bin/nextcloud-spreed-signaling",
		Entrypoint: []string{"/entrypoint.sh"},
		User:       "",
		Env:        []string{"CONFIG=/config/server.conf"},
		Accounts:   []string{"spreedbackend:850:850"},
		StopSignal: "SIGUSR1",
		Behaviour: "with arguments: exec \"$@\"; without: (writes $CONFIG from the environment when missing — " +
			"the substitute refuses instead) then runs the server as spreedbackend (uid 850) with -config \"$CONFIG\"",
		Source: "strukturag/nextcloud-spreed-signaling v2.1.1 docker/server/Dockerfile: `ENV CONFIG=/config/server.conf`; " +
			"`adduser -D --uid 850 -S -H -G spreedbackend spreedbackend`; " +
			"`COPY --from=builder /workdir/bin/signaling /usr/bin/nextcloud-spreed-signaling`; `STOPSIGNAL SIGUSR1`; " +
			"`ENTRYPOINT [ \"/entrypoint.sh\" ]`; no USER; entrypoint.sh: `if [ -n \"$1\" ]; then exec \"$@\"; fi` … " +
			"`exec su-exec spreedbackend /usr/bin/nextcloud-spreed-signaling -config \"$CONFIG\"`",
	},
	{
		Service:    cloudconfig.ServiceProxy,
		Gaps:       "the proxy 2.0.2 from sid (image 2.1.1: sid has no 2.1.1); the entrypoint does not generate $CONFIG from the environment nor add $CA_CERTIFICATES_FOLDER; setpriv in place of su-exec; no stop.sh or wait.sh",
		Binary:     "/usr/bin/nextcloud-spreed-signaling-proxy",
		Entrypoint: []string{"/entrypoint.sh"},
		User:       "",
		Env:        []string{"CONFIG=/config/proxy.conf"},
		Accounts:   []string{"spreedbackend:850:850"},
		StopSignal: "SIGUSR1",
		Behaviour: "with arguments: exec \"$@\"; without: (writes $CONFIG from the environment when missing — " +
			"the substitute refuses instead) then runs the proxy as spreedbackend (uid 850) with -config \"$CONFIG\"",
		Source: "strukturag/nextcloud-spreed-signaling v2.1.1 docker/proxy/Dockerfile: `ENV CONFIG=/config/proxy.conf`; " +
			"`addgroup -g 850 spreedbackend`; `adduser -D --uid 850 -S -H -G spreedbackend spreedbackend`; " +
			"`COPY --from=builder /workdir/bin/proxy /usr/bin/nextcloud-spreed-signaling-proxy`; `STOPSIGNAL SIGUSR1`; " +
			"`ENTRYPOINT [ \"/entrypoint.sh\" ]`; no USER; docker/proxy/entrypoint.sh: `if [ -n \"$1\" ]; then exec \"$@\"; fi` … " +
			"`exec su-exec spreedbackend /usr/bin/nextcloud-spreed-signaling-proxy -config \"$CONFIG\"`; " +
			"docker/proxy/stop.sh: `killall -USR1 nextcloud-spreed-signaling-proxy`",
	},
}

// Contracts returns the contract of every pinned image, one row a service,
// sorted by service name, with Image filled from cloudconfig.DefaultImages.
func Contracts() []Contract {
	out := make([]Contract, 0, len(contracts))
	for _, c := range contracts {
		c.Image = cloudconfig.DefaultImages[c.Service]
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	return out
}

// ContractOf returns the contract of the named service.
func ContractOf(service string) (Contract, error) {
	for _, c := range Contracts() {
		if c.Service == service {
			return c, nil
		}
	}
	return Contract{}, fmt.Errorf("no image contract for service %q (have %s)", service, strings.Join(cloudconfig.ServiceNames(), ", "))
}

// Argv is the command line a container of this image runs for a compose
// service with the given entrypoint and command, as Docker composes it: a
// compose entrypoint replaces the image's ENTRYPOINT and drops its CMD; a
// compose command replaces the CMD.
func (c Contract) Argv(entrypoint, command []string) []string {
	if len(entrypoint) > 0 {
		return append(append([]string{}, entrypoint...), command...)
	}
	if len(command) == 0 {
		command = c.Cmd
	}
	return append(append([]string{}, c.Entrypoint...), command...)
}
