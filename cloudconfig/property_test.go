package cloudconfig

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
)

// stringKey is one key under the property and fuzz tests: a config key
// with a grammar that the rendering reads, or a secret. The list is derived
// from schema.Keys and schema.Secrets (stringKeys), so a new key is under
// test without a line here.
type stringKey struct {
	key string
	// benign is the key's Sample (a list's first entry, a map's value).
	benign string
	// valid makes values the key's whole check accepts (grammar and
	// structure), drawn from every character its grammar admits.
	valid func(r *rand.Rand) string
	// set puts v into the settings or the secrets.
	set func(s *Settings, sec *Secrets, v string)
	// embedded returns the file that must carry an accepted v and the bytes
	// it must contain; path "" means any rendered file.
	embedded func(v string) (path, want string)
}

// validValues are the generators of the keys whose structure is more than
// their grammar; every other key draws from its grammar alone
// (grammarValue).
var validValues = map[string]func(r *rand.Rand) string{
	schema.KeyDomain: func(r *rand.Rand) string { return genHost(r, false) },
	schema.KeyTURNDomain: func(r *rand.Rand) string {
		for {
			if h := genHost(r, false); h != referenceSettings().Domain {
				return h
			}
		}
	},
	schema.KeyNextcloudURLs: func(r *rand.Rand) string {
		host := genHost(r, true)
		switch r.Intn(6) {
		case 0:
			host = "[2001:db8::" + strconv.FormatInt(int64(r.Intn(0xffff)), 16) + "]"
		case 1:
			return "http://" + pick(r, "localhost", "127.0.0.1", "[::1]") + genPort(r) + genPath(r, "-._~:@!&()*+=", true)
		}
		return "https://" + host + genPort(r) + genPath(r, "-._~:@!&()*+=", true)
	},
	schema.KeyACMEEmail: func(r *rand.Rand) string {
		var atoms []string
		for n := 1 + r.Intn(3); n > 0; n-- {
			atoms = append(atoms, genChars(r, 1+r.Intn(12), "!#%&*+/=?^_{|}~-"))
		}
		local := strings.Join(atoms, ".")
		if local[0] == '-' {
			local = "a" + local
		}
		return local + "@" + genHost(r, true)
	},
	schema.KeySSHPublicKeys: func(r *rand.Rand) string {
		var comment []rune
		for n := r.Intn(24); n > 0; {
			c := rune(0x20 + r.Intn(0x2FFFF-0x20))
			if r.Intn(2) == 0 {
				c = rune(0x20 + r.Intn(0x5f))
			}
			if unicode.IsPrint(c) {
				comment = append(comment, c)
				n--
			}
		}
		return testSSHKey2[:strings.LastIndex(testSSHKey2, " ")] + " " + string(comment)
	},
	schema.KeySSHAllowedCIDRs: func(r *rand.Rand) string {
		var b [16]byte
		r.Read(b[:])
		a := netip.AddrFrom16(b)
		if r.Intn(2) == 0 {
			a = netip.AddrFrom4([4]byte(b[:4]))
		}
		s := a.String()
		if r.Intn(2) == 0 {
			s = strings.ToUpper(s)
		}
		if r.Intn(4) == 0 {
			return s // a bare address: one host
		}
		return s + "/" + strconv.Itoa(r.Intn(a.BitLen()+1))
	},
	schema.KeyImages: func(r *rand.Rand) string {
		name := genChars(r, 1, "") + genChars(r, r.Intn(12), "._-")
		for n := r.Intn(3); n > 0; n-- {
			name += "/" + genChars(r, 1, "") + genChars(r, r.Intn(10), "._-")
		}
		if r.Intn(3) == 0 {
			name = genHost(r, false) + genPort(r) + "/" + name
		}
		if r.Intn(3) == 0 {
			const hex = "0123456789abcdef"
			digest := make([]byte, 64)
			for i := range digest {
				digest[i] = hex[r.Intn(16)]
			}
			return name + "@sha256:" + string(digest)
		}
		tag := genChars(r, 1+r.Intn(20), "._-")
		if tag == "latest" {
			tag = "v1"
		}
		return name + ":" + tag
	},
	schema.KeyStateDevice: func(r *rand.Rand) string {
		var segs []string
		for n := 1 + r.Intn(4); n > 0; n-- {
			seg := genChars(r, r.Intn(20), "._-:+@")
			if seg == "." || seg == ".." {
				seg = "x" + seg
			}
			segs = append(segs, seg)
		}
		if segs[0] == "" {
			segs[0] = "vdb"
		}
		return "/dev/" + strings.Join(segs, "/")
	},
	schema.KeyACMEServer: func(r *rand.Rand) string {
		return "https://" + genURLHost(r) + genPort(r) + genPath(r, "-._~:", false)
	},
	schema.KeyRegistryMirror: func(r *rand.Rand) string {
		return "https://" + genURLHost(r) + genPort(r) + pick(r, "", "/")
	},
}

