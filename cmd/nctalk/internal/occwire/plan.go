// Package occwire wires Nextcloud Talk to the backend through `occ`: it reads
// the current Talk settings with the list commands, computes the occ
// commands that bring them to the desired state, and runs only those.
//
// occ's commands are not idempotent (talk:signaling:add appends without a
// duplicate check, talk:turn:add and talk:stun:add fail on duplicates,
// talk:stun:delete re-adds Nextcloud's default STUN server when the last one
// goes), so every change is planned from what the list commands report.
package occwire

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// Desired is the Talk configuration this backend needs in Nextcloud.
type Desired struct {
	// SignalingURL is the signaling server, https and without a trailing slash.
	SignalingURL string
	// SignalingSecret is the shared secret of the signaling server.
	SignalingSecret string
	// TURN are the TURN entries, all with TURNSecret.
	TURN []talk.TURNServer
	// TURNSecret is coturn's static-auth-secret.
	TURNSecret string
	// STUN are the STUN servers (host:port).
	STUN []string
	// Domain is the backend's host name. Entries on it, or on a host of
	// the desired entries, belong to this backend; all others to other
	// servers.
	Domain string
}

// isOurs reports whether host (lower case) is this backend's: the domain or
// a host of its signaling URL, TURN or STUN entries.
func (d Desired) isOurs(host string) bool {
	if host == "" {
		return false
	}
	if host == d.Domain || host == signalingHost(d.SignalingURL) {
		return true
	}
	for _, t := range d.TURN {
		if host == hostOf(t.Server) {
			return true
		}
	}
	for _, s := range d.STUN {
		if host == hostOf(s) {
			return true
		}
	}
	return false
}

// Secrets returns the secret values of d, for masking.
func (d Desired) Secrets() []string { return []string{d.SignalingSecret, d.TURNSecret} }

// inputError is a problem with the stack outputs: the command must not run.
type inputError struct {
	// Key is the stack output key, e.g. "turnServers[1].protocols".
	Key string
	// Problem says what is wrong and what would be valid.
	Problem string
}

func (e *inputError) Error() string { return fmt.Sprintf("stack output %s: %s", e.Key, e.Problem) }

var (
	validSchemes   = []string{"turn", "turns", "turn,turns"}
	validProtocols = []string{"udp", "tcp", "udp,tcp"}
)

// DesiredFrom takes the desired state from parsed stack outputs and checks
// every entry the way occ would, so bad outputs fail before any change.
func DesiredFrom(o outputs.Outputs) (Desired, error) {
	u, err := url.Parse(o.SignalingURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return Desired{}, &inputError{Key: schema.OutputSignalingURL, Problem: fmt.Sprintf("%q is not an https URL (want e.g. %s)", o.SignalingURL, talk.Endpoints{Domain: "talk.example.com"}.SignalingURL())}
	}
	d := Desired{
		SignalingURL:    strings.TrimRight(o.SignalingURL, "/"),
		SignalingSecret: o.SignalingSecret,
		TURN:            o.TURNServers,
		TURNSecret:      o.TURNSecret,
		STUN:            o.STUNServers,
		Domain:          strings.ToLower(o.Domain),
	}
	if d.Domain == "" {
		d.Domain = strings.ToLower(u.Hostname())
	}
	for _, s := range d.Secrets() {
		if strings.TrimSpace(s) == "" {
			return Desired{}, &inputError{Key: schema.OutputSignalingSecret + "/" + schema.OutputTURNSecret, Problem: "a secret is blank"}
		}
	}
	if err := talkSignalingCheck(d.SignalingURL, d.SignalingSecret); err != nil {
		return Desired{}, &inputError{Key: schema.OutputSignalingURL + "/" + schema.OutputSignalingSecret, Problem: err.Error()}
	}
	// Talk's own rules come first: an entry Talk refuses stops the run
	// here, and an entry Talk stores in another spelling is planned in that
	// spelling, so that the lists match it afterwards.
	d.TURN = slices.Clone(d.TURN)
	for i, t := range d.TURN {
		stored, err := talkTURNStored(t.Schemes, t.Server, t.Protocols)
		var rule *talkRuleError
		if errors.As(err, &rule) {
			field := map[string]string{talkMsgSchemes: ".schemes", talkMsgProtocols: ".protocols", talkMsgServerEmpty: ".server"}[rule.Message]
			return Desired{}, &inputError{Key: fmt.Sprintf("%s[%d]%s", schema.OutputTURNServers, i, field), Problem: err.Error()}
		}
		d.TURN[i].Server = stored
	}
	d.STUN = slices.Clone(d.STUN)
	for i, s := range d.STUN {
		key := fmt.Sprintf("%s[%d]", schema.OutputSTUNServers, i)
		stored, err := talkSTUNStored(s)
		if err != nil {
			return Desired{}, &inputError{Key: key, Problem: err.Error()}
		}
		if strings.HasPrefix(stored, "-") {
			return Desired{}, &inputError{Key: key, Problem: fmt.Sprintf("%q starts with '-': occ (Symfony console) would read it as an option", s)}
		}
		d.STUN[i] = stored
	}
	if len(d.TURN) == 0 {
		return Desired{}, &inputError{Key: schema.OutputTURNServers, Problem: "no TURN entries"}
	}
	for i, t := range d.TURN {
		key := fmt.Sprintf("%s[%d]", schema.OutputTURNServers, i)
		if !slices.Contains(validSchemes, t.Schemes) {
			return Desired{}, &inputError{Key: key + ".schemes", Problem: fmt.Sprintf("%q is not one of %s", t.Schemes, strings.Join(validSchemes, " | "))}
		}
		if !slices.Contains(validProtocols, t.Protocols) {
			return Desired{}, &inputError{Key: key + ".protocols", Problem: fmt.Sprintf("%q is not one of %s", t.Protocols, strings.Join(validProtocols, " | "))}
		}
		if strings.Contains(t.Schemes, "turns") && strings.Contains(t.Protocols, "udp") {
			return Desired{}, &inputError{Key: key, Problem: "turns over udp yields unusable URLs: give turns the protocol tcp"}
		}
		if _, err := splitHostPort(t.Server); err != nil {
			return Desired{}, &inputError{Key: key + ".server", Problem: err.Error()}
		}
	}
	if len(d.STUN) == 0 {
		return Desired{}, &inputError{Key: schema.OutputSTUNServers, Problem: "no STUN entries"}
	}
	for i, s := range d.STUN {
		if _, err := splitHostPort(s); err != nil {
			return Desired{}, &inputError{Key: fmt.Sprintf("%s[%d]", schema.OutputSTUNServers, i), Problem: err.Error()}
		}
	}
	return d, nil
}

