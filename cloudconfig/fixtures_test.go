package cloudconfig

// testSSHKey is a real (test-only) ed25519 public key.
const testSSHKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF6vBETkDs1Y2lfftnHZ44axD+n6mqcrcffWJB5jey08 admin@example"

// referenceSettings is the setting of the golden file and the size budget:
// one Nextcloud, default ports, a state volume.
func referenceSettings() Settings {
	return Settings{
		Domain:            "talk.example.com",
		NextcloudURLs:     []string{"https://cloud.example.com"},
		ACMEEmail:         "admin@example.com",
		SSHAuthorizedKeys: []string{testSSHKey},
		SSHAllowedCIDRs:   []string{"203.0.113.0/24", "2001:db8::/32"},
		StateDevice:       "/dev/disk/by-id/scsi-0HC_Volume_123456",
	}
}

// fakeSecrets are fixed, recognisable, valid secrets; each value is unique
// so a leak can be traced to its name.
func fakeSecrets() Secrets {
	return Secrets{
		SignalingSecret:      "fakeSignalingSecret0123456789abc",
		TURNSecret:           "fakeTurnSecret0123456789abcdefgh",
		SessionHashKey:       "fakeSessionHashKey0123456789abcd",
		SessionBlockKey:      "fakeBlockKey0123",
		InternalClientSecret: "fakeInternalClientSecret01234567",
		JanusAPIKey:          "fakeJanusApiKey0123456789abcdefg",
	}
}
