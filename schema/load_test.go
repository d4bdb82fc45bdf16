package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// mapSource is a Source over a map; structured marks values that are
// lists or maps, encrypted the keys held encrypted.
type mapSource struct {
	values     map[string]string
	structured map[string]bool
	encrypted  map[string]bool
	listable   bool
}

func (m mapSource) Lookup(key string) (Value, bool, error) {
	v, ok := m.values[key]
	return Value{Text: v, Structured: m.structured[key], Encrypted: m.encrypted[key]}, ok, nil
}

func (m mapSource) Names() []string {
	if !m.listable {
		return nil
	}
	var names []string
	for k := range m.values {
		names = append(names, k)
	}
	return names
}

// secretText stands for a string type such as the stack's config.Secret.
type secretText string

// fieldTypes are the Go types the kinds load into.
var fieldTypes = map[Kind]reflect.Type{
	KindString: reflect.TypeFor[string](), KindSecret: reflect.TypeFor[secretText](), KindBool: reflect.TypeFor[bool](),
	KindInt: reflect.TypeFor[int](), KindList: reflect.TypeFor[[]string](), KindMap: reflect.TypeFor[map[string]string](),
	KindPortRange: reflect.TypeFor[PortRange](),
}

// target is a struct with a field for every key of Keys, tagged the way
// Settings and the stack's Config tag theirs: the stack-only keys at the
// top, the others in an untagged inner struct (Load walks into it). It is
// derived from Keys, so a new key needs nothing here.
type target struct{ v reflect.Value }

func newTarget() target {
	var inner, outer []reflect.StructField
	for i, k := range Keys {
		f := reflect.StructField{Name: fmt.Sprintf("K%d", i), Type: fieldTypes[k.Kind], Tag: reflect.StructTag(`nctalk:"` + k.Name + `"`)}
		if k.Scope == StackOnly {
			outer = append(outer, f)
		} else {
			inner = append(inner, f)
		}
	}
	outer = append(outer, reflect.StructField{Name: "Inner", Type: reflect.StructOf(inner)})
	return target{reflect.New(reflect.StructOf(outer))}
}

// ptr is what Load takes.
func (t target) ptr() any { return t.v.Interface() }

// get returns the value Load stored for key.
func (t target) get(key string) any {
	fields := map[string]reflect.Value{}
	bindFields(t.v.Elem(), fields)
	f, ok := fields[key]
	if !ok {
		panic("target has no field for " + key)
	}
	return f.Interface()
}

func TestLoadAppliesTheSchemaDefaults(t *testing.T) {
	got := newTarget()
	if err := Load(mapSource{}, StackReader, got.ptr()); err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string]any{
		KeySSHPort: 22, KeyJanusRTPPorts: PortRange{First: 20000, Last: 20100}, KeyTURNRelayPorts: PortRange{First: 49160, Last: 49200},
		KeySSHAllowedCIDRs: []string{"0.0.0.0/0", "::/0"}, KeySSHPublicKeys: []string{}, KeyImages: map[string]string{},
		KeyTURNOn443: true, KeyKeepOnTeardown: true, KeyLocation: "fsn1", KeyServerType: "cx23", KeyImage: "debian-13", KeyVolumeSize: 10,
		KeyACMEStaging: false, KeyDomain: "", KeySignalingSecret: secretText(""),
	}
	for key, w := range want {
		if g := got.get(key); !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %#v; want %#v", key, g, w)
		}
	}
}

// TestLoadReadsEveryKey sets every key a reader reads to its Sample (as
// Pulumi holds it) and finds the value, not the default, in the key's
// field.
func TestLoadReadsEveryKey(t *testing.T) {
	for _, reader := range []Scope{StackReader, RenderReader} {
		src := mapSource{values: map[string]string{}, encrypted: map[string]bool{}}
		for _, k := range Keys {
			if k.Scope != shared && k.Scope != reader {
				continue
			}
			src.values[k.Name] = k.Sample
			src.encrypted[k.Name] = k.Kind == KindSecret && reader == StackReader
		}
		got := newTarget()
		if err := Load(src, reader, got.ptr()); err != nil {
			t.Fatalf("Load: %v", err)
		}
		for name := range src.values {
			k, _ := Lookup(name)
			if g := textOf(t, got.get(name)); g != k.Sample {
				t.Errorf("%s: %q loads as %q", name, k.Sample, g)
			}
			if def := textOf(t, defaultValue(k.Default).Text); textOf(t, got.get(name)) == def {
				t.Errorf("%s: the Sample %q is the default", name, k.Sample)
			}
		}
	}
}

