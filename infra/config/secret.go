package config

// Secret is a secret config value held in memory. Its String and GoString
// methods hide the value, so a stray %v or %#v in a log or error does not
// print it; Reveal returns it.
type Secret string

// redacted is what Secret prints instead of its value.
const redacted = "[secret]"

// String hides the value.
func (Secret) String() string { return redacted }

// GoString hides the value.
func (Secret) GoString() string { return redacted }

// Reveal returns the value.
func (s Secret) Reveal() string { return string(s) }

// IsSet reports whether a value was given.
func (s Secret) IsSet() bool { return s != "" }