// embeddedIn says where an accepted value of a key is carried and in what
// form; a key not listed must appear verbatim (or shell-quoted) in some
// rendered file.
var embeddedIn = map[string]func(v string) (string, string){
	schema.KeyDomain: func(v string) (string, string) { return SetupScript, "domain=" + ShellQuote(v) + "\n" },
	schema.KeyTURNDomain: func(v string) (string, string) {
		return SetupScript, "names=(" + ShellQuote(referenceSettings().Domain) + " " + ShellQuote(v) + ")\n"
	},
	schema.KeyNextcloudURLs: func(v string) (string, string) { return SignalingConfig, strings.TrimSuffix(v, "/") + "\n" },
	schema.KeyACMEEmail:     func(v string) (string, string) { return SetupScript, " -m " + ShellQuote(v) + " " },
	schema.KeySSHPublicKeys: func(v string) (string, string) { return AuthorizedKeys, "\n" + v + "\n" },
	schema.KeySSHAllowedCIDRs: func(v string) (string, string) {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a := netip.MustParseAddr(v)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return HostFirewallConfig, " saddr { " + p.Masked().String() + " } tcp dport"
	},
	schema.KeyImages:      func(v string) (string, string) { return ComposeFile, "image: " + v + "\n" },
	schema.KeyStateDevice: func(v string) (string, string) { return SetupScript, "dev=" + ShellQuote(v) + "\n" },
	schema.KeyACMEServer:  func(v string) (string, string) { return SetupScript, "acme=" + ShellQuote(v) + "\n" },
	schema.KeyRegistryMirror: func(v string) (string, string) {
		return dockerDaemonFile, `"registry-mirrors": [` + "\n    " + strconv.Quote(v)
	},
	schema.KeySignalingSecret:         func(v string) (string, string) { return SignalingConfig, "secret = " + v + "\n" },
	schema.KeyTURNSecret:              func(v string) (string, string) { return CoturnConfig, "static-auth-secret=" + v + "\n" },
	schema.SecretJanusAPIKey:          func(v string) (string, string) { return SignalingConfig, "apikey = " + v + "\n" },
	schema.SecretInternalClientSecret: func(v string) (string, string) { return SignalingConfig, "internalsecret = " + v + "\n" },
	schema.SecretSessionHashKey:       func(v string) (string, string) { return SignalingConfig, "hashkey = " + v + "\n" },
	schema.SecretSessionBlockKey:      func(v string) (string, string) { return SignalingConfig, "blockkey = " + v + "\n" },
}

// stringKeys lists, from schema.Keys and schema.Secrets, every key the
// rendering reads that holds text.
func stringKeys(t testing.TB) []stringKey {
	t.Helper()
	var out []stringKey
	for _, k := range schema.Keys {
		if k.Grammar == nil || k.Scope == schema.StackOnly {
			continue
		}
		out = append(out, newStringKey(t, k.Name, k.Kind, k.Sample))
	}
	for _, spec := range schema.Secrets {
		if !spec.Configurable {
			out = append(out, newStringKey(t, spec.Name, schema.KindSecret, fakeSecretsMap()[spec.Name]))
		}
	}
	return out
}

func fakeSecretsMap() map[string]string {
	m := map[string]string{}
	for _, ns := range fakeSecrets().List() {
		m[ns.Name] = ns.Value
	}
	return m
}

