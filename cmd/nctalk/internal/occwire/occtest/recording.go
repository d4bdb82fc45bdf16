package occtest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
)

// The recordings of each release (Versions), as record.php writes them:
// recorded/<Version.Dir>/{transcript,formatter,parse_url}.json and its
// record.log. They are embedded, so the fake occ carries what it replays.
//
//go:embed recorded/*/*.json recorded/*/record.log
var recorded embed.FS

// recordingFormat is the format record.php writes (its FORMAT constant);
// a recording in another format fails to load.
const recordingFormat = "nctalk-occ-recording/2"

// Call is one occ call and what occ answered.
type Call struct {
	Args   []string `json:"args"`
	Stdout string   `json:"stdout"`
	Stderr string   `json:"stderr"`
	Exit   int      `json:"exit"`
}

// Transcript is recorded/<dir>/transcript.json: `record.php occ` against a
// real Nextcloud with Talk.
type Transcript struct {
	What     string       `json:"what"`
	Derived  bool         `json:"derived"`
	Recorded RecordedMeta `json:"recorded"`
	// Calls is the call sequence from a fresh Talk (no signaling, TURN or
	// STUN setting stored).
	Calls []Call `json:"calls"`
	// GeneratedSecret is `talk:turn:add … --generate-secret` and the secrets
	// it stored, one fresh add each.
	GeneratedSecret GeneratedSecret `json:"generatedSecret"`
	// STUNAdd and TURNAdd are Talk's add rules, case by case, each on a
	// fresh setting: what the add printed and what the list showed after.
	STUNAdd []STUNCase `json:"stunAdd"`
	TURNAdd []TURNCase `json:"turnAdd"`
	// TalkDisabled is talk:signaling:list while the spreed app is disabled.
	TalkDisabled Call `json:"talkDisabled"`
	// ConfigReadOnly is talk:stun:list while config/config.php is not
	// writable (contract row exit0-config).
	ConfigReadOnly Call `json:"configReadOnly"`
}

// RecordedMeta says where and when a recording was made.
type RecordedMeta struct {
	Format    string `json:"format"`
	At        string `json:"at"`
	Finished  string `json:"finished,omitempty"`
	PHP       string `json:"php"`
	Nextcloud string `json:"nextcloud,omitempty"`
	Talk      string `json:"talk,omitempty"`
	Symfony   string `json:"symfony/console,omitempty"`
	Occ       string `json:"occ,omitempty"`
}

// GeneratedSecret is the --generate-secret add and the secrets it stored.
type GeneratedSecret struct {
	Add     Call     `json:"add"`
	Secrets []string `json:"secrets"`
}

// STUNCase is `talk:stun:add -- <Entry>` on a fresh setting.
type STUNCase struct {
	Entry  string `json:"entry"`
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	Exit   int    `json:"exit"`
	// List is talk:stun:list --output=json after the add.
	List string `json:"list"`
	// Stored is the one entry the list shows; nil when the add stored
	// nothing.
	Stored *string `json:"stored"`
}

// TURNCase is `talk:turn:add --secret=case-secret -- <Schemes> <Server>
// <Protocols>` on a fresh setting.
type TURNCase struct {
	Schemes   string  `json:"schemes"`
	Server    string  `json:"server"`
	Protocols string  `json:"protocols"`
	Stdout    string  `json:"stdout"`
	Stderr    string  `json:"stderr"`
	Exit      int     `json:"exit"`
	List      string  `json:"list"`
	Stored    *string `json:"stored"`
}

// FormatterRecording is recorded/<dir>/formatter.json: list JSON written
// through the release's Symfony Console.
type FormatterRecording struct {
	What     string       `json:"what"`
	Derived  bool         `json:"derived"`
	Recorded RecordedMeta `json:"recorded"`
	Rows     []struct {
		JSON   string `json:"json"`
		Stdout string `json:"stdout"`
	} `json:"rows"`
}

// ParseURLRecording is recorded/<dir>/parse_url.json: talk:stun:add's
// parse_url check on each STUN case, with the recorder's PHP.
type ParseURLRecording struct {
	What     string       `json:"what"`
	Derived  bool         `json:"derived"`
	Recorded RecordedMeta `json:"recorded"`
	Rows     []struct {
		Entry  string          `json:"entry"`
		Host   json.RawMessage `json:"host"`
		Port   json.RawMessage `json:"port"`
		Stored *string         `json:"stored"`
	} `json:"rows"`
}

// load decodes recorded/<v.Dir>/<name> strictly: a field the format does
// not have is an error.
func load(v Version, name string, into any) error {
	b, err := fs.ReadFile(recorded, path.Join("recorded", v.Dir, name))
	if err != nil {
		return fmt.Errorf("recording of Nextcloud %s: %w", v.Nextcloud, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("recorded/%s/%s is not in record.php's format: %w", v.Dir, name, err)
	}
	return nil
}

// LoadTranscript returns the recorded transcript of release v.
func LoadTranscript(v Version) (Transcript, error) {
	var t Transcript
	err := load(v, "transcript.json", &t)
	return t, err
}

// LoadFormatter returns the recorded formatter output of release v.
func LoadFormatter(v Version) (FormatterRecording, error) {
	var f FormatterRecording
	err := load(v, "formatter.json", &f)
	return f, err
}

// LoadParseURL returns the recorded parse_url cases of release v.
func LoadParseURL(v Version) (ParseURLRecording, error) {
	var p ParseURLRecording
	err := load(v, "parse_url.json", &p)
	return p, err
}

// recorderLog returns record.php's log of the recording of release v.
func recorderLog(v Version) (string, error) {
	b, err := fs.ReadFile(recorded, path.Join("recorded", v.Dir, "record.log"))
	return string(b), err
}