// Step is one mutating occ command of a plan.
type Step struct {
	// Args are occ's arguments, starting with the command name.
	Args []string
	// Reason says why the step is needed, without secrets.
	Reason string
}

// Plan is the list of occ commands that turn the current state into the
// desired one, in the order they must run.
type Plan struct {
	Steps []Step
	// Notes are things the admin should know that no step changes.
	Notes []string
}

// Options tune the plan.
type Options struct {
	// Replace removes signaling, TURN and STUN entries of other servers.
	Replace bool
}

// MakePlan computes the steps from cur to want. Adds come before deletes
// where occ allows it, so Nextcloud is never left without a working entry
// longer than necessary; an entry whose secret or flags changed is deleted
// and re-added, because occ's add commands either duplicate or refuse.
func MakePlan(cur Current, want Desired, opt Options) Plan {
	var p Plan
	planSignaling(&p, cur, want, opt)
	planTURN(&p, cur, want, opt)
	planSTUN(&p, cur, want, opt)
	return p
}

func planSignaling(p *Plan, cur Current, want Desired, opt Options) {
	exact, exactVerified := 0, true
	var variants, foreign []string
	for _, s := range cur.Signaling {
		switch {
		case s.Server == want.SignalingURL:
			exact++
			exactVerified = exactVerified && s.Verify
		case want.isOurs(signalingHost(s.Server)):
			variants = appendNew(variants, s.Server)
		default:
			foreign = appendNew(foreign, s.Server)
		}
	}
	secretDiffers := cur.SignalingSecret != want.SignalingSecret
	var readd string
	switch {
	case exact == 0:
		readd = "not configured yet"
	case exact > 1:
		readd = fmt.Sprintf("listed %d times", exact)
	case !exactVerified:
		readd = "certificate verification is off"
	case secretDiffers:
		readd = "the shared secret differs"
	}
	if readd != "" && exact > 0 {
		p.add(fmt.Sprintf("signaling %s: %s; occ cannot update in place", want.SignalingURL, readd),
			"talk:signaling:delete", want.SignalingURL)
	}
	for _, v := range variants {
		p.add(fmt.Sprintf("signaling %s: another spelling of this backend (want %s)", v, want.SignalingURL),
			"talk:signaling:delete", v)
	}
	if readd != "" {
		add := []string{"talk:signaling:add", want.SignalingURL, want.SignalingSecret, "--verify"}
		if strings.HasPrefix(want.SignalingSecret, "-") {
			// occ (Symfony console) would read the secret as an option.
			add = []string{"talk:signaling:add", "--verify", "--", want.SignalingURL, want.SignalingSecret}
		}
		p.add(fmt.Sprintf("signaling %s: %s", want.SignalingURL, readd), add...)
	}
	for _, f := range foreign {
		if opt.Replace {
			p.add(fmt.Sprintf("signaling %s: another server (--replace)", f), "talk:signaling:delete", f)
		}
	}
	if len(foreign) > 0 && !opt.Replace {
		note := fmt.Sprintf("other signaling servers stay configured: %s (--replace removes them)", strings.Join(foreign, ", "))
		if secretDiffers {
			note += "; Nextcloud has one signaling secret for all servers, so they get this backend's secret"
		}
		p.Notes = append(p.Notes, note)
	}
}

