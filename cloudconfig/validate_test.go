package cloudconfig

import (
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
)

func TestSettingsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Settings)
		wantKey string // "" means valid
		wantMsg string // substring of the problem
	}{
		{"reference", func(*Settings) {}, "", ""},
		{"minimal", func(s *Settings) { s.SSHAuthorizedKeys, s.SSHAllowedCIDRs, s.StateDevice = nil, nil, "" }, "", ""},
		{"domain empty", func(s *Settings) { s.Domain = "" }, schema.KeyDomain, "empty"},
		{"domain single label", func(s *Settings) { s.Domain = "talk" }, schema.KeyDomain, "one label"},
		{"domain upper case", func(s *Settings) { s.Domain = "Talk.example.com" }, schema.KeyDomain, "only a-z"},
		{"domain trailing dot", func(s *Settings) { s.Domain = "talk.example.com." }, schema.KeyDomain, "dot"},
		{"domain ip", func(s *Settings) { s.Domain = "192.0.2.1" }, schema.KeyDomain, "IP address"},
		{"domain hyphen", func(s *Settings) { s.Domain = "-talk.example.com" }, schema.KeyDomain, "'-'"},
		{"domain url", func(s *Settings) { s.Domain = "https://talk.example.com" }, schema.KeyDomain, "want a fully qualified"},
		{"nextcloud empty", func(s *Settings) { s.NextcloudURLs = nil }, schema.KeyNextcloudURLs, "at least one"},
		{"nextcloud http", func(s *Settings) { s.NextcloudURLs = []string{"http://cloud.example.com"} }, schema.KeyNextcloudURLs, "https"},
		{"nextcloud http loopback", func(s *Settings) { s.NextcloudURLs = []string{"http://127.0.0.1:8081"} }, "", ""},
		{"nextcloud http localhost", func(s *Settings) { s.NextcloudURLs = []string{"http://localhost/nc"} }, "", ""},
		{"nextcloud path", func(s *Settings) { s.NextcloudURLs = []string{"https://example.com/nextcloud"} }, "", ""},
		{"nextcloud relative", func(s *Settings) { s.NextcloudURLs = []string{"cloud.example.com"} }, schema.KeyNextcloudURLs, "absolute"},
		{"nextcloud query", func(s *Settings) { s.NextcloudURLs = []string{"https://cloud.example.com/?a=b"} }, schema.KeyNextcloudURLs, "query"},
		{"nextcloud creds", func(s *Settings) { s.NextcloudURLs = []string{"https://u:p@cloud.example.com"} }, schema.KeyNextcloudURLs, "credentials"},
		{"nextcloud duplicate", func(s *Settings) {
			s.NextcloudURLs = []string{"https://cloud.example.com", "https://cloud.example.com/"}
		}, schema.KeyNextcloudURLs, "twice"},
		{"nextcloud two", func(s *Settings) {
			s.NextcloudURLs = []string{"https://a.example.com", "https://b.example.com"}
		}, "", ""},
		// The signaling server expands $(NAME) in its config from its environment.
		{"nextcloud $(NAME)", func(s *Settings) { s.NextcloudURLs = []string{"https://cloud.example.com/$(HOME)"} }, schema.KeyNextcloudURLs, "U+0024"},
		{"email empty", func(s *Settings) { s.ACMEEmail = "" }, schema.KeyACMEEmail, "not a plain"},
		// certbot would read it as an option.
		{"email leading dash", func(s *Settings) { s.ACMEEmail = "-admin@example.com" }, schema.KeyACMEEmail, "starts with '-'"},
		{"email no at", func(s *Settings) { s.ACMEEmail = "admin.example.com" }, schema.KeyACMEEmail, "not a plain"},
		{"email with name", func(s *Settings) { s.ACMEEmail = "Admin <admin@example.com>" }, schema.KeyACMEEmail, "not a plain"},
		{"email bad domain", func(s *Settings) { s.ACMEEmail = "admin@localhost" }, schema.KeyACMEEmail, "Let's Encrypt"},
		{"acme server", func(s *Settings) { s.ACMEServer = "https://acme.example.net:14000/dir" }, "", ""},
		{"acme server ip", func(s *Settings) { s.ACMEServer = "https://10.0.2.2:14000/dir" }, "", ""},
		{"acme server and staging", func(s *Settings) { s.ACMEServer, s.ACMEStaging = letsEncryptDirectory, true }, schema.KeyACMEServer, "acmeStaging"},
		{"acme server http", func(s *Settings) { s.ACMEServer = "http://acme.example.net/dir" }, schema.KeyACMEServer, "https"},
		{"acme server shell", func(s *Settings) { s.ACMEServer = "https://acme.example.net/$(id)" }, schema.KeyACMEServer, "contains"},
		{"acme server query", func(s *Settings) { s.ACMEServer = "https://acme.example.net/dir?x=1" }, schema.KeyACMEServer, "a query"},
		{"acme server creds", func(s *Settings) { s.ACMEServer = "https://u:p@acme.example.net/dir" }, schema.KeyACMEServer, "credentials"},
		{"acme server newline", func(s *Settings) { s.ACMEServer = "https://acme.example.net/\n--staging" }, schema.KeyACMEServer, "not an https URL"},
		{"mirror", func(s *Settings) { s.RegistryMirror = "https://mirror.example.net:5000" }, "", ""},
		{"mirror path", func(s *Settings) { s.RegistryMirror = "https://mirror.example.net/v2" }, schema.KeyRegistryMirror, "path"},
		{"mirror http", func(s *Settings) { s.RegistryMirror = "http://mirror.example.net" }, schema.KeyRegistryMirror, "https"},
		{"mirror quote", func(s *Settings) { s.RegistryMirror = `https://mirror.example.net"` }, schema.KeyRegistryMirror, "contains"},
		{"mirror bad host", func(s *Settings) { s.RegistryMirror = "https://-mirror.example.net" }, schema.KeyRegistryMirror, "host"},
		{"ssh key garbage", func(s *Settings) { s.SSHAuthorizedKeys = []string{"ssh-ed25519 notbase64"} }, schema.KeySSHPublicKeys, "entry 0"},
		{"ssh key two lines", func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\n" + testSSHKey} }, schema.KeySSHPublicKeys, "more than one line"},
		{"ssh key twice", func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey, testSSHKey + " other comment"} }, schema.KeySSHPublicKeys, "entries 0 and 1 are the same key"},
		{"ssh key options", func(s *Settings) { s.SSHAuthorizedKeys = []string{`from="10.0.0.1" ` + testSSHKey} }, "", ""},
		{"ssh cidr bad", func(s *Settings) { s.SSHAllowedCIDRs = []string{"203.0.113.0/33"} }, schema.KeySSHAllowedCIDRs, "entry 0"},
		{"ssh cidr word", func(s *Settings) { s.SSHAllowedCIDRs = []string{"office"} }, schema.KeySSHAllowedCIDRs, "not a CIDR"},
		{"ssh cidr host", func(s *Settings) { s.SSHAllowedCIDRs = []string{"198.51.100.7"} }, "", ""},
		{"ssh port negative", func(s *Settings) { s.SSHPort = -1 }, schema.KeySSHPort, "1-65535"},
		{"ssh port too high", func(s *Settings) { s.SSHPort = 65536 }, schema.KeySSHPort, "1-65535"},
		{"ssh port https", func(s *Settings) { s.SSHPort = schema.PortHTTPS }, schema.KeySSHPort, "https"},
		{"ssh port nats", func(s *Settings) { s.SSHPort = schema.PortNATS }, schema.KeySSHPort, "nats"},
		{"ssh port custom", func(s *Settings) { s.SSHPort = 2222 }, "", ""},
		{"ssh port in rtp range", func(s *Settings) { s.SSHPort = 20050 }, schema.KeyJanusRTPPorts, "SSH port"},
		{"rtp reversed", func(s *Settings) { s.JanusRTPPorts = schema.PortRange{First: 20100, Last: 20000} }, schema.KeyJanusRTPPorts, "reversed"},
		{"rtp low", func(s *Settings) { s.JanusRTPPorts = schema.PortRange{First: 1000, Last: 1100} }, schema.KeyJanusRTPPorts, "1024-65535"},
		{"rtp high", func(s *Settings) { s.JanusRTPPorts = schema.PortRange{First: 65000, Last: 65536} }, schema.KeyJanusRTPPorts, "1024-65535"},
		{"rtp has turn", func(s *Settings) { s.JanusRTPPorts = schema.PortRange{First: 3000, Last: 4000} }, schema.KeyJanusRTPPorts, "3478"},
		{"rtp has janus ws", func(s *Settings) { s.JanusRTPPorts = schema.PortRange{First: 8100, Last: 8200} }, schema.KeyJanusRTPPorts, "8188"},
		{"relay has turns", func(s *Settings) { s.TURNRelayPorts = schema.PortRange{First: 5000, Last: 6000} }, schema.KeyTURNRelayPorts, "5349"},
		{"relay has the 443 front's https", func(s *Settings) { s.TURNRelayPorts = schema.PortRange{First: 8400, Last: 8500} }, schema.KeyTURNRelayPorts, "8443"},
		{"turn domain custom", func(s *Settings) { s.TURNDomain = "relay.example.net" }, "", ""},
		{"turn domain is the domain", func(s *Settings) { s.TURNDomain = s.Domain }, schema.KeyTURNDomain, "the domain itself"},
		{"turn domain upper case", func(s *Settings) { s.TURNDomain = "TURN.example.com" }, schema.KeyTURNDomain, "only a-z"},
		{"turn domain shell", func(s *Settings) { s.TURNDomain = "turn.example.com;reboot" }, schema.KeyTURNDomain, "only a-z"},
		{"turn domain nginx", func(s *Settings) { s.TURNDomain = "turn.example.com 127.0.0.1:22" }, schema.KeyTURNDomain, "only a-z"},
		{"turn default too long", func(s *Settings) {
			s.Domain = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".io"
		}, schema.KeyTURNDomain, "set turnDomain"},
		{"turn 443 off ignores the default name", func(s *Settings) {
			s.Domain = strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 57) + ".io"
			s.TURNOn443 = false
		}, "", ""},
		{"relay has signaling", func(s *Settings) { s.TURNRelayPorts = schema.PortRange{First: 8080, Last: 8080} }, schema.KeyTURNRelayPorts, "8080"},
		{"ranges overlap", func(s *Settings) { s.TURNRelayPorts = schema.PortRange{First: 20100, Last: 20200} }, schema.KeyTURNRelayPorts, "overlaps"},
		{"ranges custom", func(s *Settings) {
			s.JanusRTPPorts, s.TURNRelayPorts = schema.PortRange{First: 20000, Last: 40000}, schema.PortRange{First: 40001, Last: 40100}
		}, "", ""},
		{"image unknown", func(s *Settings) { s.Images = map[string]string{"redis": "redis:7"} }, schema.KeyImages, "not a service"},
		{"image latest", func(s *Settings) { s.Images = map[string]string{"nats": "nats:latest"} }, schema.KeyImages, "not pinned"},
		{"image untagged", func(s *Settings) { s.Images = map[string]string{"nats": "registry:5000/nats"} }, schema.KeyImages, "no tag"},
		{"image bad digest", func(s *Settings) { s.Images = map[string]string{"nats": "nats@sha256:abc"} }, schema.KeyImages, "digest"},
		{"image space", func(s *Settings) { s.Images = map[string]string{"nats": "nats:2 ; rm"} }, schema.KeyImages, "contains"},
		{"image ok", func(s *Settings) { s.Images = map[string]string{"nats": "registry.example.com:5000/nats:2.11.9"} }, "", ""},
		{"image digest ok", func(s *Settings) {
			s.Images = map[string]string{"coturn": "coturn/coturn@sha256:" + strings.Repeat("a", 64)}
		}, "", ""},
		{"state device relative", func(s *Settings) { s.StateDevice = "sdb" }, schema.KeyStateDevice, "device path"},
		{"state device shell", func(s *Settings) { s.StateDevice = "/dev/sdb;reboot" }, schema.KeyStateDevice, "U+003B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := referenceSettings()
			tt.mutate(&s)
			err := s.validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error for %s", tt.wantKey)
			}
			if got := schema.KeyOf(err); got != tt.wantKey {
				t.Errorf("schema.KeyOf(%v) = %q, want %q", err, got, tt.wantKey)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
		})
	}
}

func TestSecretsValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Secrets)
		wantKey string
		wantMsg string
	}{
		{"fake", func(*Secrets) {}, "", ""},
		{"hash key 64", func(s *Secrets) { s.SessionHashKey = strings.Repeat("h", 64) }, "", ""},
		{"block key 24", func(s *Secrets) { s.SessionBlockKey = strings.Repeat("b", 24) }, "", ""},
		{"block key 32", func(s *Secrets) { s.SessionBlockKey = strings.Repeat("b", 32) }, "", ""},
		{"signaling empty", func(s *Secrets) { s.SignalingSecret = "" }, "signalingSecret", "empty"},
		{"turn empty", func(s *Secrets) { s.TURNSecret = "" }, "turnSecret", "empty"},
		{"internal empty", func(s *Secrets) { s.InternalClientSecret = "" }, "internalClientSecret", "empty"},
		{"janus key empty", func(s *Secrets) { s.JanusAPIKey = "" }, "janusApiKey", "empty"},
		{"turn short", func(s *Secrets) { s.TURNSecret = "short" }, "turnSecret", "at least 16"},
		{"hash key 31", func(s *Secrets) { s.SessionHashKey = strings.Repeat("h", 31) }, "sessionHashKey", "32 or 64"},
		{"hash key 48", func(s *Secrets) { s.SessionHashKey = strings.Repeat("h", 48) }, "sessionHashKey", "32 or 64"},
		{"block key 20", func(s *Secrets) { s.SessionBlockKey = strings.Repeat("b", 20) }, "sessionBlockKey", "16, 24 or 32"},
		{"block key empty", func(s *Secrets) { s.SessionBlockKey = "" }, "sessionBlockKey", "empty"},
		{"comment char", func(s *Secrets) { s.SignalingSecret = "abcdefgh#ijklmnopq" }, "signalingSecret", "outside"},
		{"space", func(s *Secrets) { s.TURNSecret = "abcdefgh ijklmnopq" }, "turnSecret", "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sec := fakeSecrets()
			tt.mutate(&sec)
			err := sec.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if got := schema.KeyOf(err); got != tt.wantKey {
				t.Fatalf("schema.KeyOf(%v) = %q, want %q", err, got, tt.wantKey)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not mention %q", err, tt.wantMsg)
			}
			for _, ns := range sec.List() {
				if len(ns.Value) >= 5 && strings.Contains(err.Error(), ns.Value) {
					t.Errorf("error %q leaks the value of %s", err, ns.Name)
				}
			}
		})
	}
}

func TestParseSSHCIDRs(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, "0.0.0.0/0 ::/0"},
		{[]string{"2001:db8::1/32", "203.0.113.9/24", "203.0.113.0/24"}, "203.0.113.0/24 2001:db8::/32"},
		{[]string{"198.51.100.7", "::1"}, "198.51.100.7/32 ::1/128"},
		{[]string{"::ffff:192.0.2.0/120"}, "192.0.2.0/24"},
	}
	for _, tt := range tests {
		got, err := parseSSHCIDRs(tt.in)
		if err != nil {
			t.Fatalf("ParseSSHCIDRs(%q): %v", tt.in, err)
		}
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if strings.Join(s, " ") != tt.want {
			t.Errorf("ParseSSHCIDRs(%q) = %q, want %q", tt.in, s, tt.want)
		}
	}
	if _, err := parseSSHCIDRs([]string{"10.0.0.0/8", "fe80::1%eth0/64"}); schema.KeyOf(err) != schema.KeySSHAllowedCIDRs || !strings.Contains(err.Error(), "entry 1") {
		t.Errorf("zone prefix: got %v, want an error about entry 1 of %s", err, schema.KeySSHAllowedCIDRs)
	}
}
