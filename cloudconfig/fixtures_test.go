package cloudconfig

import "github.com/nctalk/nctalk/schema"

// testSSHKey is a real (test-only) ed25519 public key.
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF6vBETkDs1Y2lfftnHZ44axD+n6mqcrcffWJB5jey08 admin@example"

// testSSHKey2 is a second, different test-only ed25519 public key.
const testSSHKey2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfUHbVCx8mUKP6yi/nE7NuLzfSw5UXYmulhUXgGbwSP ops@example"

// referenceSettings is the setting of the golden file and the size budget,
// shaped like a real stack: two Nextcloud servers, one SSH key, two CIDRs, a
// state volume, default ports.
func referenceSettings() Settings {
	return Settings{
		Domain:            "talk.example.com",
		NextcloudURLs:     []string{"https://cloud.example.com", "https://cloud.example.org/nextcloud"},
		ACMEEmail:         "admin@example.com",
		SSHAuthorizedKeys: []string{testSSHKey},
		SSHAllowedCIDRs:   []string{"203.0.113.0/24", "2001:db8::/32"},
		StateDevice:       "/dev/disk/by-id/scsi-0HC_Volume_123456",
		TURNOn443:         true,
	}
}

// fakeSecret pads a recognisable name to n characters, so each fake secret
// is unique, traceable in a leak and as long as the stack's generated ones.
func fakeSecret(name string, n int) string {
	for len(name) < n {
		name += "0123456789"
	}
	return name[:n]
}

// fakeSecrets are fixed, valid secrets of the lengths the stack generates
// (64 characters; the session block key 32).
func fakeSecrets() Secrets {
	return Secrets{
		SignalingSecret:      fakeSecret("fakeSignalingSecret", generatedLength(schema.KeySignalingSecret)),
		TURNSecret:           fakeSecret("fakeTurnSecret", generatedLength(schema.KeyTURNSecret)),
		SessionHashKey:       fakeSecret("fakeSessionHashKey", generatedLength(schema.SecretSessionHashKey)),
		SessionBlockKey:      fakeSecret("fakeSessionBlockKey", generatedLength(schema.SecretSessionBlockKey)),
		InternalClientSecret: fakeSecret("fakeInternalClientSecret", generatedLength(schema.SecretInternalClientSecret)),
		JanusAPIKey:          fakeSecret("fakeJanusApiKey", generatedLength(schema.SecretJanusAPIKey)),
	}
}

// generatedLength is the length the stack generates the named secret with.
func generatedLength(name string) int {
	spec, ok := schema.SecretByName(name)
	if !ok {
		panic("no secret " + name)
	}
	return spec.Length
}

// renderFilesOf is NewPlan(s) and its Files(sec): every file of the
// document, or the first validation error.
func renderFilesOf(s Settings, sec Secrets) ([]File, error) {
	p, err := NewPlan(s)
	if err != nil {
		return nil, err
	}
	return p.Files(sec)
}
