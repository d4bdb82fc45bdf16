package configkeys

import (
	"fmt"
	"strings"
	"unicode"
)

// parse returns the keys or directives a config file of the given grammar
// sets, with the section (or nginx context) each is set in.
func parse(grammar string, content []byte) ([]Use, error) {
	switch grammar {
	case GrammarINI:
		return parseINI(string(content))
	case GrammarCoturn:
		return parseCoturn(string(content)), nil
	case GrammarNATS:
		return parseNATS(string(content))
	case GrammarJanus:
		return parseJanus(string(content))
	case GrammarNginx:
		return parseNginx(string(content))
	}
	return nil, fmt.Errorf("no parser for grammar %q", grammar)
}

// parseINI reads goconf's format: [section] lines, key = value (or
// key: value) lines, # and ; comments. Keys before any section are in the
// "default" section.
func parseINI(s string) ([]Use, error) {
	var uses []Use
	section := "default"
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: %q is not a section", i+1, line)
			}
			section = strings.TrimSpace(line[1 : len(line)-1])
			uses = append(uses, Use{Section: section, Line: i + 1})
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				if k, v, ok = strings.Cut(line, ":"); !ok {
					return nil, fmt.Errorf("line %d: %q is neither a section nor key = value", i+1, line)
				}
			}
			uses = append(uses, Use{Section: section, Key: strings.TrimSpace(k), Value: strings.TrimSpace(v), Line: i + 1})
		}
	}
	return uses, nil
}

// parseCoturn reads turnserver.conf: one option a line, "name",
// "name=value" or "name value"; # comments.
func parseCoturn(s string) []Use {
	var uses []Use
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name := strings.FieldsFunc(line, func(r rune) bool { return r == '=' || unicode.IsSpace(r) })[0]
		uses = append(uses, Use{Key: name, Line: i + 1})
	}
	return uses
}

// parseNATS reads nats-server's config: "key: value", "key = value",
// "key value" and "key { … }" blocks (their keys in a section named after
// the block); # and // comments.
func parseNATS(s string) ([]Use, error) {
	var uses []Use
	var stack []string
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || strings.HasPrefix(line, "//") {
			continue
		}
		if line == "}" {
			if len(stack) == 0 {
				return nil, fmt.Errorf("line %d: } without a block", i+1)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		end := strings.IndexFunc(line, func(r rune) bool { return r == ':' || r == '=' || r == '{' || unicode.IsSpace(r) })
		if end <= 0 {
			return nil, fmt.Errorf("line %d: %q sets no key", i+1, line)
		}
		uses = append(uses, Use{Section: strings.Join(stack, "/"), Key: line[:end], Line: i + 1})
		if strings.HasSuffix(line, "{") {
			stack = append(stack, line[:end])
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("block %s is not closed", strings.Join(stack, "/"))
	}
	return uses, nil
}

// parseJanus reads Janus' .jcfg (libconfig): "name: {" opens a section,
// "}" closes it, "key = value" sets a key (a value opening "[" runs to
// its "]"); # comments.
func parseJanus(s string) ([]Use, error) {
	var uses []Use
	section := ""
	inList := false
	for i, line := range strings.Split(s, "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 && !strings.Contains(line[:j], `"`) {
			line = line[:j]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case inList:
			inList = !strings.Contains(line, "]")
		case strings.HasSuffix(line, "{"):
			if section != "" {
				return nil, fmt.Errorf("line %d: a section inside [%s]", i+1, section)
			}
			section = strings.TrimSpace(strings.TrimSuffix(line, "{"))
			section = strings.TrimSpace(strings.TrimRight(section, ":="))
			uses = append(uses, Use{Section: section, Line: i + 1})
		case line == "}":
			if section == "" {
				return nil, fmt.Errorf("line %d: } outside a section", i+1)
			}
			section = ""
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("line %d: %q is not key = value in a section", i+1, line)
			}
			v = strings.TrimSpace(v)
			inList = strings.HasPrefix(v, "[") && !strings.Contains(v, "]")
			uses = append(uses, Use{Section: section, Key: strings.TrimSpace(k), Line: i + 1})
		}
	}
	return uses, nil
}

// nginxBlocks maps a block directive in a context to the context of its
// body; "" marks a body of free-form entries (map, types, …), which are
// not directives.
var nginxBlocks = map[string]string{
	"main events":                   "events",
	"main http":                     "http",
	"main stream":                   "stream",
	"main mail":                     "mail",
	"http server":                   "http/server",
	"http upstream":                 "http/upstream",
	"http/server location":          "http/location",
	"http/location location":        "http/location",
	"http/server if":                "http/server/if",
	"http/location if":              "http/location/if",
	"http/location limit_except":    "http/limit_except",
	"stream server":                 "stream/server",
	"stream upstream":               "stream/upstream",
	"mail server":                   "mail/server",
	"http map":                      "",
	"http geo":                      "",
	"http split_clients":            "",
	"http types":                    "",
	"http/server types":             "",
	"http/location types":           "",
	"http charset_map":              "",
	"stream map":                    "",
	"stream geo":                    "",
	"stream split_clients":          "",
	"http/location/if limit_except": "http/limit_except",
}

// parseNginx reads nginx.conf into directives with the context each is in
// ("main" at the top).
func parseNginx(s string) ([]Use, error) {
	toks, err := nginxTokens(s)
	if err != nil {
		return nil, err
	}
	var uses []Use
	stack := []string{"main"}
	var words []token
	for _, t := range toks {
		ctx := stack[len(stack)-1]
		switch t.text {
		case ";", "{":
			if t.quoted {
				words = append(words, t)
				continue
			}
			if len(words) == 0 {
				return nil, fmt.Errorf("line %d: %q without a directive", t.line, t.text)
			}
			if ctx != "" {
				uses = append(uses, Use{Section: ctx, Key: words[0].text, Line: words[0].line})
			}
			if t.text == "{" {
				child := ""
				if ctx != "" {
					var ok bool
					if child, ok = nginxBlocks[ctx+" "+words[0].text]; !ok {
						return nil, fmt.Errorf("line %d: block %q in %s is not one this checker knows", words[0].line, words[0].text, ctx)
					}
				}
				stack = append(stack, child)
			}
			words = nil
		case "}":
			if t.quoted {
				words = append(words, t)
				continue
			}
			if len(words) > 0 || len(stack) == 1 {
				return nil, fmt.Errorf("line %d: unexpected }", t.line)
			}
			stack = stack[:len(stack)-1]
		default:
			words = append(words, t)
		}
	}
	if len(stack) != 1 || len(words) > 0 {
		return nil, fmt.Errorf("unexpected end of file in %s", stack[len(stack)-1])
	}
	return uses, nil
}

type token struct {
	text   string
	quoted bool
	line   int
}

// nginxTokens splits nginx.conf into words, quoted strings and the
// punctuation ; { }, dropping # comments.
func nginxTokens(s string) ([]token, error) {
	var toks []token
	line := 1
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == ';' || c == '{' || c == '}':
			toks = append(toks, token{text: string(c), line: line})
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(s) && s[j] != c {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, fmt.Errorf("line %d: unterminated quote", line)
			}
			toks = append(toks, token{text: s[i+1 : j], quoted: true, line: line})
			line += strings.Count(s[i:j], "\n")
			i = j + 1
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n;{}", rune(s[j])) {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			// ${var} keeps its braces inside a word.
			toks = append(toks, token{text: s[i:j], line: line})
			i = j
		}
	}
	return toks, nil
}
