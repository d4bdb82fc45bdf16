package cloudconfig

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// Plan is what follows from one set of validated Settings: the port table
// both firewalls open, the names the certificate (and the stack's DNS
// records) carry, the entries Nextcloud needs, and the document. NewPlan
// validates and derives it once; the stack (infra) and the renderer both
// read it, so nothing is validated or derived twice.
type Plan struct {
	settings Settings
	// access is the stack's way onto the box (WithAccess); zero for render.
	access Access
	// media are the media servers signaling places publishers on
	// (WithMediaServers); zero for one box.
	media mediaTopology
	// box is the machine of the topology the plan renders; proxy a media
	// server's proxy (ForMediaServer).
	box   box
	proxy viewProxy
	// projectKeys are SSH keys the stack found in the cloud project
	// (WithProjectKeys); they log in beside sshPublicKeys.
	projectKeys []string
	// Firewall is the port table: every inbound rule of the Hetzner
	// firewall and of the host's nftables ruleset (FirewallRules).
	Firewall []Rule
	// Endpoints are where Nextcloud and clients reach the backend: the
	// signaling URL and the STUN and TURN entries.
	Endpoints talk.Endpoints
	// Names are the names the certificate carries and the stack's DNS
	// records point at the server: the domain, and with turnOn443 the TURN
	// name.
	Names []string
	// SSHPort, JanusRTPPorts and TURNRelayPorts are the settings' values
	// with the defaults applied.
	SSHPort                       int
	JanusRTPPorts, TURNRelayPorts schema.PortRange
}

// NewPlan validates the settings (a *schema.KeyError naming the key on the
// first problem) and derives the plan.
func NewPlan(s Settings) (Plan, error) {
	if err := s.validate(); err != nil {
		return Plan{}, fmt.Errorf("invalid settings: %w", err)
	}
	return derivePlan(s), nil
}

// derivePlan derives the plan of settings that passed validation.
func derivePlan(s Settings) Plan {
	p := Plan{
		settings:       s,
		Firewall:       FirewallRules(s),
		Endpoints:      s.Endpoints(),
		Names:          []string{s.Domain},
		SSHPort:        s.sshPort(),
		JanusRTPPorts:  s.janusRTPPorts(),
		TURNRelayPorts: s.turnRelayPorts(),
	}
	if s.TURNOn443 {
		p.Names = append(p.Names, s.TURNName())
	}
	return p
}

// Settings returns the validated settings the plan was made from.
func (p Plan) Settings() Settings { return p.settings }

// WithStateDevice returns the plan with the state device set: the stack
// knows the volume's device path only once the volume exists. Only the
// device is checked; the rest was validated by NewPlan.
func (p Plan) WithStateDevice(device string) (Plan, error) {
	s := p.settings
	s.StateDevice = device
	if err := s.validateStateDevice(); err != nil {
		return Plan{}, fmt.Errorf("invalid settings: %w", err)
	}
	p.settings = s
	return p, nil
}

// WithProjectKeys returns the plan with SSH public keys that the stack
// found in the cloud project (sshKeySelector): they are authorized beside
// sshPublicKeys. A key given in both is listed once.
func (p Plan) WithProjectKeys(keys []string) (Plan, error) {
	seen := map[string]bool{}
	for _, k := range p.settings.SSHAuthorizedKeys {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k)); err == nil {
			seen[ssh.FingerprintSHA256(pub)] = true
		}
	}
	var out []string
	for i, k := range keys {
		pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(k))
		if err != nil || len(bytes.TrimSpace(rest)) > 0 || strings.ContainsAny(k, "\r\n\u2028\u2029") {
			return Plan{}, schema.Errorf(schema.KeySSHKeySelector, "key %d of the project is not one OpenSSH public key (%v)", i, err)
		}
		if fp := ssh.FingerprintSHA256(pub); !seen[fp] {
			seen[fp] = true
			line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))
			if c := strings.TrimSpace(comment); c != "" && schema.MustGrammar(schema.KeySSHPublicKeys).Check(-1, c) == nil {
				line += " " + c
			}
			out = append(out, line)
		}
	}
	p.projectKeys = out
	return p, nil
}

// Render returns the #cloud-config document of the plan with these
// secrets. The same inputs always give the same bytes. It fails with a
// *schema.KeyError on an invalid secret and when the user data
// (EncodeUserData of the document) would exceed MaxUserDataBytes.
func (p Plan) Render(sec Secrets) ([]byte, error) {
	if err := sec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid secrets: %w", err)
	}
	doc, err := renderDocument(p, newView(p, sec))
	if err != nil {
		return nil, err
	}
	if n := len(EncodeUserData(doc)); n > MaxUserDataBytes {
		return nil, schema.Errorf(schema.KeyNextcloudURLs, "the rendered cloud-config packs into %d bytes of user data (%d unpacked), over the %d-byte user data limit; use fewer Nextcloud URLs, SSH keys or CIDRs", n, len(doc), MaxUserDataBytes)
	}
	return doc, nil
}

// Files returns every file the document writes, in document order.
func (p Plan) Files(sec Secrets) ([]File, error) {
	if err := sec.Validate(); err != nil {
		return nil, fmt.Errorf("invalid secrets: %w", err)
	}
	return renderFiles(p, newView(p, sec))
}

// RenderRedacted returns the document Render returns, with each secret's
// value replaced by its marker (RedactionMarker). It redacts by position,
// not by searching: it renders the same templates with the markers as the
// secrets' values, so it needs no secrets at all, and a secret that equals
// ordinary text of the document ("true", a path, a service name) neither
// corrupts that text nor stays visible.
func (p Plan) RenderRedacted() ([]byte, error) {
	v := newView(p, redactionSecrets())
	v.Access = redactedAccess(p.access)
	if v.MCU.TokenKey != "" {
		v.MCU.TokenKey = fmt.Sprintf(RedactionMarker, proxyTokenKeyName)
	}
	return renderDocument(p, v)
}

// Render validates the settings and secrets and returns the document:
// NewPlan(s) and its Render(sec), for callers that need nothing else of
// the plan.
func Render(s Settings, sec Secrets) ([]byte, error) {
	p, err := NewPlan(s)
	if err != nil {
		return nil, err
	}
	return p.Render(sec)
}
