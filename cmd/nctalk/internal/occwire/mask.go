package occwire

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf16"
)

// mask is what a secret reads as in anything printed.
const mask = "********"

// Masker replaces secrets in text. Every line the occ command prints goes
// through it: plans, commands, errors and occ's own output.
type Masker struct {
	needles []string
}

// NewMasker returns a Masker for the given secrets; blank ones are ignored.
func NewMasker(secrets ...string) *Masker {
	m := &Masker{}
	m.Add(secrets...)
	return m
}

// Add registers more secrets, e.g. the ones read back from Nextcloud. Each
// secret is also masked in the escaped forms it takes inside JSON (PHP's
// json_encode writes "/" as "\/" and non-ASCII as \uXXXX).
func (m *Masker) Add(secrets ...string) {
	for _, s := range secrets {
		if strings.TrimSpace(s) == "" {
			continue
		}
		for _, form := range []string{s, goJSON(s), phpJSON(s)} {
			if !slices.Contains(m.needles, form) {
				m.needles = append(m.needles, form)
			}
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.SliceStable(m.needles, func(i, j int) bool { return len(m.needles[i]) > len(m.needles[j]) })
}

// String masks every secret in s.
func (m *Masker) String(s string) string {
	for _, n := range m.needles {
		s = strings.ReplaceAll(s, n, mask)
	}
	return s
}

// Printf formats and masks.
func (m *Masker) Printf(format string, args ...any) string {
	return m.String(fmt.Sprintf(format, args...))
}

// goJSON is s as encoding/json writes it inside quotes.
func goJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// phpJSON is s as PHP's json_encode writes it inside quotes by default.
func phpJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '/':
			b.WriteString(`\/`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r > 0x7e:
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, hi, lo)
				continue
			}
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
