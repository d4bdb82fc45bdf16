package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/nctalk/nctalk/schema"
	"gopkg.in/yaml.v3"
)

// topKey is a config key at the start of a line: `key:` at column 0, or
// `  nctalk:key:` under a stack file's `config:`.
var topKey = regexp.MustCompile(`^( {2})?((?:nctalk:)?[A-Za-z][A-Za-z0-9]*):(?:\s|$)`)

// yamlSyntaxError turns a YAML syntax error in the config file into a
// *schema.KeyError naming the key whose value holds it, with what
// usually causes it. YAML's line numbers are not reliable for this (a
// parser error reports the line before), so each key's block is parsed on
// its own and the first that fails is named. An error no single block
// explains is returned as it is.
func yamlSyntaxError(raw []byte, err error) error {
	lines := strings.Split(string(raw), "\n")
	var starts []int
	for i, l := range lines {
		if m := topKey.FindStringSubmatch(l); m != nil && m[2] != "config" {
			starts = append(starts, i)
		}
	}
	for j, start := range starts {
		end := len(lines)
		if j+1 < len(starts) {
			end = starts[j+1]
		}
		m := topKey.FindStringSubmatch(lines[start])
		block := make([]string, 0, end-start)
		for _, l := range lines[start:end] {
			block = append(block, strings.TrimPrefix(l, m[1]))
		}
		var probe map[string]yaml.Node
		if yaml.Unmarshal([]byte(strings.Join(block, "\n")), &probe) != nil {
			return &schema.KeyError{Key: strings.TrimPrefix(m[2], "nctalk:"), Problem: fmt.Sprintf(
				"is not valid YAML (%v); quote a value that holds ? # : [ ] { } , or starts with * & ! | > %% @, e.g. [\"https://cloud.example.com\"]", err)}
		}
	}
	return fmt.Errorf("not a YAML mapping of config keys: %w", err)
}
