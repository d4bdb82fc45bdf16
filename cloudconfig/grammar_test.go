package cloudconfig

import (
	"crypto/ed25519"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
	"golang.org/x/crypto/ssh"
)

// TestGrammarsCoverEveryStringKey: every string-valued field of Settings
// and Secrets (found by reflection, so a new one cannot be missed) is tagged
// with a config key that has a grammar, or is a secret of schema.Secrets;
// the property test derives its keys from the same schema (stringKeys).
func TestGrammarsCoverEveryStringKey(t *testing.T) {
	under := map[string]bool{}
	for _, k := range stringKeys(t) {
		under[k.key] = true
	}
	for _, st := range []reflect.Type{reflect.TypeFor[Settings](), reflect.TypeFor[Secrets]()} {
		for i := 0; i < st.NumField(); i++ {
			f := st.Field(i)
			k := f.Type.Kind()
			isString := k == reflect.String ||
				k == reflect.Slice && f.Type.Elem().Kind() == reflect.String ||
				k == reflect.Map && f.Type.Elem().Kind() == reflect.String
			if !isString {
				continue
			}
			name := f.Tag.Get("nctalk")
			if name == "" { // the generated secrets are named by schema.Secrets
				name = generatedSecretName(t, f.Name)
			}
			if _, ok := schema.GrammarOf(name); !ok {
				t.Errorf("%s.%s (%s) has no grammar: give its key one in schema.Keys", st.Name(), f.Name, name)
			}
			if !under[name] {
				t.Errorf("%s.%s (%s) is not under the property test", st.Name(), f.Name, name)
			}
		}
	}
}

// generatedSecretName maps a Secrets field without a config key to its
// name in schema.Secrets.
func generatedSecretName(t *testing.T, field string) string {
	var sec Secrets
	for _, ns := range sec.List() {
		probe := sec
		probe.Set(ns.Name, "x")
		if reflect.ValueOf(probe).FieldByName(field).String() == "x" {
			return ns.Name
		}
	}
	t.Fatalf("Secrets.%s is not in Secrets.List", field)
	return ""
}

// TestGrammarRejections: values that the structural checks alone let
// through, or that are too long or too many, are refused naming the key.
func TestGrammarRejections(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	keys33 := distinctKeys(t, 33)
	tests := []struct {
		name, key string
		mutate    func(*Settings)
		sec       func(*Secrets)
		want      string
	}{
		{"key comment U+2028", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\u2028bootcmd: x"} }, nil, "U+2028"},
		{"key comment U+2029", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\u2029x"} }, nil, "U+2029"},
		{"key comment NEL", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\u0085x"} }, nil, "U+0085"},
		{"key comment BOM", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\ufeff"} }, nil, "U+FEFF"},
		{"key comment NUL", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\x00"} }, nil, "U+0000"},
		{"key comment ESC", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + " \x1b[2J"} }, nil, "U+001B"},
		{"key comment bidi override", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + " \u202e"} }, nil, "U+202E"},
		{"key too long", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + " " + long(16*1024)} }, nil, "limit is 16384"},
		{"33 keys", schema.KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = keys33 }, nil, "limit is 32"},
		{"e-mail invalid UTF-8", schema.KeyACMEEmail, func(s *Settings) { s.ACMEEmail = "a\xff@example.com" }, nil, "acmeEmail"},
		{"device paren", schema.KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/sd(b)" }, nil, "U+0028"},
		{"device redirect", schema.KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/sdb>/etc/x" }, nil, "U+003E"},
		{"device dotdot", schema.KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/../etc/shadow" }, nil, "device path"},
		{"device too long", schema.KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/" + long(251) }, nil, "limit is 255"},
		{"URL too long", schema.KeyNextcloudURLs, func(s *Settings) { s.NextcloudURLs = []string{"https://cloud.example.com/" + long(2048)} }, nil, "limit is 2048"},
		{"URL backslash", schema.KeyNextcloudURLs, func(s *Settings) { s.NextcloudURLs = []string{`https://cloud.example.com/a\b`} }, nil, "U+005C"},
		// goconf, signaling's INI reader, expands %(name)s in a value; a
		// URL cannot hold one (% must start an escape).
		{"URL interpolation", schema.KeyNextcloudURLs, func(s *Settings) { s.NextcloudURLs = []string{"https://cloud.example.com/%(url)s"} }, nil, "is not an absolute URL"},
		{"65 URLs", schema.KeyNextcloudURLs, func(s *Settings) {
			for i := len(s.NextcloudURLs); i < 65; i++ {
				s.NextcloudURLs = append(s.NextcloudURLs, "https://c"+strconv.Itoa(i)+".example.com")
			}
		}, nil, "limit is 64"},
		{"101 CIDRs", schema.KeySSHAllowedCIDRs, func(s *Settings) {
			for i := 0; i < 101; i++ {
				s.SSHAllowedCIDRs = append(s.SSHAllowedCIDRs, "10.0.0."+strconv.Itoa(i))
			}
		}, nil, "limit is 100"},
		{"image leading dash", schema.KeyImages, func(s *Settings) { s.Images = map[string]string{ServiceNATS: "-nats:2.11.9"} }, nil, "letter or digit"},
		{"secret too long", schema.KeySignalingSecret, nil, func(s *Secrets) { s.SignalingSecret = long(257) }, "limit is 256"},
		{"secret with a quote", "janusApiKey", nil, func(s *Secrets) { s.JanusAPIKey = long(20) + "'" }, "outside"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sec := referenceSettings(), fakeSecrets()
			if tt.mutate != nil {
				tt.mutate(&s)
			}
			if tt.sec != nil {
				tt.sec(&sec)
			}
			_, err := Render(s, sec)
			if schema.KeyOf(err) != tt.key {
				t.Fatalf("err = %v, want a %s error", err, tt.key)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
			for _, ns := range sec.List() {
				if strings.Contains(err.Error(), ns.Value) {
					t.Errorf("the error shows the value of %s", ns.Name)
				}
			}
		})
	}
}

// distinctKeys returns n different ed25519 public keys as authorized_keys
// lines.
func distinctKeys(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		pub, _, err := ed25519.GenerateKey(nil)
		if err != nil {
			t.Fatal(err)
		}
		k, err := ssh.NewPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))))
	}
	return out
}