// textOf writes a loaded value back as Pulumi config text.
func textOf(t *testing.T, v any) string {
	t.Helper()
	switch v := v.(type) {
	case []string, map[string]string:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}

func TestLoadErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name   string
		reader Scope
		src    mapSource
		key    string
		want   string
	}{
		{"bool", StackReader, mapSource{values: map[string]string{"acmeStaging": "yes please"}}, "acmeStaging", "not true or false"},
		{"int", StackReader, mapSource{values: map[string]string{"sshPort": "22x"}}, "sshPort", "not a whole number"},
		{"int out of range", RenderReader, mapSource{values: map[string]string{"sshPort": "0"}}, "sshPort", "0 is out of range; want 1-65535"},
		{"port range", StackReader, mapSource{values: map[string]string{"turnRelayPorts": "high"}}, "turnRelayPorts", "first-last"},
		{"list", StackReader, mapSource{values: map[string]string{"nextcloudUrls": "https://a.example.org"}}, "nextcloudUrls", "pulumi config set --path 'nextcloudUrls[0]'"},
		{"map", StackReader, mapSource{values: map[string]string{"images": `["nats"]`}}, "images", "not a map of strings"},
		{"list for a string", RenderReader, mapSource{values: map[string]string{"domain": `["a.example.org"]`}, structured: map[string]bool{"domain": true}}, "domain", "want a string"},
		{"plain secret in the stack", StackReader, mapSource{values: map[string]string{"turnSecret": "plainTurnSecretValue"}}, "turnSecret", "pulumi config set --secret turnSecret"},
		{"encrypted secret for render", RenderReader, mapSource{values: map[string]string{"turnSecret": ""}, encrypted: map[string]bool{"turnSecret": true}}, "turnSecret", "--secrets file"},
		{"unknown key", RenderReader, mapSource{values: map[string]string{"domian": "x"}, listable: true}, "domian", "known keys: domain,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Load(tt.src, tt.reader, newTarget().ptr())
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v; want a %s error saying %q", err, tt.key, tt.want)
			}
			if strings.Contains(err.Error(), "plainTurnSecretValue") {
				t.Errorf("the error shows the secret's value: %v", err)
			}
		})
	}
}

func TestLoadReadsOnlyItsScope(t *testing.T) {
	src := mapSource{values: map[string]string{"location": "hel1", "stateDevice": "/dev/vdb"}, listable: true}
	stack, render := newTarget(), newTarget()
	if err := Load(src, StackReader, stack.ptr()); err != nil {
		t.Fatal(err)
	}
	if err := Load(src, RenderReader, render.ptr()); err != nil {
		t.Fatal(err)
	}
	if stack.get(KeyLocation) != "hel1" || stack.get(KeyStateDevice) != "" {
		t.Errorf("the stack read location %q, stateDevice %q; want hel1 and nothing", stack.get(KeyLocation), stack.get(KeyStateDevice))
	}
	if render.get(KeyLocation) != "" || render.get(KeyStateDevice) != "/dev/vdb" {
		t.Errorf("render read location %q, stateDevice %q; want nothing and /dev/vdb", render.get(KeyLocation), render.get(KeyStateDevice))
	}
}

func TestLoadPanicsOnAnUnboundKey(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `nctalk:"domain"`) {
			t.Errorf("recover() = %v; want a panic naming the unbound key domain", r)
		}
	}()
	var partial struct {
		Location string `nctalk:"location"`
	}
	_ = Load(mapSource{}, StackReader, &partial)
}

