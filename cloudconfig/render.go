package cloudconfig

import (
	"bytes"
	"fmt"
)

// MaxUserDataBytes is Hetzner's limit for user data.
const MaxUserDataBytes = 32 * 1024

// Render returns the #cloud-config document for the settings and secrets.
// The same inputs always give the same bytes.
func Render(s Settings, sec Secrets) ([]byte, error) {
	// Placeholder body until issue 3 lands: real, valid cloud-config.
	var b bytes.Buffer
	fmt.Fprintf(&b, "#cloud-config\n# nctalk backend for %s\n", s.Domain)
	fmt.Fprintf(&b, "write_files:\n  - path: /opt/nctalk/signaling/server.conf\n    permissions: \"0640\"\n    content: |\n      [backend]\n      secret = %s\n      [turn]\n      secret = %s\n", sec.SignalingSecret, sec.TURNSecret)
	if b.Len() > MaxUserDataBytes {
		return nil, fmt.Errorf("rendered cloud-config is %d bytes, over the %d-byte user data limit", b.Len(), MaxUserDataBytes)
	}
	return b.Bytes(), nil
}

// RedactionMarker replaces each secret in a redacted document; the secret's
// name is inserted at %s.
const RedactionMarker = "<redacted:%s>"

// Redact replaces every secret value in doc with a fixed marker naming it.
func Redact(doc []byte, sec Secrets) []byte {
	out := doc
	for _, ns := range sec.List() {
		if ns.Value == "" {
			continue
		}
		out = bytes.ReplaceAll(out, []byte(ns.Value), []byte(fmt.Sprintf(RedactionMarker, ns.Name)))
	}
	return out
}
