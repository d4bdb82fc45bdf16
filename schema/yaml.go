package schema

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAMLSource is a config file in YAML as a Source (the file of `nctalk
// render`): a mapping of keys (with or without the `nctalk:` prefix), or a
// Pulumi stack file whose `config:` holds them.
type YAMLSource map[string]yaml.Node

// ParseYAML parses a config file and keeps its `nctalk:` keys (with or
// without the prefix; other namespaces such as hcloud:token are left
// alone). A syntax error is yaml's own.
func ParseYAML(raw []byte) (YAMLSource, error) {
	var doc map[string]yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if stack, ok := doc["config"]; ok && len(doc) == 1 {
		// A Pulumi stack file (Pulumi.<stack>.yaml): read its `nctalk:` keys
		// and leave other namespaces (hcloud:token, …) alone.
		doc = nil
		if err := stack.Decode(&doc); err != nil {
			return nil, Errorf("config", "is not a mapping of config keys")
		}
	}
	src := YAMLSource{}
	for k, v := range doc {
		name, prefixed := strings.CutPrefix(k, Namespace+":")
		if prefixed || !strings.Contains(k, ":") {
			src[name] = v
		}
	}
	return src, nil
}

// Lookup returns a key's value: a scalar's text, a list's or map's JSON,
// and whether Pulumi encrypted it (`secure:`).
func (y YAMLSource) Lookup(key string) (Value, bool, error) {
	n, ok := y[key]
	if !ok {
		return Value{}, false, nil
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return Value{}, true, nil
		}
		return Value{Text: n.Value}, true, nil
	case yaml.MappingNode:
		if len(n.Content) == 2 && n.Content[0].Value == "secure" {
			return Value{Encrypted: true}, true, nil
		}
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return Value{}, true, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Value{}, true, err
	}
	return Value{Text: string(b), Structured: true}, true, nil
}

// Names returns every key of the file.
func (y YAMLSource) Names() []string { return slices.Sorted(maps.Keys(y)) }
