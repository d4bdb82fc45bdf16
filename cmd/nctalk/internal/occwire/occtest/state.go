// Package occtest is the test side of a fake Nextcloud `occ`: the state file
// the fake (../fakeocc) keeps, the environment variables it reads, and
// helpers that build it and read what it was called with.
package occtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Environment variables the fake reads.
const (
	// EnvState is the path of the JSON state file (required).
	EnvState = "FAKEOCC_STATE"
	// EnvLog is the path of the call log: one JSON array (the argv after
	// the program name) per line, appended before the call runs.
	EnvLog = "FAKEOCC_LOG"
	// EnvFailCall makes the Nth call (1-based, counted in the log) fail
	// with exit code 1 without changing the state; its output repeats the
	// call's arguments, secrets included, as a careless occ might.
	EnvFailCall = "FAKEOCC_FAIL_CALL"
)

// State is the Talk app config the fake keeps, shaped like the values
// Nextcloud stores (appconfig spreed/signaling_servers, turn_servers,
// stun_servers). A nil field is an unset value.
type State struct {
	Signaling *SignalingConfig `json:"signaling_servers,omitempty"`
	TURN      []TURNEntry      `json:"turn_servers,omitempty"`
	STUN      []string         `json:"stun_servers,omitempty"`
	// ConfigReadOnly plays a Nextcloud whose config/config.php occ cannot
	// write: every command prints ConfigReadOnlyMessage and exits 0
	// (contract row exit0-config).
	ConfigReadOnly bool `json:"config_read_only,omitempty"`
	// TalkDisabled plays a Nextcloud whose Talk (spreed) app is disabled:
	// its commands do not exist (the recorded talkDisabled answer).
	TalkDisabled bool `json:"talk_disabled,omitempty"`
}

// SignalingConfig is spreed/signaling_servers.
type SignalingConfig struct {
	Servers []SignalingServer `json:"servers"`
	Secret  string            `json:"secret"`
}

// SignalingServer is one signaling entry.
type SignalingServer struct {
	Server string `json:"server"`
	Verify bool   `json:"verify"`
}

// TURNEntry is one TURN entry, fields in the order Talk writes them.
type TURNEntry struct {
	Schemes   string `json:"schemes"`
	Server    string `json:"server"`
	Secret    string `json:"secret"`
	Protocols string `json:"protocols"`
}

// LoadState reads a state file; a missing file is an empty Nextcloud.
func LoadState(path string) (State, error) {
	var s State
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("reading fake occ state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("fake occ state %s: %w", path, err)
	}
	return s, nil
}

// SaveState writes a state file.
func SaveState(path string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding fake occ state: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing fake occ state: %w", err)
	}
	return nil
}
