package cloudconfig

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Grammar is the written grammar of one string config key: which
// characters its values may hold and how long a value and the key's list
// may be. Validate checks it before the key's own structural check (host
// name, URL, e-mail address, OpenSSH key, CIDR, image reference, device
// path), so no value outside it reaches a template. docs/configuration.md's "Value
// grammar" table is checked against Grammars by a test.
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

// Grammars holds the grammar of every string key, once. Port ranges, the
// SSH port and acmeStaging are typed (numbers, first-last, true/false) and
// parsed before validation.
var Grammars = []Grammar{
	{Key: KeyDomain, Chars: "a-z 0-9 - .", MaxBytes: 253,
		allowed: func(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' }},
	{Key: KeyTURNDomain, Chars: "a-z 0-9 - .", MaxBytes: 253,
		allowed: func(r rune) bool { return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' }},
	{Key: KeyNextcloudURLs, Chars: "A-Z a-z 0-9 and -._~:/?@!$&()*+=%[]", MaxBytes: 2048, MaxEntries: 64,
		allowed: asciiIn("-._~:/?@!$&()*+=%[]")},
	{Key: KeyACMEEmail, Chars: "A-Z a-z 0-9 and .@!#%&*+/=?^_{|}~-", MaxBytes: 254,
		allowed: asciiIn(".@!#%&*+/=?^_{|}~-")},
	{Key: KeySSHPublicKeys, Chars: "printable Unicode and space (no control, format or line-separator characters)", MaxBytes: 16 * 1024, MaxEntries: 32,
		allowed: printableUnicode},
	{Key: KeySSHAllowedCIDRs, Chars: "0-9 a-f A-F . : /", MaxBytes: 43, MaxEntries: 100,
		allowed: func(r rune) bool {
			return r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '.' || r == ':' || r == '/'
		}},
	{Key: KeyACMEServer, Chars: "A-Z a-z 0-9 and .-_~/:[]", MaxBytes: 200,
		allowed: asciiIn(".-_~/:[]")},
	{Key: KeyRegistryMirror, Chars: "A-Z a-z 0-9 and .-_~/:[]", MaxBytes: 200,
		allowed: asciiIn(".-_~/:[]")},
	{Key: KeyImages, Chars: "A-Z a-z 0-9 and ._-/:@, starting with a letter or digit", MaxBytes: 512, MaxEntries: len(DefaultImages),
		allowed: asciiIn("._-/:@")},
	{Key: KeyStateDevice, Chars: "/dev/ then A-Z a-z 0-9 and ._-:+@/", MaxBytes: 255,
		allowed: asciiIn("._-:+@/")},
	{Key: KeySignalingSecret, Chars: "A-Z a-z 0-9 and " + secretChars, MaxBytes: MaxSecretLength, Secret: true,
		allowed: asciiIn(secretChars)},
	{Key: KeyTURNSecret, Chars: "A-Z a-z 0-9 and " + secretChars, MaxBytes: MaxSecretLength, Secret: true,
		allowed: asciiIn(secretChars)},
}

// GrammarOf returns the grammar of a key; ok is false for keys without one.
func GrammarOf(key string) (Grammar, bool) {
	for _, g := range Grammars {
		if g.Key == key {
			return g, true
		}
	}
	return Grammar{}, false
}

// mustGrammar is GrammarOf for the keys this package validates.
func mustGrammar(key string) Grammar {
	g, ok := GrammarOf(key)
	if !ok {
		panic("cloudconfig: no grammar for " + key)
	}
	return g
}

// Check returns a *ConfigError when value breaks the grammar. entry is
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
		return configErr(g.Key, "%s%s is not valid UTF-8", what, quoted)
	}
	if len(value) > g.MaxBytes {
		return configErr(g.Key, "%s is %d bytes long; the limit is %d", what, len(value), g.MaxBytes)
	}
	for i, r := range value {
		if !g.allowed(r) {
			if g.Secret {
				return configErr(g.Key, "%s contains a character outside %s", what, g.Chars)
			}
			return configErr(g.Key, "%s%s contains %U at byte %d; allowed: %s", what, quoted, r, i, g.Chars)
		}
	}
	return nil
}

// CheckList checks the number of entries and every entry.
func (g Grammar) CheckList(values []string) error {
	if g.MaxEntries > 0 && len(values) > g.MaxEntries {
		return configErr(g.Key, "has %d entries; the limit is %d", len(values), g.MaxEntries)
	}
	for i, v := range values {
		if err := g.Check(i, v); err != nil {
			return err
		}
	}
	return nil
}