func newStringKey(t testing.TB, name string, kind schema.Kind, sample string) stringKey {
	t.Helper()
	k := stringKey{key: name, benign: sample, valid: validValues[name], embedded: embeddedIn[name]}
	mapKey := ""
	switch kind {
	case schema.KindList:
		var list []string
		if err := json.Unmarshal([]byte(sample), &list); err != nil || len(list) == 0 {
			t.Fatalf("%s: Sample %q is not a list with an entry", name, sample)
		}
		k.benign = list[0]
	case schema.KindMap:
		var m map[string]string
		if err := json.Unmarshal([]byte(sample), &m); err != nil || len(m) != 1 {
			t.Fatalf("%s: Sample %q is not a map with one entry", name, sample)
		}
		for mk, v := range m {
			mapKey, k.benign = mk, v
		}
	}
	if spec, ok := schema.SecretByName(name); ok {
		k.set = func(_ *Settings, sec *Secrets, v string) { sec.Set(name, v) }
		if k.valid == nil {
			k.valid = func(r *rand.Rand) string { return genSecret(r, spec) }
		}
	} else {
		field := settingsField(t, name)
		k.set = func(s *Settings, _ *Secrets, v string) {
			f := reflect.ValueOf(s).Elem().FieldByIndex(field.Index)
			switch f.Kind() {
			case reflect.String:
				f.SetString(v)
			case reflect.Slice:
				f.Set(reflect.ValueOf([]string{v}))
			case reflect.Map:
				f.Set(reflect.ValueOf(map[string]string{mapKey: v}))
			}
		}
		if k.valid == nil {
			g := schema.MustGrammar(name)
			k.valid = func(r *rand.Rand) string { return grammarValue(r, g) }
		}
	}
	if k.embedded == nil {
		k.embedded = func(v string) (string, string) { return "", v }
	}
	return k
}

// settingsField is the Settings field tagged with key.
func settingsField(t testing.TB, key string) reflect.StructField {
	t.Helper()
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Settings]()) {
		if f.Tag.Get("nctalk") == key {
			return f
		}
	}
	t.Fatalf("no Settings field is tagged nctalk:%q", key)
	return reflect.StructField{}
}

// pick returns one of the choices.
func pick(r *rand.Rand, choices ...string) string { return choices[r.Intn(len(choices))] }

// genChars returns n characters: letters, digits and the given punctuation.
func genChars(r *rand.Rand, n int, punct string) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	for range n {
		if punct != "" && r.Intn(3) == 0 {
			b.WriteByte(punct[r.Intn(len(punct))])
		} else {
			b.WriteByte(alnum[r.Intn(len(alnum))])
		}
	}
	return b.String()
}

// genHost returns a host name of two to four labels (a-z, 0-9, inner -),
// the last one starting with a letter; upper-case letters too when upper.
func genHost(r *rand.Rand, upper bool) string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789-"
	var labels []string
	for n := 2 + r.Intn(3); n > 0; n-- {
		l := []byte{chars[r.Intn(26)]}
		for m := r.Intn(20); m > 0; m-- {
			l = append(l, chars[r.Intn(len(chars))])
		}
		if r.Intn(10) == 0 {
			for len(l) < 63 {
				l = append(l, chars[r.Intn(36)])
			}
		}
		if l[len(l)-1] == '-' {
			l[len(l)-1] = 'x'
		}
		labels = append(labels, string(l))
	}
	h := strings.Join(labels, ".")
	if upper && r.Intn(2) == 0 {
		h = strings.ToUpper(h)
	}
	return h
}

// genURLHost is a lower-case host name or a bracketed IPv6 address.
func genURLHost(r *rand.Rand) string {
	if r.Intn(4) == 0 {
		return "[2001:db8::" + strconv.FormatInt(int64(r.Intn(0xffff)), 16) + "]"
	}
	return genHost(r, false)
}

// genPort is "" or ":<port>".
func genPort(r *rand.Rand) string {
	if r.Intn(2) == 0 {
		return ""
	}
	return ":" + strconv.Itoa(1+r.Intn(65535))
}

