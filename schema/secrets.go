package schema

import (
	"slices"
	"strconv"
)

// Names of the secrets that are no config key (the shared ones are named by
// their keys, KeySignalingSecret and KeyTURNSecret).
const (
	SecretSessionHashKey       = "sessionHashKey"
	SecretSessionBlockKey      = "sessionBlockKey"
	SecretInternalClientSecret = "internalClientSecret"
	SecretJanusAPIKey          = "janusApiKey"
)

// MinSecretLength is the shortest secret accepted where no exact lengths
// are required.
const MinSecretLength = 16

// SecretAlphabet is what generated secrets are made of: characters every
// config file carries verbatim (a subset of the secrets' grammar).
const SecretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// SecretSpec declares one secret of a deployment, once.
type SecretSpec struct {
	// Name names the secret in errors, markers, secrets files and (for the
	// shared ones) config keys.
	Name string
	// Length is the length of a generated value.
	Length int
	// Lengths, when set, are the only lengths a value may have (the
	// signaling server's session keys); otherwise at least MinSecretLength.
	Lengths []int
	// Configurable secrets may be given as a config key of the same name
	// (to keep an existing Nextcloud's value); the others are always
	// generated.
	Configurable bool
	// Resource is the suffix of the stack's random.RandomPassword resource
	// (part of its URN: never rename it).
	Resource string
	// Doc says what the secret is for.
	Doc string
}

// Secrets declares every secret, in the order of rendering and of the
// stack's generation.
var Secrets = []SecretSpec{
	{Name: KeySignalingSecret, Length: 64, Configurable: true, Resource: "signaling-secret",
		Doc: "shared with Nextcloud (talk:signaling:add)"},
	{Name: KeyTURNSecret, Length: 64, Configurable: true, Resource: "turn-secret",
		Doc: "coturn's static-auth-secret, shared with Nextcloud (talk:turn:add)"},
	{Name: SecretSessionHashKey, Length: 64, Lengths: []int{32, 64}, Resource: "session-hash-key",
		Doc: "signs the signaling server's session cookies"},
	{Name: SecretSessionBlockKey, Length: 32, Lengths: []int{16, 24, 32}, Resource: "session-block-key",
		Doc: "encrypts the signaling server's session cookies"},
	{Name: SecretInternalClientSecret, Length: 64, Resource: "internal-client-secret",
		Doc: "authenticates internal signaling clients"},
	{Name: SecretJanusAPIKey, Length: 64, Resource: "janus-api-key",
		Doc: "the signaling server's TURN REST API key ([turn] apikey)"},
}

// SecretByName returns the secret named name.
func SecretByName(name string) (SecretSpec, bool) {
	for _, s := range Secrets {
		if s.Name == name {
			return s, true
		}
	}
	return SecretSpec{}, false
}

// Check reports what is wrong with value as this secret: empty, outside
// the secrets' grammar, or of a length the secret cannot have. The error
// is a *KeyError named by the secret and never holds the value.
func (s SecretSpec) Check(value string) error {
	if value == "" {
		return Errorf(s.Name, "is empty; every secret must be set")
	}
	g := secretGrammar
	g.Key = s.Name
	if err := g.Check(-1, value); err != nil {
		return err
	}
	n := len(value)
	switch {
	case len(s.Lengths) > 0 && !slices.Contains(s.Lengths, n):
		return Errorf(s.Name, "is %d characters long; want %s", n, orList(s.Lengths))
	case len(s.Lengths) == 0 && n < MinSecretLength:
		return Errorf(s.Name, "is %d characters long; want at least %d", n, MinSecretLength)
	}
	return nil
}

// orList writes 16, 24 or 32.
func orList(ns []int) string {
	out := ""
	for i, n := range ns {
		switch {
		case i == 0:
		case i == len(ns)-1:
			out += " or "
		default:
			out += ", "
		}
		out += strconv.Itoa(n)
	}
	return out
}
