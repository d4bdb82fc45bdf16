package occtest

// Version is one Nextcloud + Talk release pair the fake stands for.
type Version struct {
	// Nextcloud and Talk are the release numbers.
	Nextcloud, Talk string
	// Symfony is the symfony/console release Nextcloud ships
	// (nextcloud/3rdparty's composer.lock at the Nextcloud tag).
	Symfony string
	// Dir is the version's folder under occtest/recorded.
	Dir string
}

// Versions are the supported releases; the fake's default is the last.
var Versions = []Version{
	{Nextcloud: "31.0.8", Talk: "21.1.3", Symfony: "v6.4.17", Dir: "nc31.0.8-talk21.1.3"},
	{Nextcloud: "34.0.1", Talk: "23.0.6", Symfony: "v6.4.41", Dir: "nc34.0.1-talk23.0.6"},
}

// EnvVersion selects the release the fake plays (a Version's Nextcloud
// number); unset means the newest.
const EnvVersion = "FAKEOCC_VERSION"

// LookupVersion returns the Version for a Nextcloud release number ("" is
// the newest).
func LookupVersion(nextcloud string) (Version, bool) {
	if nextcloud == "" {
		return Versions[len(Versions)-1], true
	}
	for _, v := range Versions {
		if v.Nextcloud == nextcloud {
			return v, true
		}
	}
	return Version{}, false
}

// behaviour is one row of the contract between the real occ and the fake.
type behaviour struct {
	// ID names the behaviour in tests and transcripts.
	ID string
	// Real is what Nextcloud/Talk does, and where (source file, function).
	Real string
	// Fake is how the fake plays it (the state field or call that
	// triggers it).
	Fake string
}

// contract is the one table of real occ behaviours the fake replays and
// nctalk's tests rely on. The same rows are in docs/occ.md.
var contract = []behaviour{
	{"list-json", "`talk:*:list --output=json` print `json_encode()` of the stored value and a newline (`core/Command/Base.php` `writeArrayInOutputFormat`); signaling is `{\"servers\":[…],\"secret\":…}`, or `[]` when never set", "same shapes and escaping (`/` as `\\/`, non-ASCII as `\\uXXXX`)"},
	{"list-formats", "without `--output` (or `--output=plain`) the lists print `key: value` lines, nested arrays indented by two blanks, STUN entries as `  - host:port`, nothing for an empty list; `--output=json_pretty` is `JSON_PRETTY_PRINT` (four blanks); `--output json` takes the next word", "the same formats, checked against every recorded list"},
	{"formatter", "that JSON passes Symfony's `OutputFormatter`: a tag naming a style (`<info>`, `<error>`, `<fg=red>`, …) vanishes, `\\<` and `\\>` lose their backslash, so a value holding `\\<` comes out as invalid JSON", "`occtest.SymfonyFormat`, checked against the recorded output"},
	{"exit0-config", "config/config.php not writable (and `config_is_read_only` unset): occ prints `Cannot write into \"config\" directory!` and three more lines on stdout and **exits 0** before any command runs (`lib/base.php` `checkConfig`: `echo …; exit;`)", "state `config_read_only: true` replays the recorded answer"},
	{"talk-disabled", "with the spreed app disabled, `talk:signaling:list` is unknown: Symfony's box `There are no commands defined in the \"talk:signaling\" namespace.` on stderr, exit 1", "state `talk_disabled: true` replays the recorded answer"},
	{"stun-add", "`talk:stun:add` takes `parse_url()`'s host and port and refuses (`Incorrect value. Must be stunserver:port.`, exit 1) when either is empty (PHP's `empty()`: port 0, host `0`); it stores `host:port`, so `host:03478` is stored as `host:3478`; `[2001:db8::1]:3478` is refused (no scheme: parse_url finds no host); a duplicate of the stored form exits 1 (`Server already exists.`)", "the recorded case of that exact entry (`stunAdd`): its answer and stored value; an entry not recorded exits 3"},
	{"stun-delete", "removes exact matches of its argument (not normalised); deleting the last puts `stun.nextcloud.com:443` back; exit 0 when nothing matched", "same"},
	{"turn-add", "schemes `turn`, `turns`, `turn,turns`; protocols `udp`, `tcp`, `udp,tcp` (checked in that order); server not blank after PHP's `trim`; a leading `https://` and then `http://` (any case) is cut off; an entry equal in schemes, server and protocols exits 1, the secret is not compared", "the recorded case of those exact schemes, server and protocols (`turnAdd`); one not recorded exits 3"},
	{"generate-secret", "`talk:turn:add … --generate-secret` stores 40 hex digits on Talk 21 (`sha1(uniqid())`), 128 characters of base64's alphabet on Talk 23 (`ISecureRandom`)", "as long and of the alphabet the recorded secrets are"},
	{"turn-delete", "removes exact matches of schemes, server and protocols; exit 0 when nothing matched", "same"},
	{"signaling-add", "appends without a duplicate check and sets the one global secret; server and secret must not be blank", "same"},
	{"signaling-delete", "removes exact matches (a trailing `/` matters); exit 0 when nothing matched", "same"},
	{"messages", "Talk's messages (`<info>Added …</info>`, `<error>…</error>`) go to stdout without their tags", "same texts"},
	{"input-errors", "Symfony's input errors (missing or extra arguments, unknown or misused options) go to stderr in a box of blanks (lines of at most 75 characters) followed by the command's synopsis, exit 1; an unknown command gets Symfony's suggestions", "the same box and synopsis; unknown commands replay their recorded answer, others exit 3"},
	{"timeout-pipes", "behind `sudo -u www-data`, killing sudo leaves php running and holding occ's stdout and stderr", "tests use a wrapper whose child outlives it"},
}

// ConfigReadOnlyMessage is what occ printed on stdout (exit 0) when it
// could not write config/config.php (lib/base.php checkConfig), as
// recorded for release v.
func ConfigReadOnlyMessage(v Version) string {
	t, err := LoadTranscript(v)
	if err != nil {
		panic(err)
	}
	return t.ConfigReadOnly.Stdout
}
