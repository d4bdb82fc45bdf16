package cloudconfig

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The cloud-config document is assembled by a template, but no value
// reaches it as raw text: every scalar goes through yamlScalar or
// yamlBlock. yamlBlock writes a literal block scalar (readable, as in the
// golden file) only when literalBlockSafe proves that a YAML 1.1 reader
// (PyYAML, which cloud-init uses) sees exactly the lines written; anything
// else is handed to the YAML encoder (gopkg.in/yaml.v3) as a double-quoted
// scalar, which escapes every line break and control character.

// literalBlockSafe reports whether s can be written as a "|" block scalar
// whose lines are all indented by the same amount and read back byte for
// byte by YAML 1.1 and 1.2 readers:
//   - valid UTF-8; every character is '\n', '\t' or printable (unicode.IsPrint:
//     no CR, NEL U+0085, U+2028, U+2029, U+FEFF, no other control or
//     format character, so '\n' is the only line break in the text);
//   - exactly one final '\n' (what "|" keeps);
//   - the first line starts with neither a space nor a tab (it sets the
//     block's indentation);
//   - no line is made only of blanks (readers differ on those).
func literalBlockSafe(s string) bool {
	if !utf8.ValidString(s) || !strings.HasSuffix(s, "\n") || strings.HasSuffix(s, "\n\n") {
		return false
	}
	if s[0] == ' ' || s[0] == '\t' || s[0] == '\n' {
		return false
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && !unicode.IsPrint(r) {
			return false
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if line != "" && strings.Trim(line, " \t") == "" {
			return false
		}
	}
	return true
}

// yamlBlock writes b as the value of a mapping key: a literal block scalar
// whose lines are indented by n spaces when literalBlockSafe allows, else
// the encoder's one-line double-quoted scalar. The result has no final
// newline.
func yamlBlock(n int, b []byte) (string, error) {
	if literalBlockSafe(string(b)) {
		return "|\n" + indent(n, b), nil
	}
	return yamlEncode(string(b), yaml.DoubleQuotedStyle)
}

// yamlScalar writes s as one scalar on one line, in the style the encoder
// picks (plain when that reads back as the same string).
func yamlScalar(s string) (string, error) {
	return yamlEncode(s, 0)
}

// yamlEncode runs the YAML encoder on one string scalar and checks that the
// result is a single line.
func yamlEncode(s string, style yaml.Style) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("yaml: value is not valid UTF-8")
	}
	out, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: style, Value: s})
	if err != nil {
		return "", fmt.Errorf("yaml: %w", err)
	}
	enc := strings.TrimSuffix(string(out), "\n")
	if strings.ContainsAny(enc, "\n\r") || strings.Contains(enc, "\u2028") || strings.Contains(enc, "\u2029") || strings.Contains(enc, "\u0085") {
		if style == yaml.DoubleQuotedStyle {
			return "", fmt.Errorf("yaml: the encoder wrote %q on more than one line", s)
		}
		return yamlEncode(s, yaml.DoubleQuotedStyle)
	}
	return enc, nil
}
