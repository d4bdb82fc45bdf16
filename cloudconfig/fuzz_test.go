package cloudconfig

import (
	"slices"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/schema"
	"gopkg.in/yaml.v3"
)

// FuzzStringKey feeds any string to any string key (go test -fuzz
// FuzzStringKey ./cloudconfig). Each value is refused naming the key, or
// the document keeps its top-level keys and files (read by yaml.v3 here;
// the property test reads with PyYAML), every file round-trips byte for
// byte, and the shell scripts differ from the benign rendering only by the
// quoted value. The first argument picks the key by its index in
// stringKeys; every seed names its key (keyIndex), so a key added to the
// schema shifts no seed onto another key.
func FuzzStringKey(f *testing.F) {
	keys := stringKeys(f)
	for _, k := range keys {
		f.Add(keyIndex(f, keys, k.key), k.benign)
	}
	f.Add(keyIndex(f, keys, schema.KeySSHPublicKeys), testSSHKey+"\u2028bootcmd: [touch /pwned]")
	f.Add(keyIndex(f, keys, schema.KeyACMEEmail), "a&id&b@example.com")
	f.Add(keyIndex(f, keys, schema.KeyStateDevice), "/dev/sdb>/etc/x")
	f.Add(keyIndex(f, keys, schema.KeyStateDevice), "/dev/sd(b)")
	benign := map[string]map[string]string{}
	for _, k := range keys {
		s, sec := referenceSettings(), fakeSecrets()
		k.set(&s, &sec, k.benign)
		files, err := renderFilesOf(s, sec)
		if err != nil {
			f.Fatal(err)
		}
		benign[k.key] = map[string]string{}
		for _, fl := range files {
			benign[k.key][fl.Path] = string(fl.Content)
		}
	}
	f.Fuzz(func(t *testing.T, idx uint8, v string) {
		k := keys[int(idx)%len(keys)]
		s, sec := referenceSettings(), fakeSecrets()
		k.set(&s, &sec, v)
		doc, err := Render(s, sec)
		if err != nil {
			if schema.KeyOf(err) != k.key {
				t.Fatalf("%s = %q: err = %v, want a %s error", k.key, v, err, k.key)
			}
			return
		}
		var d struct {
			WriteFiles []struct{ Path, Content string } `yaml:"write_files"`
		}
		var top map[string]any
		if err := yaml.Unmarshal(doc, &top); err != nil {
			t.Fatalf("%s = %q: the document is not YAML: %v", k.key, v, err)
		}
		keys := make([]string, 0, len(top))
		for key := range top {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, topLevelKeys) {
			t.Fatalf("%s = %q: top-level keys %q", k.key, v, keys)
		}
		if err := yaml.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		files, err := renderFilesOf(s, sec)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.WriteFiles) != len(files) {
			t.Fatalf("%s = %q: %d files, want %d", k.key, v, len(d.WriteFiles), len(files))
		}
		for i, fl := range files {
			if d.WriteFiles[i].Path != fl.Path || d.WriteFiles[i].Content != string(fl.Content) {
				t.Fatalf("%s = %q: %s does not round-trip", k.key, v, fl.Path)
			}
			if slices.Contains(shellScripts, fl.Path) {
				got := strings.ReplaceAll(string(fl.Content), ShellQuote(v), ShellQuote(k.benign))
				if got != benign[k.key][fl.Path] {
					t.Fatalf("%s = %q changes %s beyond the quoted value", k.key, v, fl.Path)
				}
			}
		}
	})
}

// keyIndex is the fuzz argument that picks the key named name.
func keyIndex(f *testing.F, keys []stringKey, name string) uint8 {
	f.Helper()
	i := slices.IndexFunc(keys, func(k stringKey) bool { return k.key == name })
	if i < 0 {
		f.Fatalf("no string key %s", name)
	}
	return uint8(i)
}
