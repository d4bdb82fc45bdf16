package cloudconfig

import "strings"

// ShellQuote returns s as one POSIX shell word that expands to exactly s:
// wrapped in single quotes, each single quote inside written as a closing
// quote, a backslash-escaped quote and an opening quote. Every value
// the templates put into a shell script (nctalk-setup, nctalk-ready, the
// certificate deploy hook) goes through it; templates call it as `sh`.
// Inside single quotes no character is special, so $, `, \, !, ;, &, |, <,
// >, (, ), *, ?, [, ~, #, newlines and non-ASCII line separators all stay
// literal. A NUL cannot be passed to a shell at all: validation rejects
// it before rendering.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
