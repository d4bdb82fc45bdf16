package occwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/nctalk/nctalk/talk"
)

// Current is the Talk configuration Nextcloud reports through the three
// list commands.
type Current struct {
	// Signaling are the configured signaling servers, in Nextcloud's order.
	Signaling []SignalingServer
	// SignalingSecret is the one secret Nextcloud shares with every
	// signaling server ("" when none is set).
	SignalingSecret string
	// TURN are the configured TURN entries, in Nextcloud's order.
	TURN []TURNEntry
	// STUN are the configured STUN servers (host:port). Empty means the
	// setting is unset and Nextcloud uses defaultSTUNServer.
	STUN []string
}

// SignalingServer is one entry of `talk:signaling:list`.
type SignalingServer struct {
	Server string
	Verify bool
}

// TURNEntry is one entry of `talk:turn:list`.
type TURNEntry struct {
	talk.TURNServer
	Secret string
}

// defaultSTUNServer is the STUN server Nextcloud uses when none is set, and
// the one `talk:stun:delete` puts back when the last entry is deleted.
const defaultSTUNServer = "stun.nextcloud.com:443"

// errNotJSON is wrapped by the parse functions when occ's output holds no
// JSON document.
var errNotJSON = errors.New("occ output is not JSON")

// parseSignalingList decodes `talk:signaling:list --output=json`:
// `{"servers":[{"server":"…","verify":true}],"secret":"…"}`, or `[]` when
// nothing was ever configured.
func parseSignalingList(out []byte) (servers []SignalingServer, secret string, err error) {
	doc, err := jsonDocument(out)
	if err != nil {
		return nil, "", err
	}
	if isEmptyArray(doc) {
		return nil, "", nil
	}
	var raw struct {
		Servers json.RawMessage `json:"servers"`
		Secret  string          `json:"secret"`
	}
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, "", fmt.Errorf("talk:signaling:list: want an object with servers and secret or []: %w", err)
	}
	var entries []struct {
		Server string          `json:"server"`
		Verify json.RawMessage `json:"verify"`
	}
	if err := unmarshalList(raw.Servers, &entries); err != nil {
		return nil, "", fmt.Errorf("talk:signaling:list: servers: %w", err)
	}
	for _, e := range entries {
		servers = append(servers, SignalingServer{Server: e.Server, Verify: truthy(e.Verify)})
	}
	return servers, raw.Secret, nil
}

// parseTURNList decodes `talk:turn:list --output=json`:
// `[{"schemes":"turn","server":"host:3478","secret":"…","protocols":"udp,tcp"}]`.
func parseTURNList(out []byte) ([]TURNEntry, error) {
	doc, err := jsonDocument(out)
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Schemes   string `json:"schemes"`
		Server    string `json:"server"`
		Secret    string `json:"secret"`
		Protocols string `json:"protocols"`
	}
	if err := unmarshalList(doc, &entries); err != nil {
		return nil, fmt.Errorf("talk:turn:list: %w", err)
	}
	list := make([]TURNEntry, 0, len(entries))
	for _, e := range entries {
		list = append(list, TURNEntry{
			TURNServer: talk.TURNServer{Schemes: e.Schemes, Server: e.Server, Protocols: e.Protocols},
			Secret:     e.Secret,
		})
	}
	return list, nil
}

// parseSTUNList decodes `talk:stun:list --output=json`: `["host:port"]` or `[]`.
func parseSTUNList(out []byte) ([]string, error) {
	doc, err := jsonDocument(out)
	if err != nil {
		return nil, err
	}
	var list []string
	if err := unmarshalList(doc, &list); err != nil {
		return nil, fmt.Errorf("talk:stun:list: %w", err)
	}
	return list, nil
}

// jsonDocument finds the JSON document in occ's standard output. PHP
// notices or deprecation warnings may precede it, so when the whole output
// is not JSON the last line that is JSON wins. Each candidate is first
// read back from Symfony's formatter (see Unformat).
func jsonDocument(out []byte) ([]byte, error) {
	trimmed := unformat(bytes.TrimSpace(out))
	if json.Valid(trimmed) {
		return trimmed, nil
	}
	// Line by line, so that quotes in a warning cannot upset Unformat.
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		line := unformat(bytes.TrimSpace(lines[i]))
		if len(line) > 0 && (line[0] == '[' || line[0] == '{') && json.Valid(line) {
			return line, nil
		}
	}
	return nil, fmt.Errorf("%w (%d bytes)", errNotJSON, len(out))
}

// unformat undoes what Symfony's OutputFormatter did to a JSON document
// that occ printed with $output->writeln(json_encode(…)): the formatter
// turns `\<` and `\>` into `<` and `>`, so a value holding a backslash
// before < or > (JSON `\\<`) comes out as `\<`, which is not a JSON
// escape. Inside strings such a `\<` or `\>` is read back as the escaped
// backslash it was; everything else is left alone (valid JSON never has
// these escapes, so valid JSON is unchanged). A tag naming a style
// (`<info>`, `<fg=red>`) that the formatter removed cannot be restored.
func unformat(doc []byte) []byte {
	if !bytes.Contains(doc, []byte(`\<`)) && !bytes.Contains(doc, []byte(`\>`)) {
		return doc
	}
	out := make([]byte, 0, len(doc)+8)
	inString := false
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		switch {
		case !inString:
			inString = c == '"'
			out = append(out, c)
		case c == '"':
			inString = false
			out = append(out, c)
		case c == '\\' && i+1 < len(doc):
			if n := doc[i+1]; n == '<' || n == '>' {
				out = append(out, '\\', '\\', n)
			} else {
				out = append(out, c, n)
			}
			i++
		default:
			out = append(out, c)
		}
	}
	return out
}

func isEmptyArray(doc []byte) bool {
	var list []json.RawMessage
	return json.Unmarshal(doc, &list) == nil && len(list) == 0
}

// unmarshalList decodes a JSON list into dst. PHP encodes an array whose
// keys are not 0..n-1 as an object; such an object is read in key order.
func unmarshalList(doc []byte, dst any) error {
	if len(doc) == 0 || bytes.Equal(doc, []byte("null")) {
		return nil
	}
	if doc[0] != '{' {
		return json.Unmarshal(doc, dst)
	}
	var byKey map[string]json.RawMessage
	if err := json.Unmarshal(doc, &byKey); err != nil {
		return err
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
	values := make([]json.RawMessage, 0, len(keys))
	for _, k := range keys {
		values = append(values, byKey[k])
	}
	asList, err := json.Marshal(values)
	if err != nil {
		return err
	}
	return json.Unmarshal(asList, dst)
}

// truthy reads a PHP-ish boolean: true, 1, "1", "true".
func truthy(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case "true", "1", `"1"`, `"true"`:
		return true
	}
	return false
}
