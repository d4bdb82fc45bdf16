package cloudconfig

import (
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
)

// stringKey is one string key under test: how to set it, a benign value,
// and where the rendered files carry it verbatim.
type stringKey struct {
	key    string
	benign string
	set    func(s *Settings, sec *Secrets, v string)
	// embedded returns the file and the bytes that file must contain when v
	// is accepted ("" for values that are normalised, e.g. CIDRs).
	embedded func(v string) (path, want string)
}

var stringKeys = []stringKey{
	{schema.KeyDomain, "talk.example.com", func(s *Settings, _ *Secrets, v string) { s.Domain = v },
		func(v string) (string, string) { return SetupScript, "domain=" + ShellQuote(v) + "\n" }},
	{schema.KeyTURNDomain, "turn.talk.example.com", func(s *Settings, _ *Secrets, v string) { s.TURNDomain = v },
		func(v string) (string, string) {
			return SetupScript, "names=(" + ShellQuote("talk.example.com") + " " + ShellQuote(v) + ")\n"
		}},
	{schema.KeyNextcloudURLs, "https://cloud.example.com", func(s *Settings, _ *Secrets, v string) { s.NextcloudURLs = []string{v} },
		func(v string) (string, string) { return SignalingConfig, strings.TrimSuffix(v, "/") }},
	{schema.KeyACMEEmail, "admin@example.com", func(s *Settings, _ *Secrets, v string) { s.ACMEEmail = v },
		func(v string) (string, string) { return SetupScript, " -m " + ShellQuote(v) + " " }},
	{schema.KeySSHPublicKeys, testSSHKey, func(s *Settings, _ *Secrets, v string) { s.SSHAuthorizedKeys = []string{v} },
		func(v string) (string, string) { return AuthorizedKeys, "\n" + v + "\n" }},
	{schema.KeySSHAllowedCIDRs, "203.0.113.0/24", func(s *Settings, _ *Secrets, v string) { s.SSHAllowedCIDRs = []string{v} },
		func(string) (string, string) { return "", "" }},
	{schema.KeyImages, DefaultImages[ServiceNATS], func(s *Settings, _ *Secrets, v string) { s.Images = map[string]string{ServiceNATS: v} },
		func(v string) (string, string) { return ComposeFile, "image: " + v + "\n" }},
	{schema.KeyStateDevice, "/dev/disk/by-id/scsi-0HC_Volume_123456", func(s *Settings, _ *Secrets, v string) { s.StateDevice = v },
		func(v string) (string, string) { return SetupScript, "dev=" + ShellQuote(v) + "\n" }},
	{schema.KeyACMEServer, "https://acme.example.com/directory", func(s *Settings, _ *Secrets, v string) { s.ACMEServer = v },
		func(v string) (string, string) { return SetupScript, "acme=" + ShellQuote(v) + "\n" }},
	{schema.KeyRegistryMirror, "https://mirror.example.com", func(s *Settings, _ *Secrets, v string) { s.RegistryMirror = v },
		func(v string) (string, string) {
			return DockerDaemonConfig, `"registry-mirrors": [` + "\n    " + strconv.Quote(v)
		}},
	{schema.KeySignalingSecret, fakeSecrets().SignalingSecret, func(_ *Settings, sec *Secrets, v string) { sec.SignalingSecret = v },
		func(v string) (string, string) { return SignalingConfig, v }},
	{schema.KeyTURNSecret, fakeSecrets().TURNSecret, func(_ *Settings, sec *Secrets, v string) { sec.TURNSecret = v },
		func(v string) (string, string) { return CoturnConfig, v }},
	{"janusApiKey", fakeSecrets().JanusAPIKey, func(_ *Settings, sec *Secrets, v string) { sec.JanusAPIKey = v },
		func(v string) (string, string) { return SignalingConfig, v }},
	{"internalClientSecret", fakeSecrets().InternalClientSecret, func(_ *Settings, sec *Secrets, v string) { sec.InternalClientSecret = v },
		func(v string) (string, string) { return SignalingConfig, v }},
	{"sessionHashKey", fakeSecrets().SessionHashKey, func(_ *Settings, sec *Secrets, v string) { sec.SessionHashKey = v },
		func(v string) (string, string) { return SignalingConfig, v }},
	{"sessionBlockKey", fakeSecrets().SessionBlockKey, func(_ *Settings, sec *Secrets, v string) { sec.SessionBlockKey = v },
		func(v string) (string, string) { return SignalingConfig, v }},
}

