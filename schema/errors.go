package schema

import (
	"errors"
	"fmt"
)

// KeyError is a problem with one config key (or secret): what is wrong and
// what would be valid. It never repeats a secret's value.
type KeyError struct {
	// Key is the config key without the `nctalk:` prefix, or a secret's name.
	Key string
	// Problem says what is wrong and what would be valid.
	Problem string
}

func (e *KeyError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Problem) }

// Errorf builds a *KeyError for key.
func Errorf(key, format string, args ...any) error {
	return &KeyError{Key: key, Problem: fmt.Sprintf(format, args...)}
}

// KeyOf returns the key the first *KeyError in err is about, or "".
func KeyOf(err error) string {
	var ke *KeyError
	if errors.As(err, &ke) {
		return ke.Key
	}
	return ""
}

// KeysOf returns every key that err (possibly joined) is about, in order.
func KeysOf(err error) []string {
	var keys []string
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				walk(inner)
			}
		case *KeyError:
			keys = append(keys, x.Key)
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	return keys
}
