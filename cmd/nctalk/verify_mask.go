package main

import (
	"encoding/json"
	"io"
	"net/url"
	"slices"
	"strings"
)

// secretMask is what a secret reads as in anything verify prints.
const secretMask = "[secret]"

// secretMasker replaces the stack's secrets in verify's output, in the
// forms they take there: as given, JSON-escaped (the --json report) and
// URL-escaped (request URLs in error texts). Longer forms are replaced
// first, so a secret that contains another is masked whole.
type secretMasker struct{ forms []string }

func newSecretMasker(secrets ...string) *secretMasker {
	m := &secretMasker{}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		j, _ := json.Marshal(s)
		for _, f := range []string{s, strings.Trim(string(j), `"`), url.QueryEscape(s), url.PathEscape(s)} {
			if !slices.Contains(m.forms, f) {
				m.forms = append(m.forms, f)
			}
		}
	}
	slices.SortFunc(m.forms, func(a, b string) int { return len(b) - len(a) })
	return m
}

// mask replaces every form of every secret in s.
func (m *secretMasker) mask(s string) string {
	for _, f := range m.forms {
		s = strings.ReplaceAll(s, f, secretMask)
	}
	return s
}

// writer masks each Write. verify writes its report and each progress line
// in one Write, so a secret is never split across two.
func (m *secretMasker) writer(w io.Writer) io.Writer { return maskingWriter{m, w} }

type maskingWriter struct {
	m *secretMasker
	w io.Writer
}

func (mw maskingWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(mw.w, mw.m.mask(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
