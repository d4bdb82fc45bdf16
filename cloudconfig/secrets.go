package cloudconfig

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/nctalk/nctalk/schema"
)

// fields returns a pointer to every secret, named as in List.
func (s *Secrets) fields() []struct {
	name string
	ptr  *string
} {
	return []struct {
		name string
		ptr  *string
	}{
		{schema.KeySignalingSecret, &s.SignalingSecret},
		{schema.KeyTURNSecret, &s.TURNSecret},
		{schema.SecretSessionHashKey, &s.SessionHashKey},
		{schema.SecretSessionBlockKey, &s.SessionBlockKey},
		{schema.SecretInternalClientSecret, &s.InternalClientSecret},
		{schema.SecretJanusAPIKey, &s.JanusAPIKey},
	}
}

// Set assigns the secret with the given name (as in List); it reports
// false for an unknown name.
func (s *Secrets) Set(name, value string) bool {
	for _, f := range s.fields() {
		if f.name == name {
			*f.ptr = value
			return true
		}
	}
	return false
}

// FillMissing generates every empty secret from random (crypto/rand.Reader
// when nil) and returns the names it generated, in List order.
func (s *Secrets) FillMissing(random io.Reader) ([]string, error) {
	if random == nil {
		random = rand.Reader
	}
	var generated []string
	for _, f := range s.fields() {
		if *f.ptr != "" {
			continue
		}
		spec, _ := schema.SecretByName(f.name)
		v, err := randomString(random, spec.Length)
		if err != nil {
			return nil, fmt.Errorf("generating %s: %w", f.name, err)
		}
		*f.ptr = v
		generated = append(generated, f.name)
	}
	return generated, nil
}

// randomString draws n characters of schema.SecretAlphabet without modulo bias.
func randomString(r io.Reader, n int) (string, error) {
	const limit = 256 - 256%len(schema.SecretAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, schema.SecretAlphabet[int(b)%len(schema.SecretAlphabet)])
			}
		}
	}
	return string(out), nil
}