// genPath is "" or a path of segments of letters, digits and punct (with
// %XX escapes when escapes).
func genPath(r *rand.Rand, punct string, escapes bool) string {
	var b strings.Builder
	for n := r.Intn(4); n > 0; n-- {
		b.WriteString("/" + genChars(r, r.Intn(12), punct))
		if escapes && r.Intn(3) == 0 {
			fmt.Fprintf(&b, "%%%02X", r.Intn(256))
		}
	}
	return b.String()
}

// genSecret is a secret of a length spec admits, of every character the
// secrets' grammar admits.
func genSecret(r *rand.Rand, spec schema.SecretSpec) string {
	n := schema.MinSecretLength + r.Intn(schema.MaxSecretLength-schema.MinSecretLength+1)
	if len(spec.Lengths) > 0 {
		n = spec.Lengths[r.Intn(len(spec.Lengths))]
	}
	return genChars(r, n, grammarPunct(schema.MustGrammar(spec.Name)))
}

// grammarValue is a value of 1 to 24 characters (at most the grammar's
// limit) drawn from every ASCII character g admits: the generator of a key
// whose structure is its grammar.
func grammarValue(r *rand.Rand, g schema.Grammar) string {
	var admitted []rune
	for c := rune(0x20); c < 0x7f; c++ {
		if g.Allows(c) {
			admitted = append(admitted, c)
		}
	}
	out := make([]rune, 1+r.Intn(min(24, g.MaxBytes)))
	for i := range out {
		out[i] = admitted[r.Intn(len(admitted))]
	}
	return string(out)
}

