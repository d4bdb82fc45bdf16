package cloudconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Action is how a unit on the box takes a change of its files, weakest
// first; a stronger action includes the weaker ones.
type Action int

// The actions, weakest first.
const (
	// actionWrite writes the files; nothing runs them until they are used
	// (scripts, keys, the unattended-upgrades policy).
	actionWrite Action = iota + 1
	// actionReload makes the daemon reread its files: nothing restarts,
	// no session drops.
	actionReload
	// actionRestart restarts the daemon (its container keeps its
	// settings): its sessions drop.
	actionRestart
	// actionRecreate recreates the container (image or container
	// settings changed).
	actionRecreate
)

var actionNames = map[Action][2]string{
	actionWrite:    {"write", "updated"},
	actionReload:   {"reload", "reloaded"},
	actionRestart:  {"restart", "restarted"},
	actionRecreate: {"recreate", "recreated"},
}

// String is the action's name in the unit digests ("reload").
func (a Action) String() string { return actionNames[a][0] }

// Done is the action in the past tense, for the preview ("reloaded").
func (a Action) Done() string { return actionNames[a][1] }

// Unit is something on the box that a change of rendered files acts on:
// a compose service or a host daemon. Units lists them in the order the
// box applies changes (nctalk-apply).
type Unit struct {
	// Name is the unit's name in digests, the preview and the apply
	// script: the compose service name, or a host daemon's.
	Name string
	// Service says the unit is a compose service (recreated by compose,
	// its PID checked by the VM test).
	Service bool
	// Doc says how the unit takes each action, for docs/operations.md.
	Doc string
	// Done, when set, says in the past tense what the unit's restart does,
	// where "restarted" would not say it.
	Done string
}

// Host units (the compose services are named by their Service* constants).
const (
	// unitFiles stands for files that only need writing.
	unitFiles = "files"
	// unitHostFirewall is the nftables ruleset (nctalk-firewall.service).
	unitHostFirewall = "host-firewall"
	// unitSSHD is the host's sshd.
	unitSSHD = "sshd"
	// unitResolved is systemd-resolved.
	unitResolved = "resolved"
	// unitDocker is dockerd (live-restore keeps the containers running).
	unitDocker = "dockerd"
	// unitCertificate is the setup's certificate step (the names the
	// certificate carries and the CA that issues it).
	unitCertificate = "certificate"
)

// Units are every unit, in the order nctalk-apply acts on them: the host
// first (a wider port range is open before a daemon uses it), then the
// services from the inside out (nginx, the front door, last).
var Units = []Unit{
	{Name: unitFiles, Doc: "files written; nothing restarts"},
	{Name: unitHostFirewall, Doc: "reload: the ruleset is replaced atomically (`nft -f`); open connections stay"},
	{Name: unitSSHD, Doc: "reload: sshd rereads its configuration; open sessions stay"},
	{Name: unitResolved, Doc: "restart: systemd-resolved restarts"},
	{Name: unitDocker, Doc: "restart: dockerd restarts; live-restore keeps every container running"},
	{Name: ServiceNATS, Service: true, Doc: "restart: the container restarts (signaling reconnects); recreate: on an image or container change"},
	{Name: ServiceJanus, Service: true, Doc: "restart: the container restarts (calls' media drops; signaling reconnects); recreate: on an image or container change"},
	{Name: ServiceProxy, Service: true, Doc: "restart (media servers): the proxy drains first (the image's stop signal SIGUSR1: no new publishers, calls go on) until its calls end or compose's stop grace period; recreate: on an image or container change"},
	{Name: ServiceCoturn, Service: true, Doc: "restart: the container restarts (TURN allocations drop; clients allocate again); recreate: on an image or container change"},
	{Name: ServiceSignaling, Service: true, Doc: "reload (SIGHUP): the Nextcloud backends and their secrets, and the media servers' proxy list; restart: anything else in server.conf (sessions drop, clients reconnect); recreate: on an image or container change"},
	{Name: ServiceNginx, Service: true, Doc: "reload (`nginx -s reload`): connections stay; recreate: on an image or container change"},
	{Name: unitCertificate, Done: "renewed", Doc: "restart: the setup's certificate step runs again (`nctalk-setup certificate`): a new order only when the names or the CA changed, after the names resolve to the server; the deploy hook then reloads nginx and coturn"},
}

// effect says what a change of (a part of) a file makes a unit do.
type effect struct {
	unit   string
	action Action
}