// hostilePieces are inserted into benign values: YAML 1.1 line breaks, BOM,
// NUL and other control characters, bidi overrides, shell metacharacters,
// YAML indicators and plain non-ASCII text.
var hostilePieces = []string{
	"\u0085", "\u2028", "\u2029", "\ufeff", "\x00", "\x01", "\x07", "\x08", "\t", "\n", "\r", "\v", "\f",
	"\x1b[2J", "\x7f", "\u202e", "\u00a0", "\u3000", "é", "日本", "\U0001F600",
	"&", ";", "|", "<", ">", "(", ")", "$", "$(id)", "`id`", "\\", "'", "'\\''", `"`, "*", "?", "[", "]",
	"{", "}", "{a,b}", "~", "#", "!", " ", "&&id&&", ">x", "\nbootcmd: [id]\n", "\u2028bootcmd: [id]",
	": ", "- ", "---", "...", "%", "@", "|", ">-", "!!binary ", "&anchor ", "*alias",
}

// grammarPieces are the characters a key's grammar admits besides letters
// and digits: values made with them pass validation, so they test the
// quoting and the encoding rather than the grammar.
func grammarPieces(key string) []string {
	g, ok := schema.GrammarOf(key)
	if !ok {
		g = schema.MustGrammar(schema.KeySignalingSecret)
	}
	var out []string
	for c := rune(0x20); c < 0x7f; c++ {
		if g.Allows(c) && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			out = append(out, string(c))
		}
	}
	if g.Allows('é') {
		out = append(out, "é", "日本", "😀", " ")
	}
	return out
}

// mutate inserts one to three pieces into v: from pieces when given, else
// hostile pieces or random runes.
func mutate(r *rand.Rand, v string, pieces []string) string {
	for n := 1 + r.Intn(3); n > 0; n-- {
		var piece string
		if len(pieces) > 0 {
			piece = pieces[r.Intn(len(pieces))]
		} else if r.Intn(4) == 0 {
			c := rune(r.Intn(0x10FFFF + 1))
			if !utf8.ValidRune(c) {
				c = 0xFFFD
			}
			piece = string(c)
		} else {
			piece = hostilePieces[r.Intn(len(hostilePieces))]
		}
		// Positions on rune boundaries; the end of the value often (an SSH
		// key's comment, an e-mail's local part before '@' …).
		var cuts []int
		for i := range v {
			cuts = append(cuts, i)
		}
		cuts = append(cuts, len(v))
		at := cuts[r.Intn(len(cuts))]
		if r.Intn(3) == 0 {
			at = len(v)
		}
		v = v[:at] + piece + v[at:]
	}
	return v
}

// shellScripts are the rendered files that run as root.
var shellScripts = []string{SetupScript, CertDeployHook, ReadyScript}

