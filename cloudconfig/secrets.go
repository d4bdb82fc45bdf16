package cloudconfig

import (
	"crypto/rand"
	"fmt"
	"io"
)

// Lengths of generated secrets: the session keys take the longest lengths
// the signaling server accepts, every other secret GeneratedSecretLength.
const (
	GeneratedSecretLength          = 64
	GeneratedSessionHashKeyLength  = 64
	GeneratedSessionBlockKeyLength = 32
)

// secretAlphabet is what generated secrets are made of: characters every
// config file carries verbatim.
const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// fields returns a pointer to every secret, named as in List.
func (s *Secrets) fields() []struct {
	name string
	ptr  *string
} {
	return []struct {
		name string
		ptr  *string
	}{
		{"signalingSecret", &s.SignalingSecret},
		{"turnSecret", &s.TURNSecret},
		{secretSessionHashKey, &s.SessionHashKey},
		{secretSessionBlockKey, &s.SessionBlockKey},
		{"internalClientSecret", &s.InternalClientSecret},
		{"janusApiKey", &s.JanusAPIKey},
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
		n := GeneratedSecretLength
		switch f.name {
		case secretSessionHashKey:
			n = GeneratedSessionHashKeyLength
		case secretSessionBlockKey:
			n = GeneratedSessionBlockKeyLength
		}
		v, err := randomString(random, n)
		if err != nil {
			return nil, fmt.Errorf("generating %s: %w", f.name, err)
		}
		*f.ptr = v
		generated = append(generated, f.name)
	}
	return generated, nil
}

// randomString draws n characters of secretAlphabet without modulo bias.
func randomString(r io.Reader, n int) (string, error) {
	const limit = 256 - 256%len(secretAlphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(out) < n {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, secretAlphabet[int(b)%len(secretAlphabet)])
			}
		}
	}
	return string(out), nil
}