// fileEffects says what each rendered file acts on when it changes. The
// compose file acts on each service by that service's own definition
// (composeParts); the signaling config reloads when only its backend
// sections change and restarts otherwise (signalingParts).
var fileEffects = map[string][]effect{
	JanusConfigFile:       {{ServiceJanus, actionRestart}},
	JanusVideoRoomConfig:  {{ServiceJanus, actionRestart}},
	JanusWebsocketsConfig: {{ServiceJanus, actionRestart}},
	NATSConfig:            {{ServiceNATS, actionRestart}},
	CoturnConfig:          {{ServiceCoturn, actionRestart}},
	NginxConfig:           {{ServiceNginx, actionReload}},
	HostFirewallConfig:    {{unitHostFirewall, actionReload}},
	hostFirewallUnit:      {{unitHostFirewall, actionReload}},
	sshdConfig:            {{unitSSHD, actionReload}},
	resolvedConfig:        {{unitResolved, actionRestart}},
	dockerDaemonFile:      {{unitDocker, actionRestart}},
	proxyTokenKey:         {{ServiceSignaling, actionRestart}},
	proxyConfig:           {{ServiceProxy, actionRestart}},
	proxyTokenPublicKey:   {{ServiceProxy, actionRestart}},
}

// part is one piece of a file's content that one effect depends on.
type part struct {
	effect
	path    string
	content []byte
}

// fileParts splits a rendered file into the parts its units depend on.
func fileParts(f File) ([]part, error) {
	switch f.Path {
	case ComposeFile:
		return composeParts(f)
	case SignalingConfig:
		return signalingParts(f), nil
	case SetupScript:
		return setupParts(f), nil
	}
	effects, ok := fileEffects[f.Path]
	if !ok {
		effects = []effect{{unitFiles, actionWrite}}
	}
	parts := make([]part, len(effects))
	for i, e := range effects {
		parts[i] = part{effect: e, path: f.Path, content: f.Content}
	}
	return parts, nil
}

// composeParts gives each service the canonical form of its own
// definition (the shared x- extensions merged in): compose recreates a
// service exactly when that changes. The rest of the file (project name,
// comments, the extensions themselves) only needs writing.
func composeParts(f File) ([]part, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(f.Content, &doc); err != nil {
		return nil, fmt.Errorf("reading the rendered %s: %w", f.Path, err)
	}
	services, _ := doc["services"].(map[string]any)
	head := map[string]any{}
	for k, v := range doc {
		if k != "services" && !strings.HasPrefix(k, "x-") {
			head[k] = v
		}
	}
	var parts []part
	for _, name := range append([]string{""}, sortedKeys(services)...) {
		var v any = head
		e := effect{unitFiles, actionWrite}
		if name != "" {
			v, e = services[name], effect{name, actionRecreate}
		}
		canon, err := yaml.Marshal(v) // maps marshal with sorted keys
		if err != nil {
			return nil, fmt.Errorf("reading the rendered %s: %w", f.Path, err)
		}
		parts = append(parts, part{effect: e, path: f.Path + "#" + name, content: canon})
	}
	return parts, nil
}

// signalingReloadSections are the server.conf sections the signaling
// server rereads on SIGHUP (nextcloud-spreed-signaling 2.1.1, Hub.Reload:
// the backend list and each backend's URL and secret, and the GeoIP
// overrides; 2.0.2 the same).
func signalingReloadSection(name string) bool {
	return name == "backend" || strings.HasPrefix(name, "backend-") || name == "geoip-overrides"
}

// signalingParts splits server.conf into the sections SIGHUP reloads and
// the rest, which needs a restart. With [mcu] type = proxy, SIGHUP also
// rereads the proxies' url list (2.1.1: Hub.Reload → the proxy SFU's
// Reload → its static config: listed URLs kept, new ones connected,
// dropped ones closed; 2.0.2 the same), so that line reloads too.
func signalingParts(f File) []part {
	var reload, restart bytes.Buffer
	into := &restart
	section, proxyMCU := "", false
	for _, line := range bytes.SplitAfter(f.Content, []byte("\n")) {
		t := bytes.TrimSpace(line)
		if len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' {
			section = string(t[1 : len(t)-1])
			into = &restart
			if signalingReloadSection(section) {
				into = &reload
			}
		}
		if section == "mcu" {
			key, value, _ := strings.Cut(string(t), "=")
			key, value = strings.TrimSpace(key), strings.TrimSpace(value)
			if key == "type" {
				proxyMCU = value == "proxy"
			}
			if key == "url" && proxyMCU {
				reload.Write(line)
				continue
			}
		}
		into.Write(line)
	}
	return []part{
		{effect: effect{ServiceSignaling, actionReload}, path: f.Path + "#reload", content: reload.Bytes()},
		{effect: effect{ServiceSignaling, actionRestart}, path: f.Path + "#restart", content: restart.Bytes()},
	}
}

