package cloudconfig

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestREADMEValueGrammarIsGrammars keeps README's "Value grammar" table
// equal to Grammars: the same keys in the same order, characters, byte and
// entry limits.
func TestREADMEValueGrammarIsGrammars(t *testing.T) {
	body := readmeSection(t, "## Configuration reference")
	_, table, ok := strings.Cut(body, "\n### Value grammar\n")
	if !ok {
		t.Fatal("docs/configuration.md's Configuration reference has no \"### Value grammar\" subsection")
	}
	var rows [][]string
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		line = strings.ReplaceAll(line, `\|`, "\x00")
		var cells []string
		for _, c := range strings.Split(strings.Trim(line, "|"), "|") {
			cells = append(cells, strings.ReplaceAll(strings.TrimSpace(c), "\x00", "|"))
		}
		rows = append(rows, cells)
	}
	if len(rows) != len(Grammars) {
		t.Fatalf("docs/configuration.md's grammar table has %d rows, Grammars %d", len(rows), len(Grammars))
	}
	for i, g := range Grammars {
		entries := "—"
		if g.MaxEntries > 0 {
			entries = strconv.Itoa(g.MaxEntries)
		}
		want := []string{"`" + g.Key + "`", g.Chars, strconv.Itoa(g.MaxBytes), entries}
		if len(rows[i]) < len(want) {
			t.Errorf("docs/configuration.md grammar row %d = %q, want it to start with %q", i+1, rows[i], want)
			continue
		}
		for j, w := range want {
			if rows[i][j] != w {
				t.Errorf("docs/configuration.md grammar row %d column %d = %q, want %q", i+1, j+1, rows[i][j], w)
			}
		}
	}
}

// settingsFieldKeys maps each string-valued field of Settings (string,
// []string, map[string]string) to its config key.
var settingsFieldKeys = map[string]string{
	"Domain": KeyDomain, "NextcloudURLs": KeyNextcloudURLs, "ACMEEmail": KeyACMEEmail,
	"SSHAuthorizedKeys": KeySSHPublicKeys, "SSHAllowedCIDRs": KeySSHAllowedCIDRs,
	"Images": KeyImages, "StateDevice": KeyStateDevice, "TURNDomain": KeyTURNDomain,
	"ACMEServer": KeyACMEServer, "RegistryMirror": KeyRegistryMirror,
}

// TestGrammarsCoverEveryStringKey: every string-valued field of Settings
// (found by reflection, so a new one cannot be missed) and each shared
// secret has a grammar, and the property test feeds it hostile values.
func TestGrammarsCoverEveryStringKey(t *testing.T) {
	st := reflect.TypeOf(Settings{})
	for i := 0; i < st.NumField(); i++ {
		f := st.Field(i)
		k := f.Type.Kind()
		isString := k == reflect.String ||
			k == reflect.Slice && f.Type.Elem().Kind() == reflect.String ||
			k == reflect.Map && f.Type.Elem().Kind() == reflect.String
		if !isString {
			continue
		}
		key, ok := settingsFieldKeys[f.Name]
		if !ok {
			t.Errorf("Settings.%s holds strings but has no entry in settingsFieldKeys: give its key a row in Grammars (and the Value grammar table in docs/configuration.md) and an entry in stringKeys", f.Name)
			continue
		}
		if _, ok := GrammarOf(key); !ok {
			t.Errorf("%s (Settings.%s) has no grammar", key, f.Name)
		}
	}
	keys := []string{KeySignalingSecret, KeyTURNSecret}
	for _, key := range settingsFieldKeys {
		keys = append(keys, key)
	}
	for _, key := range keys {
		if _, ok := GrammarOf(key); !ok {
			t.Errorf("%s has no grammar", key)
		}
		if !slices.ContainsFunc(stringKeys, func(k stringKey) bool { return k.key == key }) {
			t.Errorf("%s is missing from the property test's stringKeys", key)
		}
	}
}

// TestGrammarRejections: values that the structural checks alone let
// through, or that are too long or too many, are refused naming the key.
func TestGrammarRejections(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, key string
		mutate    func(*Settings)
		sec       func(*Secrets)
		want      string
	}{
		{"key comment U+2028", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\u2028bootcmd: x"} }, nil, "U+2028"},
		{"key comment U+2029", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\u2029x"} }, nil, "U+2029"},
		{"key comment NEL", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\u0085x"} }, nil, "U+0085"},
		{"key comment BOM", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\ufeff"} }, nil, "U+FEFF"},
		{"key comment NUL", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + "\x00"} }, nil, "U+0000"},
		{"key comment ESC", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + " \x1b[2J"} }, nil, "U+001B"},
		{"key comment bidi override", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + " \u202e"} }, nil, "U+202E"},
		{"key too long", KeySSHPublicKeys, func(s *Settings) { s.SSHAuthorizedKeys = []string{testSSHKey + " " + long(16*1024)} }, nil, "limit is 16384"},
		{"33 keys", KeySSHPublicKeys, func(s *Settings) {
			for len(s.SSHAuthorizedKeys) < 33 {
				s.SSHAuthorizedKeys = append(s.SSHAuthorizedKeys, testSSHKey)
			}
		}, nil, "limit is 32"},
		{"e-mail invalid UTF-8", KeyACMEEmail, func(s *Settings) { s.ACMEEmail = "a\xff@example.com" }, nil, "acmeEmail"},
		{"device paren", KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/sd(b)" }, nil, "U+0028"},
		{"device redirect", KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/sdb>/etc/x" }, nil, "U+003E"},
		{"device dotdot", KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/../etc/shadow" }, nil, "device path"},
		{"device too long", KeyStateDevice, func(s *Settings) { s.StateDevice = "/dev/" + long(251) }, nil, "limit is 255"},
		{"URL too long", KeyNextcloudURLs, func(s *Settings) { s.NextcloudURLs = []string{"https://cloud.example.com/" + long(2048)} }, nil, "limit is 2048"},
		{"URL backslash", KeyNextcloudURLs, func(s *Settings) { s.NextcloudURLs = []string{`https://cloud.example.com/a\b`} }, nil, "U+005C"},
		{"65 URLs", KeyNextcloudURLs, func(s *Settings) {
			for i := len(s.NextcloudURLs); i < 65; i++ {
				s.NextcloudURLs = append(s.NextcloudURLs, "https://c"+strconv.Itoa(i)+".example.com")
			}
		}, nil, "limit is 64"},
		{"101 CIDRs", KeySSHAllowedCIDRs, func(s *Settings) {
			for i := 0; i < 101; i++ {
				s.SSHAllowedCIDRs = append(s.SSHAllowedCIDRs, "10.0.0."+strconv.Itoa(i))
			}
		}, nil, "limit is 100"},
		{"image leading dash", KeyImages, func(s *Settings) { s.Images = map[string]string{ServiceNATS: "-nats:2.11.9"} }, nil, "letter or digit"},
		{"secret too long", KeySignalingSecret, nil, func(s *Secrets) { s.SignalingSecret = long(257) }, "limit is 256"},
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
			if KeyOf(err) != tt.key {
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
