package occtest

import (
	"regexp"
	"strings"
)

// symfonyTag is OutputFormatter::formatAndWrap's tag pattern (flags i and
// x): an opening tag `<name…>` or a closing one `</name>` or `</>`.
var symfonyTag = regexp.MustCompile(`(?i)<(([a-z](?:[^\\<>]*|\\.)*)|/([a-z][^<>]*)?)>`)

// symfonyStyles are the styles Symfony's OutputFormatter knows by name.
var symfonyStyles = map[string]bool{"error": true, "info": true, "comment": true, "question": true}

// SymfonyFormat is what Symfony Console's undecorated OutputFormatter
// (6.4, as Nextcloud 31 and 34 ship it) makes of a message before occ
// writes it: a tag that names a style (`<info>`, `<fg=red>`, …) vanishes,
// any other tag stays, and `\<` and `\>` lose their backslash. Recorded
// cases: recorded/*/formatter.json.
func SymfonyFormat(msg string) string {
	var out strings.Builder
	offset := 0
	for _, m := range symfonyTag.FindAllStringSubmatchIndex(msg, -1) {
		pos, end := m[0], m[1]
		if pos != 0 && msg[pos-1] == '\\' {
			continue
		}
		out.WriteString(msg[offset:pos])
		offset = end
		text := msg[pos:end]
		open := text[1] != '/'
		var tag string
		if open && m[4] >= 0 {
			tag = msg[m[4]:m[5]]
		} else if !open && m[6] >= 0 {
			tag = msg[m[6]:m[7]]
		}
		if !open && tag == "" {
			continue // </> pops the style stack
		}
		if !isSymfonyStyle(tag) {
			out.WriteString(text)
		}
	}
	out.WriteString(msg[offset:])
	return strings.NewReplacer(`\<`, "<", `\>`, ">").Replace(out.String())
}

var styleAttr = regexp.MustCompile(`([^=]+)=([^;]+)(;|$)`)

// isSymfonyStyle is OutputFormatter::createStyleFromString returning a
// style: a named style, or fg=/bg=/href=/options= settings.
func isSymfonyStyle(tag string) bool {
	if symfonyStyles[tag] {
		return true
	}
	matches := styleAttr.FindAllStringSubmatch(tag, -1)
	if len(matches) == 0 {
		return false
	}
	for _, m := range matches {
		switch strings.ToLower(m[1]) {
		case "fg", "bg", "href", "options":
		default:
			return false
		}
	}
	return true
}
