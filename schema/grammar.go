package schema

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Grammar is the written grammar of one string config key: which
// characters its values may hold and how long a value and the key's list
// may be. CheckGrammars checks it for every key, after the key's own
// structural check (host name, URL, e-mail address, OpenSSH key, CIDR,
// image reference, device path), whose errors say best what would be
// valid; no value outside it reaches a template. docs/configuration.md's "Value grammar" table is checked
// against the keys' grammars by a test.
type Grammar struct {
	// Key is the config key (or secret name).
	Key string
	// Chars says in words which characters a value may hold.
	Chars string
	// MaxBytes caps each value (each entry of a list or map), in bytes.
	MaxBytes int
	// MaxEntries caps the number of entries of a list or map key; 0 for a
	// single value.
	MaxEntries int
	// Secret keeps values and their characters out of error messages.
	Secret bool
	// allowed reports whether a value may hold r.
	allowed func(r rune) bool
}

// asciiIn returns a predicate that admits ASCII letters, digits and the
// given punctuation.
func asciiIn(extra string) func(rune) bool {
	return func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r < utf8.RuneSelf && strings.ContainsRune(extra, r)
	}
}

// printableUnicode admits printable characters (unicode.IsPrint) and
// nothing else: no control characters (NUL, CR, LF, NEL U+0085, ESC …), no
// line or paragraph separator (U+2028, U+2029), no format character
// (U+FEFF, bidi overrides) and no space other than ASCII space.
func printableUnicode(r rune) bool { return unicode.IsPrint(r) }

// secretChars is the alphabet of every secret.
const secretChars = "-_.~+/="

// MaxSecretLength is the longest secret Validate accepts.
const MaxSecretLength = 256

// GrammarOf returns the grammar of a key or secret: a config key's own,
// and for a secret that is no config key (sessionHashKey …) the shared
// secrets' grammar under its name. ok is false for typed keys (numbers,
// booleans, port ranges) and unknown names.
func GrammarOf(name string) (Grammar, bool) {
	if k, ok := Lookup(name); ok && k.Grammar != nil {
		return *k.Grammar, true
	}
	if _, ok := SecretByName(name); ok {
		g := secretGrammar
		g.Key = name
		return g, true
	}
	return Grammar{}, false
}

// MustGrammar is GrammarOf for names the caller knows to have a grammar.
func MustGrammar(name string) Grammar {
	g, ok := GrammarOf(name)
	if !ok {
		panic("schema: no grammar for " + name)
	}
	return g
}

// Check returns a *KeyError when value breaks the grammar. entry is
// the value's index in its list, or -1 for a single value.
func (g Grammar) Check(entry int, value string) error {
	what := "value"
	if entry >= 0 {
		what = fmt.Sprintf("entry %d", entry)
	}
	quoted := fmt.Sprintf(" %q", value)
	if g.Secret || len(value) > 80 {
		quoted = ""
	}
	if !utf8.ValidString(value) {
		return Errorf(g.Key, "%s%s is not valid UTF-8", what, quoted)
	}
	if len(value) > g.MaxBytes {
		return Errorf(g.Key, "%s is %d bytes long; the limit is %d", what, len(value), g.MaxBytes)
	}
	for i, r := range value {
		if !g.allowed(r) {
			if g.Secret {
				return Errorf(g.Key, "%s contains a character outside %s", what, g.Chars)
			}
			return Errorf(g.Key, "%s%s contains %U at byte %d; allowed: %s", what, quoted, r, i, g.Chars)
		}
	}
	return nil
}

// CheckList checks the number of entries and every entry.
func (g Grammar) CheckList(values []string) error {
	if g.MaxEntries > 0 && len(values) > g.MaxEntries {
		return Errorf(g.Key, "has %d entries; the limit is %d", len(values), g.MaxEntries)
	}
	for i, v := range values {
		if err := g.Check(i, v); err != nil {
			return err
		}
	}
	return nil
}

// Allows reports whether a value may hold r.
func (g Grammar) Allows(r rune) bool { return g.allowed(r) }

// CheckGrammars checks every field of v (a pointer to a struct tagged as
// for Load) against its key's grammar, in one loop over Keys: a string
// (or string type, such as a secret) as one value, a list entry by entry,
// a map value by value with the number of entries. It returns every
// violation, joined, each a *KeyError naming its key; keys without a
// grammar (booleans, numbers, port ranges) and keys v has no field for
// are not its business.
func CheckGrammars(v any) error {
	fields := map[string]reflect.Value{}
	bindFields(reflect.ValueOf(v).Elem(), fields)
	var errs []error
	for _, k := range Keys {
		field, ok := fields[k.Name]
		if !ok || k.Grammar == nil {
			continue
		}
		if err := k.Grammar.checkValue(field); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkValue checks one field's value, as CheckGrammars says.
func (g Grammar) checkValue(field reflect.Value) error {
	switch field.Kind() {
	case reflect.String:
		return g.Check(-1, field.String())
	case reflect.Slice:
		list := make([]string, field.Len())
		for i := range list {
			list[i] = field.Index(i).String()
		}
		return g.CheckList(list)
	case reflect.Map:
		if g.MaxEntries > 0 && field.Len() > g.MaxEntries {
			return Errorf(g.Key, "has %d entries; the limit is %d", field.Len(), g.MaxEntries)
		}
		keys := field.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, mk := range keys {
			if err := g.Check(-1, field.MapIndex(mk).String()); err != nil {
				return err
			}
		}
		return nil
	}
	panic(fmt.Sprintf("schema: key %s has a grammar but its field is a %s", g.Key, field.Type()))
}
