package config

import (
	"errors"
	"fmt"

	"github.com/nctalk/nctalk/schema"
)

// keyError is a problem with one stack config key. Its message names the
// key as `nctalk:<key>`; it unwraps to the *schema.KeyError, so
// schema.KeyOf and schema.KeysOf work on it.
type keyError struct {
	Err *schema.KeyError
}

func (e *keyError) Error() string {
	return fmt.Sprintf("%s:%s: %s", schema.Namespace, e.Err.Key, e.Err.Problem)
}

// Unwrap returns the underlying *schema.KeyError.
func (e *keyError) Unwrap() error { return e.Err }

// KeyErrorf builds a *keyError about key; the problem is formatted as by
// fmt.Sprintf.
func KeyErrorf(key, format string, args ...any) error {
	return &keyError{Err: &schema.KeyError{Key: key, Problem: fmt.Sprintf(format, args...)}}
}

// Namespaced lifts every *schema.KeyError in err (possibly joined) into a
// *keyError, so its message names `nctalk:<key>`; other errors pass through.
func Namespaced(err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range joined.Unwrap() {
			out = append(out, Namespaced(e))
		}
		return errors.Join(out...)
	}
	var ke *schema.KeyError
	if errors.As(err, &ke) {
		return &keyError{Err: ke}
	}
	return err
}

// ErrorKeys returns the config keys that err (possibly joined) is about, in
// order, without the namespace.
func ErrorKeys(err error) []string { return schema.KeysOf(err) }