// TestKeysAreWellFormed: names unique, required keys without default,
// optional keys with one that loads, grammars named after their key.
func TestKeysAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Keys {
		if seen[k.Name] {
			t.Errorf("%s is declared twice", k.Name)
		}
		seen[k.Name] = true
		if k.Required == (k.Default != nil) {
			t.Errorf("%s: required=%v default=%#v; a key has a default exactly when it is optional", k.Name, k.Required, k.Default)
		}
		if k.Doc == "" {
			t.Errorf("%s has no doc line", k.Name)
		}
		if k.Grammar != nil && k.Grammar.Key != k.Name {
			t.Errorf("%s's grammar is named %s", k.Name, k.Grammar.Key)
		}
		if (k.Kind == KindList || k.Kind == KindMap) && !strings.Contains(k.Example, k.Name) {
			t.Errorf("%s: a list or map key needs an Example that shows how to set it", k.Name)
		}
		switch hasText := k.Kind == KindString || k.Kind == KindList || k.Kind == KindMap || k.Kind == KindSecret; {
		case hasText && k.Grammar == nil:
			t.Errorf("%s holds text but has no grammar", k.Name)
		case !hasText && k.Grammar != nil:
			t.Errorf("%s is typed (%d) and parses strictly; its grammar would never be checked", k.Name, k.Kind)
		}
		if k.Sample == "" {
			t.Errorf("%s has no Sample (a valid value other than the default, which the tests set)", k.Name)
		}
	}
	for _, s := range Secrets {
		if err := s.Check(strings.Repeat("a", s.Length)); err != nil {
			t.Errorf("a generated %s of %d characters would be refused: %v", s.Name, s.Length, err)
		}
		if k, ok := Lookup(s.Name); s.Configurable != ok || ok && k.Kind != KindSecret {
			t.Errorf("secret %s: configurable=%v, but config key found=%v", s.Name, s.Configurable, ok)
		}
	}
	if !reflect.DeepEqual(KeysFor(StackReader)[:3], []string{KeyDomain, KeyNextcloudURLs, KeyACMEEmail}) {
		t.Errorf("KeysFor(StackReader) starts %v", KeysFor(StackReader)[:3])
	}
}

// TestCheckGrammarsChecksEveryKey: for every key with a grammar, a field
// holding a character outside it, or one byte too many, or one entry too
// many, is refused naming the key; the key's Sample passes.
func TestCheckGrammarsChecksEveryKey(t *testing.T) {
	for _, k := range Keys {
		if k.Grammar == nil {
			continue
		}
		g := *k.Grammar
		bad := []string{strings.Repeat("a", g.MaxBytes+1)}
		for _, r := range "$\x00\n '`;" {
			if !g.Allows(r) {
				bad = append(bad, "a"+string(r)+"b")
				break
			}
		}
		for _, v := range bad {
			tg := newTarget()
			set(t, tg, k, v, 1)
			err := CheckGrammars(tg.ptr())
			if KeyOf(err) != k.Name || !strings.Contains(err.Error(), g.Chars) && !strings.Contains(err.Error(), "the limit is") {
				t.Errorf("%s = %q: CheckGrammars = %v; want the grammar's refusal naming %s", k.Name, v, err, k.Name)
			}
		}
		if g.MaxEntries > 0 {
			tg := newTarget()
			set(t, tg, k, "a", g.MaxEntries+1)
			if err := CheckGrammars(tg.ptr()); KeyOf(err) != k.Name || !strings.Contains(err.Error(), "entries; the limit is") {
				t.Errorf("%s with %d entries: CheckGrammars = %v", k.Name, g.MaxEntries+1, err)
			}
		}
		tg := newTarget()
		if err := Load(mapSource{values: map[string]string{k.Name: k.Sample}, encrypted: map[string]bool{k.Name: k.Kind == KindSecret}}, readerOf(k), tg.ptr()); err != nil {
			t.Fatal(err)
		}
		if err := CheckGrammars(tg.ptr()); err != nil {
			t.Errorf("%s's Sample %q breaks its grammar: %v", k.Name, k.Sample, err)
		}
	}
}

// readerOf is a reader that reads k.
func readerOf(k Key) Scope {
	if k.Scope == RenderOnly {
		return RenderReader
	}
	return StackReader
}

// set puts n entries of v (one value for a scalar) into k's field.
func set(t *testing.T, tg target, k Key, v string, n int) {
	t.Helper()
	fields := map[string]reflect.Value{}
	bindFields(tg.v.Elem(), fields)
	f := fields[k.Name]
	switch f.Kind() {
	case reflect.String:
		f.SetString(v)
	case reflect.Slice:
		list := make([]string, n)
		for i := range list {
			list[i] = v
		}
		f.Set(reflect.ValueOf(list))
	case reflect.Map:
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprint("k", i)] = v
		}
		f.Set(reflect.ValueOf(m))
	default:
		t.Fatalf("%s: a grammar on a %s field", k.Name, f.Type())
	}
}