// grammarPunct is the ASCII punctuation g admits.
func grammarPunct(g schema.Grammar) string {
	var b strings.Builder
	for c := rune(0x20); c < 0x7f; c++ {
		if g.Allows(c) && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// hostilePieces are inserted into valid values: YAML 1.1 line breaks, BOM,
// NUL and other control characters, bidi overrides, shell metacharacters,
// YAML indicators and plain non-ASCII text.
var hostilePieces = []string{
	"\u0085", "\u2028", "\u2029", "\ufeff", "\x00", "\x01", "\x07", "\x08", "\t", "\n", "\r", "\v", "\f",
	"\x1b[2J", "\x7f", "\u202e", "\u00a0", "\u3000", "é", "日本", "\U0001F600",
	"&", ";", "|", "<", ">", "(", ")", "$", "$(id)", "`id`", "\\", "'", "'\\''", `"`, "*", "?", "[", "]",
	"{", "}", "{a,b}", "~", "#", "!", " ", "&&id&&", ">x", "\nbootcmd: [id]\n", "\u2028bootcmd: [id]",
	": ", "- ", "---", "...", "%", "@", "|", ">-", "!!binary ", "&anchor ", "*alias",
}

// mutate inserts one to three hostile pieces or random runes into v.
func mutate(r *rand.Rand, v string) string {
	for n := 1 + r.Intn(3); n > 0; n-- {
		piece := hostilePieces[r.Intn(len(hostilePieces))]
		if r.Intn(4) == 0 {
			c := rune(r.Intn(0x10FFFF + 1))
			if !utf8.ValidRune(c) {
				c = 0xFFFD
			}
			piece = string(c)
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
var shellScripts = []string{SetupScript, certDeployHook, ReadyScript}

// TestEveryStringKeyRejectsOrNeutralisesHostileValues is the property
// test of issue 12, over every key stringKeys derives: per key, half the
// values are valid ones of every character its grammar admits, each of
// which must render; the other half are valid values with hostile pieces
// inserted, each refused naming the key or rendered. Every rendered
// document, read by PyYAML and cloud-init's loader, has the same top-level
// keys and write_files paths, every file arrives byte for byte (so does the
// value where it is embedded), and no shell script changes by more than
// the quoted value itself (bash parses it to the same words). At least a
// quarter of each key's values must render, or its quoting and encoding
// would go untested.
func TestEveryStringKeyRejectsOrNeutralisesHostileValues(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	perKey := 100
	if testing.Short() {
		perKey = 30
	}
	r := rand.New(rand.NewSource(12))
	type accepted struct {
		k     stringKey
		value string
		doc   []byte
		files []File
	}
	var docs []accepted
	for _, k := range stringKeys(t) {
		s, sec := referenceSettings(), fakeSecrets()
		k.set(&s, &sec, k.benign)
		benignFiles, err := renderFilesOf(s, sec)
		if err != nil {
			t.Fatalf("%s: the benign value (its Sample) is refused: %v", k.key, err)
		}
		benign := map[string]string{}
		for _, f := range benignFiles {
			benign[f.Path] = string(f.Content)
		}
		benignNormal := map[string]string{}
		for _, p := range shellScripts {
			benignNormal[p] = bashNormal(t, bash, benign[p])
		}
		rendered := 0
		for i := 0; i < perKey; i++ {
			v := k.valid(r)
			hostile := i%2 == 0
			if hostile {
				v = mutate(r, v)
			}
			s, sec := referenceSettings(), fakeSecrets()
			k.set(&s, &sec, v)
			doc, err := Render(s, sec)
			if err != nil {
				switch {
				case !hostile:
					t.Errorf("%s = %q, a valid value, is refused: %v", k.key, v, err)
				case schema.KeyOf(err) != k.key:
					t.Errorf("%s = %q: err = %v, want a %s error", k.key, v, err, k.key)
				}
				continue
			}
			rendered++
			files, err := renderFilesOf(s, sec)
			if err != nil {
				t.Fatalf("RenderFiles after Render succeeded: %v", err)
			}
			for _, f := range files {
				if !slices.Contains(shellScripts, f.Path) || string(f.Content) == benign[f.Path] {
					continue
				}
				// bash parses the script (without running it) and prints it
				// back word by word; swapping the quoted value for the quoted
				// benign one must give the benign script's parse.
				got := strings.ReplaceAll(bashNormal(t, bash, string(f.Content)), ShellQuote(v), ShellQuote(k.benign))
				if k.key == schema.KeyDomain { // the default TURN name (turnOn443) is derived from it
					got = strings.ReplaceAll(got, ShellQuote(defaultTURNPrefix+v), ShellQuote(defaultTURNPrefix+k.benign))
				}
				if got != benignNormal[f.Path] {
					t.Errorf("%s = %q changes the words of %s beyond the quoted value", k.key, v, f.Path)
				}
			}
			docs = append(docs, accepted{k, v, doc, files})
		}
		if rendered < perKey/4 {
			t.Errorf("%s: %d of %d values rendered; want at least %d, or the quoting and encoding of this key go untested", k.key, rendered, perKey, perKey/4)
		}
	}
	raw := make([][]byte, len(docs))
	for i, d := range docs {
		raw[i] = d.doc
	}
	for i, py := range pyyamlLoad(t, raw...) {
		d := docs[i]
		if py.Error != "" {
			t.Errorf("%s = %q: PyYAML cannot read the document: %s", d.k.key, d.value, py.Error)
			continue
		}
		if !slices.Equal(py.Keys, topLevelKeys) {
			t.Errorf("%s = %q: PyYAML sees top-level keys %q", d.k.key, d.value, py.Keys)
		}
		if len(py.Files) != len(d.files) {
			t.Errorf("%s = %q: PyYAML sees %d files, want %d", d.k.key, d.value, len(py.Files), len(d.files))
			continue
		}
		for j, f := range d.files {
			if py.Files[j].Path != f.Path || py.Files[j].Content != string(f.Content) {
				t.Errorf("%s = %q: write_files[%d] (%s) does not round-trip through PyYAML", d.k.key, d.value, j, f.Path)
			}
		}
		if path, ok := carries(d.files, d.k, d.value); !ok {
			t.Errorf("%s = %q: %s does not carry it", d.k.key, d.value, path)
		}
	}
}

// carries reports whether the files carry an accepted value of k where
// k.embedded says, and names the file it looked in.
func carries(files []File, k stringKey, v string) (string, bool) {
	path, want := k.embedded(v)
	for _, f := range files {
		switch {
		case path == "" && (strings.Contains(string(f.Content), want) || strings.Contains(string(f.Content), ShellQuote(want))):
			return f.Path, true
		case f.Path == path:
			return path, strings.Contains(string(f.Content), want)
		}
	}
	if path == "" {
		path = "no rendered file"
	}
	return path, false
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
