package cloudconfig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/pem"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nctalk/nctalk/schema"
)

// bundleOf renders the bundle of settings and secrets.
func bundleOf(t *testing.T, s Settings, sec Secrets) Bundle {
	t.Helper()
	p, err := NewPlan(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Bundle(sec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChangesActOnlyOnTheirUnits is the table of what each kind of change
// does on the running box, as an admin of this stack expects it: a new
// Nextcloud only reloads signaling, a new image recreates only that
// service, a rotated secret restarts only its readers, a wider range
// reloads the host firewall and restarts only its daemon, and a value no
// daemon reads restarts nothing. The expectations are written out, not
// computed.
func TestChangesActOnlyOnTheirUnits(t *testing.T) {
	const all = "coturn, janus, nats, nginx, signaling untouched"
	tests := []struct {
		name   string
		change func(*Settings, *Secrets)
		want   string
	}{
		{"nothing", func(*Settings, *Secrets) {}, "nothing on the box changes"},
		{"a Nextcloud URL added", func(s *Settings, _ *Secrets) {
			s.NextcloudURLs = append(s.NextcloudURLs, "https://cloud3.example.com")
		}, "signaling reloaded; coturn, janus, nats, nginx untouched"},
		{"the signaling secret rotated", func(_ *Settings, sec *Secrets) {
			sec.SignalingSecret = fakeSecret("rotatedSignaling", 64)
		}, "signaling reloaded; coturn, janus, nats, nginx untouched"},
		{"the TURN secret rotated", func(_ *Settings, sec *Secrets) {
			sec.TURNSecret = fakeSecret("rotatedTurn", 64)
		}, "coturn restarted, signaling restarted; janus, nats, nginx untouched"},
		{"the session keys rotated", func(_ *Settings, sec *Secrets) {
			sec.SessionHashKey = fakeSecret("rotatedHash", 64)
		}, "signaling restarted; coturn, janus, nats, nginx untouched"},
		{"the signaling image bumped", func(s *Settings, _ *Secrets) {
			s.Images = map[string]string{ServiceSignaling: "strukturag/nextcloud-spreed-signaling:2.1.2"}
		}, "signaling recreated; coturn, janus, nats, nginx untouched"},
		{"the coturn image bumped", func(s *Settings, _ *Secrets) {
			s.Images = map[string]string{ServiceCoturn: "coturn/coturn:4.18.1-r0"}
		}, "coturn recreated; janus, nats, nginx, signaling untouched"},
		{"the nginx image bumped", func(s *Settings, _ *Secrets) {
			s.Images = map[string]string{ServiceNginx: "nginx:1.30.7-alpine"}
		}, "nginx recreated; coturn, janus, nats, signaling untouched"},
		{"an SSH source added", func(s *Settings, _ *Secrets) {
			s.SSHAllowedCIDRs = append(s.SSHAllowedCIDRs, "192.0.2.0/24")
		}, "host-firewall reloaded; " + all},
		{"the relay range widened", func(s *Settings, _ *Secrets) {
			s.TURNRelayPorts = schema.PortRange{First: 49160, Last: 49300}
		}, "host-firewall reloaded, coturn restarted, nginx reloaded; janus, nats, signaling untouched"}, // the 443 front's TURN share follows the range
		{"the RTP range widened", func(s *Settings, _ *Secrets) {
			s.JanusRTPPorts = schema.PortRange{First: 20000, Last: 20200}
		}, "host-firewall reloaded, janus restarted; coturn, nats, nginx, signaling untouched"},
		{"an SSH key added", func(s *Settings, _ *Secrets) {
			s.SSHAuthorizedKeys = append(s.SSHAuthorizedKeys, testSSHKey2)
		}, "files updated; " + all},
		{"another ACME contact", func(s *Settings, _ *Secrets) {
			s.ACMEEmail = "ops@example.com"
		}, "files updated; " + all},
		{"another TURN name", func(s *Settings, _ *Secrets) {
			s.TURNDomain = "relay.example.com"
		}, "files updated, signaling restarted, nginx reloaded, certificate renewed; coturn, janus, nats untouched"}, // [turn] servers names it
		{"another CA", func(s *Settings, _ *Secrets) {
			s.ACMEStaging = true
		}, "files updated, certificate renewed; " + all},
		{"a registry mirror", func(s *Settings, _ *Secrets) {
			s.RegistryMirror = "https://mirror.example.com"
		}, "dockerd restarted; " + all},
	}
	base := bundleOf(t, referenceSettings(), fakeSecrets())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sec := referenceSettings(), fakeSecrets()
			tt.change(&s, &sec)
			got := DescribeChanges(base.Units, bundleOf(t, s, sec).Units)
			if got != tt.want {
				t.Errorf("the box does: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

// TestDigestsAreNotSecrets: no digest holds a secret, and each is a
// truncated SHA-256 (16 hex digits).
func TestDigestsAreNotSecrets(t *testing.T) {
	b := bundleOf(t, referenceSettings(), fakeSecrets())
	text := string(b.Units.text())
	for _, ns := range fakeSecrets().List() {
		if strings.Contains(text, ns.Value) || strings.Contains(text, ns.Value[:8]) {
			t.Errorf("the digests show (part of) %s", ns.Name)
		}
	}
	n := 0
	for _, byAction := range b.Units {
		for _, d := range byAction {
			n++
			if len(d) != 16 || strings.Trim(d, "0123456789abcdef") != "" {
				t.Errorf("digest %q is not 16 hex digits", d)
			}
		}
	}
	if n < len(Units) {
		t.Errorf("%d digests for %d units", n, len(Units))
	}
}

// TestBundleRoundTrip: a bundle decodes to what was encoded, and the same
// bundle always encodes to the same text (so an unchanged bundle is no
// change of the apply's input).
func TestBundleRoundTrip(t *testing.T) {
	b := bundleOf(t, referenceSettings(), fakeSecrets())
	enc, err := b.Encode()
	if err != nil {
		t.Fatal(err)
	}
	again, err := bundleOf(t, referenceSettings(), fakeSecrets()).Encode()
	if err != nil || again != enc {
		t.Fatalf("encoding twice gave different text (%v)", err)
	}
	got, err := DecodeBundle(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Units, b.Units) || !reflect.DeepEqual(got.Owners, b.Owners) || len(got.Files) != len(b.Files) {
		t.Fatalf("decoded bundle differs: %d files, owners %v", len(got.Files), got.Owners)
	}
	for i, f := range b.Files {
		if g := got.Files[i]; g.Path != f.Path || g.Perms != f.Perms || string(g.Content) != string(f.Content) {
			t.Errorf("file %s differs after the round trip", f.Path)
		}
	}
	if b.Owners[SignalingConfig] != SignalingUID || b.Owners[CoturnConfig] != CoturnUID || len(b.Owners) != 2 {
		t.Errorf("owners = %v; want the signaling config %d's, coturn's %d's", b.Owners, SignalingUID, CoturnUID)
	}
	if _, err := DecodeBundle(enc[:len(enc)/2]); err == nil {
		t.Error("a cut bundle decodes")
	}
}

// testAccess is a stack access of deterministic test keys.
func testAccess(t testing.TB) Access {
	t.Helper()
	key := func(seed string) (ed25519.PrivateKey, ssh.PublicKey) {
		s := sha256.Sum256([]byte(seed))
		k := ed25519.NewKeyFromSeed(s[:])
		pub, err := ssh.NewPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return k, pub
	}
	host, hostPub := key("host")
	_, deployPub := key("deploy")
	block, err := ssh.MarshalPrivateKey(host, "")
	if err != nil {
		t.Fatal(err)
	}
	return Access{
		HostKey:         string(pem.EncodeToMemory(block)),
		HostPublicKey:   string(ssh.MarshalAuthorizedKey(hostPub)),
		DeployPublicKey: string(ssh.MarshalAuthorizedKey(deployPub)),
	}
}

// TestDeployKeyRunsOnlyTheApply: the deploy key's line in the box's
// authorized keys forces ApplyCommand (as sshd reads the line: options
// parsed by x/crypto/ssh, which follows sshd's authorized_keys format) and
// restricts everything else.
func TestDeployKeyRunsOnlyTheApply(t *testing.T) {
	p, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	if p, err = p.WithAccess(testAccess(t)); err != nil {
		t.Fatal(err)
	}
	files, err := p.Files(fakeSecrets())
	if err != nil {
		t.Fatal(err)
	}
	var keys string
	for _, f := range files {
		if f.Path == AuthorizedKeys {
			keys = string(f.Content)
		}
	}
	found := false
	for rest := []byte(keys); len(strings.TrimSpace(string(rest))) > 0; {
		pub, comment, opts, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			t.Fatalf("authorized keys do not parse: %v\n%s", err, keys)
		}
		rest = next
		if comment != deployKeyComment {
			if len(opts) != 0 {
				t.Errorf("an admin key has options %q", opts)
			}
			continue
		}
		found = true
		if want := strings.TrimSpace(testAccess(t).DeployPublicKey); strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) != want {
			t.Errorf("deploy key %s; want %s", ssh.MarshalAuthorizedKey(pub), want)
		}
		if len(opts) != 2 || opts[0] != "restrict" || !strings.HasPrefix(opts[1], `command="`) {
			t.Fatalf("deploy key options %q; want restrict and a forced command", opts)
		}
		cmd := strings.TrimSuffix(strings.TrimPrefix(opts[1], `command="`), `"`)
		cmd = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(cmd)
		if cmd != ApplyCommand {
			t.Errorf("forced command %q; want ApplyCommand %q", cmd, ApplyCommand)
		}
	}
	if !found {
		t.Fatalf("no deploy key in the authorized keys:\n%s", keys)
	}
}

// TestAccessRefusesWrongKeys: an access whose host key does not match its
// public half, or keys that are not ed25519, are refused.
func TestAccessRefusesWrongKeys(t *testing.T) {
	good := testAccess(t)
	other := testAccess(t)
	other.HostPublicKey = other.DeployPublicKey
	p, err := NewPlan(referenceSettings())
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]Access{
		"mismatched host key": other,
		"two lines":           {HostKey: good.HostKey, HostPublicKey: good.HostPublicKey, DeployPublicKey: strings.TrimSpace(good.DeployPublicKey) + "\n" + testSSHKey2},
		"rsa-style garbage":   {HostKey: good.HostKey, HostPublicKey: good.HostPublicKey, DeployPublicKey: "ssh-rsa AAAA"},
	} {
		if _, err := p.WithAccess(a); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := p.WithAccess(good); err != nil {
		t.Errorf("a good access: %v", err)
	}
}
