package config

import (
	"errors"
	"fmt"

	"github.com/nctalk/nctalk/cloudconfig"
)

// KeyError is a problem with one stack config key. Its message names the
// key as `nctalk:<key>`; it unwraps to the *cloudconfig.ConfigError, so
// cloudconfig.KeyOf works on it.
type KeyError struct {
	Err *cloudconfig.ConfigError
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("%s:%s: %s", Namespace, e.Err.Key, e.Err.Problem)
}

// Unwrap returns the underlying *cloudconfig.ConfigError.
func (e *KeyError) Unwrap() error { return e.Err }

// keyErr builds a *KeyError.
func keyErr(key, format string, args ...any) error {
	return &KeyError{Err: &cloudconfig.ConfigError{Key: key, Problem: fmt.Sprintf(format, args...)}}
}

// asKeyError lifts a *cloudconfig.ConfigError into a *KeyError; other
// errors pass through.
func asKeyError(err error) error {
	var ce *cloudconfig.ConfigError
	if errors.As(err, &ce) {
		return &KeyError{Err: ce}
	}
	return err
}

// ErrorKeys returns the config keys that err (possibly joined) is about, in
// order, without the namespace.
func ErrorKeys(err error) []string {
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
			keys = append(keys, x.Err.Key)
		case *cloudconfig.ConfigError:
			keys = append(keys, x.Key)
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	return keys
}