// TestEveryStringKeyRejectsOrNeutralisesHostileValues is the property
// test of issue 12: random hostile values for every string key are either
// rejected naming the key, or the document, read by PyYAML, has the same
// top-level keys and write_files paths, every file (and so the value where
// it is embedded) arrives byte for byte, and no shell script changes by
// more than the quoted value itself (bash -n accepts it too).
func TestEveryStringKeyRejectsOrNeutralisesHostileValues(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	perKey := 100
	if testing.Short() {
		perKey = 30
	}
	r := rand.New(rand.NewSource(12))
	type accepted struct {
		key, value string
		doc        []byte
		files      []File
	}
	var docs []accepted
	for _, k := range stringKeys {
		s, sec := referenceSettings(), fakeSecrets()
		k.set(&s, &sec, k.benign)
		benignFiles, err := renderFilesOf(s, sec)
		if err != nil {
			t.Fatalf("%s: the benign value is refused: %v", k.key, err)
		}
		benign := map[string]string{}
		for _, f := range benignFiles {
			benign[f.Path] = string(f.Content)
		}
		benignNormal := map[string]string{}
		for _, p := range shellScripts {
			benignNormal[p] = bashNormal(t, bash, benign[p])
		}
		rejected := 0
		admitted := grammarPieces(k.key)
		for i := 0; i < perKey; i++ {
			// Half the values are made of what the grammar admits.
			var v string
			if i%2 == 0 {
				v = mutate(r, k.benign, nil)
			} else {
				v = mutate(r, k.benign, admitted)
			}
			s, sec := referenceSettings(), fakeSecrets()
			k.set(&s, &sec, v)
			doc, err := Render(s, sec)
			if err != nil {
				if schema.KeyOf(err) != k.key {
					t.Errorf("%s = %q: err = %v, want a %s error", k.key, v, err, k.key)
				}
				rejected++
				continue
			}
			files, err := renderFilesOf(s, sec)
			if err != nil {
				t.Fatalf("RenderFiles after Render succeeded: %v", err)
			}
			for _, f := range files {
				if !slices.Contains(shellScripts, f.Path) {
					continue
				}
				// bash parses the script (without running it) and prints it
				// back word by word; swapping the quoted hostile value for the
				// quoted benign one must give the benign script's parse.
				if string(f.Content) == benign[f.Path] {
					continue
				}
				got := strings.ReplaceAll(bashNormal(t, bash, string(f.Content)), ShellQuote(v), ShellQuote(k.benign))
				if k.key == schema.KeyDomain { // the default TURN name (turnOn443) is derived from it
					got = strings.ReplaceAll(got, ShellQuote(DefaultTURNPrefix+v), ShellQuote(DefaultTURNPrefix+k.benign))
				}
				if got != benignNormal[f.Path] {
					t.Errorf("%s = %q changes the words of %s beyond the quoted value", k.key, v, f.Path)
				}
			}
			docs = append(docs, accepted{k.key, v, doc, files})
		}
		t.Logf("%s: %d of %d hostile values rejected, %d rendered", k.key, rejected, perKey, perKey-rejected)
	}
	raw := make([][]byte, len(docs))
	for i, d := range docs {
		raw[i] = d.doc
	}
	for i, py := range pyyamlLoad(t, raw...) {
		d := docs[i]
		if py.Error != "" {
			t.Errorf("%s = %q: PyYAML cannot read the document: %s", d.key, d.value, py.Error)
			continue
		}
		if !slices.Equal(py.Keys, topLevelKeys) {
			t.Errorf("%s = %q: PyYAML sees top-level keys %q", d.key, d.value, py.Keys)
		}
		if len(py.Files) != len(d.files) {
			t.Errorf("%s = %q: PyYAML sees %d files, want %d", d.key, d.value, len(py.Files), len(d.files))
			continue
		}
		for j, f := range d.files {
			if py.Files[j].Path != f.Path || py.Files[j].Content != string(f.Content) {
				t.Errorf("%s = %q: write_files[%d] (%s) does not round-trip through PyYAML", d.key, d.value, j, f.Path)
			}
		}
		for _, k := range stringKeys {
			if k.key != d.key {
				continue
			}
			path, want := k.embedded(d.value)
			if path == "" {
				continue
			}
			found := false
			for _, f := range d.files {
				if f.Path == path {
					found = strings.Contains(string(f.Content), want)
				}
			}
			if !found {
				t.Errorf("%s = %q: %s does not carry %q verbatim", d.key, d.value, path, want)
			}
		}
	}
}

// bashNormal is bash's own reading of a script: the script becomes the
// body of a function that is defined, not run, and `declare -f` prints it
// back one command per line with every word as bash split it. A syntax
// error fails the test.
func bashNormal(t *testing.T, bash, script string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "script")
	if err := os.WriteFile(p, []byte("nctalk_script() {\n"+script+"\n}\ndeclare -f nctalk_script\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bash, "--norc", "--noprofile", p).Output()
	if err != nil {
		t.Fatalf("bash cannot parse the script: %v\n%s", err, script)
	}
	return string(out)
}