// setupParts gives the certificate unit the setup script's lines that say
// which names the certificate carries and which CA issues it (its
// prologue's names= and acme=); the whole script only needs writing.
func setupParts(f File) []part {
	var cert bytes.Buffer
	for _, line := range bytes.SplitAfter(f.Content, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("names=")) || bytes.HasPrefix(line, []byte("acme=")) {
			cert.Write(line)
		}
	}
	return []part{
		{effect: effect{unitFiles, actionWrite}, path: f.Path, content: f.Content},
		{effect: effect{unitCertificate, actionRestart}, path: f.Path + "#certificate", content: cert.Bytes()},
	}
}

// UnitDigests are, for each unit and action, a digest of everything the
// unit takes with that action: the box compares the digests of what it
// runs with those of a new bundle to know what to do, and the preview
// compares the stack's old and new digests to say it. A digest is the
// first 16 hex digits of a SHA-256; it is not secret, though some parts
// carry secrets: each such part holds at least one generated secret of 32
// or more random characters, which no one can recover from a hash.
type UnitDigests map[string]map[string]string

// unitDigests computes the digests of rendered files.
func unitDigests(files []File) (UnitDigests, error) {
	hashes := map[string]map[string][]byte{}
	for _, f := range files {
		parts, err := fileParts(f)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			if hashes[p.unit] == nil {
				hashes[p.unit] = map[string][]byte{}
			}
			a := p.action.String()
			h := sha256.New()
			h.Write(hashes[p.unit][a])
			fmt.Fprintf(h, "%s\x00%d\x00", p.path, len(p.content))
			h.Write(p.content)
			hashes[p.unit][a] = h.Sum(nil)
		}
	}
	out := UnitDigests{}
	for unit, byAction := range hashes {
		out[unit] = map[string]string{}
		for a, sum := range byAction {
			out[unit][a] = hex.EncodeToString(sum[:8])
		}
	}
	return out, nil
}

// UnitChange is what one unit does to take a change.
type UnitChange struct {
	Unit   string
	Action Action
}

// CompareUnits returns, for each unit (in Units order) whose digests differ
// between old and new, the strongest action whose digest differs.
func CompareUnits(old, new UnitDigests) []UnitChange {
	var out []UnitChange
	for _, u := range Units {
		var strongest Action
		for _, a := range []Action{actionWrite, actionReload, actionRestart, actionRecreate} {
			if old[u.Name][a.String()] != new[u.Name][a.String()] {
				strongest = a
			}
		}
		if strongest != 0 {
			out = append(out, UnitChange{Unit: u.Name, Action: strongest})
		}
	}
	return out
}

// DescribeChanges says in words what an in-place change from old to new
// digests does on the box, e.g. "signaling reloaded, nginx reloaded;
// coturn, janus, nats untouched": the changed units (CompareUnits), then
// the box's services left alone.
func DescribeChanges(old, new UnitDigests) string {
	changes := CompareUnits(old, new)
	if len(changes) == 0 {
		return "nothing on the box changes"
	}
	var done, untouched []string
	changed := map[string]bool{}
	verbs := map[string]string{}
	for _, u := range Units {
		verbs[u.Name] = u.Done
	}
	for _, c := range changes {
		changed[c.Unit] = true
		verb := c.Action.Done()
		_, before := old[c.Unit]
		_, after := new[c.Unit]
		switch {
		case !after:
			verb = "removed"
		case !before && c.Action == actionRecreate:
			verb = "started"
		case verbs[c.Unit] != "" && c.Action == actionRestart:
			verb = verbs[c.Unit]
		}
		done = append(done, c.Unit+" "+verb)
	}
	for _, u := range Units {
		_, before := old[u.Name]
		_, after := new[u.Name]
		if u.Service && !changed[u.Name] && (before || after) {
			untouched = append(untouched, u.Name)
		}
	}
	slices.Sort(untouched)
	s := strings.Join(done, ", ")
	if len(untouched) > 0 {
		s += "; " + strings.Join(untouched, ", ") + " untouched"
	}
	return s
}

// AsMap is the digests as plain maps (the form Pulumi inputs take).
func (u UnitDigests) AsMap() map[string]any {
	out := make(map[string]any, len(u))
	for unit, byAction := range u {
		m := make(map[string]any, len(byAction))
		for a, d := range byAction {
			m[a] = d
		}
		out[unit] = m
	}
	return out
}
