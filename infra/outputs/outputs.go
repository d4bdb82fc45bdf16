// Package outputs reads the stack outputs (schema.Outputs) back: `nctalk
// occ` and `nctalk verify` decode `pulumi stack output --json
// --show-secrets` with Parse. It imports no Pulumi code, so the companion
// CLI stays small.
package outputs

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// KeyCloudConfigRedacted is not a stack output: it is the TalkBackend
// component's output (type ComponentType) holding the rendered cloud-config
// with every secret replaced by a marker. It lives in the state, so
// `pulumi up` does not print its ~300 lines; `nctalk cloud-config` and the
// preview summary read it.
const KeyCloudConfigRedacted = "cloudConfigRedacted"

// KeyTornDown is what `nctalk teardown` leaves in the stack outputs (and
// the component's) in place of those describing deleted things: when and
// what it kept. A reader of the outputs that finds it says the backend is
// torn down.
const KeyTornDown = "tornDown"

// ComponentType is the type token of the TalkBackend component, whose
// outputs are the stack outputs plus KeyCloudConfigRedacted.
const ComponentType = "nctalk:index:TalkBackend"

// Outputs is the decoded form of `pulumi stack output --json --show-secrets`.
type Outputs struct {
	Domain            string            `json:"domain"`
	SignalingURL      string            `json:"signalingUrl"`
	SignalingSecret   string            `json:"signalingSecret"`
	TURNSecret        string            `json:"turnSecret"`
	TURNServers       []talk.TURNServer `json:"turnServers"`
	STUNServers       []string          `json:"stunServers"`
	TURNRelayPorts    string            `json:"turnRelayPorts"`
	JanusRTPPorts     string            `json:"janusRtpPorts"`
	IPv4              string            `json:"ipv4"`
	IPv6              string            `json:"ipv6"`
	ServerName        string            `json:"serverName"`
	SSHCommand        string            `json:"sshCommand"`
	CloudConfigDigest string            `json:"cloudConfigDigest"`
	// TornDown is set (KeyTornDown) when the backend was torn down.
	TornDown string `json:"tornDown"`
}

// errTornDown is returned for the outputs of a torn-down backend.
var errTornDown = errors.New("the backend is torn down")

// errSecretsHidden is returned when the outputs were printed without
// --show-secrets, so the secrets read "[secret]".
var errSecretsHidden = errors.New("secrets are hidden: run `pulumi stack output --json --show-secrets`")

// Parse decodes the JSON outputs and checks that the keys the companion
// commands need are present. Errors name the missing or bad key and never
// repeat a value (the JSON decoder's own errors name a type, a field or one
// character, not a value).
func Parse(r io.Reader) (Outputs, error) {
	var o Outputs
	dec := json.NewDecoder(r)
	if err := dec.Decode(&o); err != nil {
		return Outputs{}, fmt.Errorf("stack outputs are not valid JSON (want the output of `pulumi stack output --json --show-secrets`): %w", err)
	}
	if o.TornDown != "" {
		return Outputs{}, fmt.Errorf("%w (%s)", errTornDown, o.TornDown)
	}
	required := []struct{ key, value string }{
		{schema.OutputSignalingURL, o.SignalingURL},
		{schema.OutputSignalingSecret, o.SignalingSecret},
		{schema.OutputTURNSecret, o.TURNSecret},
	}
	for _, f := range required {
		if f.value == "" {
			return Outputs{}, fmt.Errorf("stack output %q is missing or empty", f.key)
		}
	}
	for _, s := range []string{o.SignalingSecret, o.TURNSecret} {
		if s == "[secret]" {
			return Outputs{}, errSecretsHidden
		}
	}
	u, err := url.Parse(o.SignalingURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		// The value is not repeated: errors never echo a stack output.
		return Outputs{}, fmt.Errorf("stack output %q is not an https URL with a host (want https://<domain>/standalone-signaling)", schema.OutputSignalingURL)
	}
	if o.Domain == "" {
		o.Domain = u.Hostname()
	}
	if len(o.TURNServers) == 0 {
		return Outputs{}, fmt.Errorf("stack output %q is missing or empty", schema.OutputTURNServers)
	}
	if len(o.STUNServers) == 0 {
		return Outputs{}, fmt.Errorf("stack output %q is missing or empty", schema.OutputSTUNServers)
	}
	o.SignalingURL = strings.TrimRight(o.SignalingURL, "/")
	return o, nil
}

// redacted is what a secret output reads as when Outputs is formatted.
const redacted = "[secret]"

// Format prints the outputs with the secrets replaced by [secret], for
// every verb (%v, %+v, %#v, %s), so a stray format of the struct in an error
// or a log line shows no secret. Read the fields to use the values.
func (o Outputs) Format(f fmt.State, verb rune) {
	type plain Outputs // no methods: no recursion
	p := plain(o)
	for _, s := range []*string{&p.SignalingSecret, &p.TURNSecret} {
		if *s != "" {
			*s = redacted
		}
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), p)
}

// CloudConfigDigest is the stack output schema.OutputCloudConfigDigest: a one-line
// stand-in for the redacted cloud-config, which changes exactly when the
// document does.
func CloudConfigDigest(redacted string) string {
	sum := sha256.Sum256([]byte(redacted))
	return fmt.Sprintf("sha256:%x (%d lines; nctalk cloud-config prints it)", sum, strings.Count(redacted, "\n"))
}