func planTURN(p *Plan, cur Current, want Desired, opt Options) {
	for _, t := range want.TURN {
		matches, sameSecret := 0, true
		for _, e := range cur.TURN {
			if e.TURNServer == t {
				matches++
				sameSecret = sameSecret && e.Secret == want.TURNSecret
			}
		}
		switch {
		case matches == 0:
			p.add(fmt.Sprintf("TURN %s: not configured yet", turnLabel(t)), turnAdd(t, want.TURNSecret)...)
		case matches > 1 || !sameSecret:
			why := "the secret differs"
			if matches > 1 {
				why = fmt.Sprintf("listed %d times", matches)
			}
			p.add(fmt.Sprintf("TURN %s: %s; occ cannot update in place", turnLabel(t), why), turnDelete(t)...)
			p.add(fmt.Sprintf("TURN %s: %s", turnLabel(t), why), turnAdd(t, want.TURNSecret)...)
		}
	}
	var seen []talk.TURNServer
	var foreign []string
	for _, e := range cur.TURN {
		if slices.Contains(want.TURN, e.TURNServer) || slices.Contains(seen, e.TURNServer) {
			continue
		}
		seen = append(seen, e.TURNServer)
		ours := want.isOurs(hostOf(e.Server))
		if !ours && !opt.Replace {
			foreign = append(foreign, turnLabel(e.TURNServer))
			continue
		}
		if e.Schemes == "" {
			p.Notes = append(p.Notes, fmt.Sprintf("TURN %s has no schemes (an entry from an old Talk version); occ cannot delete it: remove it in Nextcloud's Talk admin settings", e.Server))
			continue
		}
		why := "another server (--replace)"
		if ours {
			why = "an outdated entry of this backend"
		}
		p.add(fmt.Sprintf("TURN %s: %s", turnLabel(e.TURNServer), why), turnDelete(e.TURNServer)...)
	}
	if len(foreign) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("other TURN entries stay configured: %s (--replace removes them)", strings.Join(foreign, ", ")))
	}
}

func planSTUN(p *Plan, cur Current, want Desired, opt Options) {
	for _, s := range want.STUN {
		if !slices.Contains(cur.STUN, s) {
			p.add(fmt.Sprintf("STUN %s: not configured yet", s), "talk:stun:add", s)
		}
	}
	var deleted, foreign []string
	for _, s := range cur.STUN {
		if slices.Contains(want.STUN, s) || slices.Contains(deleted, s) {
			continue
		}
		var why string
		switch {
		case s == defaultSTUNServer:
			why = "Nextcloud's default, replaced by this backend (removed after the new one is in)"
		case want.isOurs(hostOf(s)):
			why = "an outdated entry of this backend"
		case opt.Replace:
			why = "another server (--replace)"
		default:
			foreign = appendNew(foreign, s)
			continue
		}
		deleted = append(deleted, s)
		p.add(fmt.Sprintf("STUN %s: %s", s, why), "talk:stun:delete", s)
	}
	if len(foreign) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("other STUN servers stay configured: %s (--replace removes them)", strings.Join(foreign, ", ")))
	}
}

func (p *Plan) add(reason string, args ...string) {
	p.Steps = append(p.Steps, Step{Args: args, Reason: reason})
}

func turnAdd(t talk.TURNServer, secret string) []string {
	return []string{"talk:turn:add", t.Schemes, t.Server, t.Protocols, "--secret=" + secret}
}

func turnDelete(t talk.TURNServer) []string {
	return []string{"talk:turn:delete", t.Schemes, t.Server, t.Protocols}
}

func turnLabel(t talk.TURNServer) string {
	return t.Schemes + " " + t.Server + " " + t.Protocols
}

// signalingHost is the lower-cased host name of a signaling URL, or "" when
// it does not parse.
func signalingHost(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}

// hostOf is the lower-cased host of "host:port" (or of a bare host).
func hostOf(hostPort string) string {
	if h, err := splitHostPort(hostPort); err == nil {
		return h
	}
	return strings.ToLower(hostPort)
}

// splitHostPort checks "host:port" the way occ's STUN check does (a host
// and a port) and returns the lower-cased host.
func splitHostPort(s string) (string, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return "", fmt.Errorf("%q is not host:port (want e.g. talk.example.com:%d)", s, schema.PortTURN)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("%q has no port between 1 and 65535", s)
	}
	return strings.ToLower(host), nil
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
