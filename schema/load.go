package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Value is one config value as a source holds it.
type Value struct {
	// Text is a scalar's text, or a list's or map's JSON.
	Text string
	// Structured is true when the source holds a list or a map. A source
	// that cannot tell (Pulumi config gives every value as text) leaves it
	// false.
	Structured bool
	// Encrypted is true when the source keeps the value encrypted (a Pulumi
	// secret).
	Encrypted bool
}

// Source is where Load reads config values: the stack's Pulumi config, or
// the YAML file of `nctalk render`.
type Source interface {
	// Lookup returns the value of key (without namespace); ok is false when
	// the key is not set.
	Lookup(key string) (v Value, ok bool, err error)
	// Names lists every key the source holds, without namespace, so Load
	// can refuse unknown ones; nil when the source cannot list its keys.
	Names() []string
}

// Values are config values already read from where they are kept (the
// stack's Pulumi config), by key: Load reads them without calling back into
// the reader. A key not in it is not set. Names is nil: like a Pulumi
// program, Values cannot tell which other keys the stack holds.
type Values map[string]Value

// Lookup returns the value of key.
func (v Values) Lookup(key string) (Value, bool, error) {
	x, ok := v[key]
	return x, ok, nil
}

// Names returns nil: the keys a source holds beyond these are unknown.
func (Values) Names() []string { return nil }

// Readers: the scope Load reads for.
const (
	// StackReader reads for the Pulumi stack: secrets must be stored
	// encrypted, render-only keys are not read.
	StackReader = StackOnly
	// RenderReader reads for `nctalk render`: secrets come in plain text,
	// stack-only keys are accepted and ignored.
	RenderReader = RenderOnly
)

// Load is the one config loader. It reads every key the reader reads
// (Shared and its own scope) from src into dst, a pointer to a struct
// whose fields are tagged `nctalk:"<key>"` (untagged struct fields are
// walked into, `nctalk:"-"` ones skipped), and gives every unset key its
// Default. It checks each value's type; the
// grammar and meaning of values are checked by validation afterwards. All
// problems are returned joined, each a *KeyError naming its key.
func Load(src Source, reader Scope, dst any) error {
	fields := map[string]reflect.Value{}
	bindFields(reflect.ValueOf(dst).Elem(), fields)

	var errs []error
	if names := src.Names(); names != nil {
		if err := unknownKeys(names); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range Keys {
		if k.Scope != shared && k.Scope != reader {
			continue
		}
		field, ok := fields[k.Name]
		if !ok {
			panic(fmt.Sprintf("schema.Load: %T has no field tagged nctalk:%q", dst, k.Name))
		}
		v, set, err := src.Lookup(k.Name)
		if err != nil {
			errs = append(errs, Errorf(k.Name, "cannot be read: %v", err))
			continue
		}
		if !set {
			if k.Default == nil {
				continue
			}
			v = defaultValue(k.Default)
		} else if err := checkStorage(k, v, reader); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := decode(k, v, field); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// bindFields maps each tagged field of v (and of its untagged struct
// fields) to its key.
func bindFields(v reflect.Value, fields map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag, tagged := f.Tag.Lookup("nctalk")
		if tag == "-" {
			continue
		}
		if !tagged {
			if f.Type.Kind() == reflect.Struct {
				bindFields(v.Field(i), fields)
			}
			continue
		}
		fields[tag] = v.Field(i)
	}
}

// unknownKeys refuses keys that are not in Keys.
func unknownKeys(names []string) error {
	var unknown []string
	for _, n := range names {
		if _, ok := Lookup(n); !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	known := make([]string, len(Keys))
	for i, k := range Keys {
		known[i] = k.Name
	}
	return Errorf(unknown[0], "unknown key(s) %s; known keys: %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// checkStorage enforces how a reader's source must hold secrets: the stack
// encrypted, `nctalk render` in plain text (its --secrets file).
func checkStorage(k Key, v Value, reader Scope) error {
	switch {
	case k.Kind != KindSecret:
	case reader == StackReader && v.Text != "" && !v.Encrypted:
		return Errorf(k.Name, "is stored in plain text; set it with `pulumi config set --secret %s <value>`", k.Name)
	case reader == RenderReader && v.Encrypted:
		return Errorf(k.Name, "is encrypted by Pulumi; put the plain value in the --secrets file (or leave it out to generate one)")
	}
	return nil
}

// defaultValue writes a Default as a source would hold it.
func defaultValue(d any) Value {
	switch d := d.(type) {
	case string:
		return Value{Text: d}
	case []any, map[string]any:
		b, _ := json.Marshal(d)
		return Value{Text: string(b), Structured: true}
	}
	return Value{Text: fmt.Sprint(d)}
}

// decode parses v as k's kind into field.
func decode(k Key, v Value, field reflect.Value) error {
	scalar := func(want string) error {
		if v.Structured {
			return Errorf(k.Name, "is a list or map; want %s", want)
		}
		return nil
	}
	switch k.Kind {
	case KindString, KindSecret:
		if err := scalar("a string"); err != nil {
			return err
		}
		field.SetString(v.Text)
	case KindBool:
		b, err := strconv.ParseBool(strings.TrimSpace(v.Text))
		if err != nil || v.Structured {
			return Errorf(k.Name, "%q is not true or false", v.Text)
		}
		field.SetBool(b)
	case KindInt:
		n, err := strconv.Atoi(strings.TrimSpace(v.Text))
		if err != nil || v.Structured {
			return Errorf(k.Name, "%q is not a whole number", v.Text)
		}
		if k.Max != 0 && (n < k.Min || n > k.Max) {
			return Errorf(k.Name, "%d is out of range; want %d-%d", n, k.Min, k.Max)
		}
		field.SetInt(int64(n))
	case KindPortRange:
		r, err := ParsePortRange(v.Text)
		if err != nil || v.Structured {
			return Errorf(k.Name, "%q is not a port range; want first-last such as %s", v.Text, DefaultJanusRTPPorts)
		}
		field.Set(reflect.ValueOf(r))
	case KindList:
		var list []string
		if err := json.Unmarshal([]byte(v.Text), &list); err != nil {
			return Errorf(k.Name, "is not a list of strings; in a YAML file write [first, second], with Pulumi e.g. %s", k.Example)
		}
		field.Set(reflect.ValueOf(list))
	case KindMap:
		var m map[string]string
		if err := json.Unmarshal([]byte(v.Text), &m); err != nil {
			return Errorf(k.Name, "is not a map of strings; in a YAML file write {name: value}, with Pulumi e.g. %s", k.Example)
		}
		field.Set(reflect.ValueOf(m))
	default:
		panic(fmt.Sprintf("schema: key %s has unknown kind %d", k.Name, k.Kind))
	}
	return nil
}
