package occtest

import "strings"

// Version is one Nextcloud + Talk release pair the fake stands for.
type Version struct {
	// Nextcloud and Talk are the release numbers.
	Nextcloud, Talk string
	// Symfony is the symfony/console release Nextcloud ships
	// (nextcloud/3rdparty's composer.lock at the Nextcloud tag).
	Symfony string
	// Dir is the version's folder under occwire/testdata.
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

// Behaviour is one row of the contract between the real occ and the fake.
type Behaviour struct {
	// ID names the behaviour in tests and transcripts.
	ID string
	// Real is what Nextcloud/Talk does, and where (source file, function).
	Real string
	// Fake is how the fake plays it (the state field or call that
	// triggers it).
	Fake string
}

// Contract is the one table of real occ behaviours the fake replays and
// nctalk's tests rely on. The same rows are in docs/occ.md.
var Contract = []Behaviour{
	{"list-json", "talk:{signaling,turn,stun}:list --output=json print json_encode() of the stored value and a newline (core/Command/Base.php writeArrayInOutputFormat); signaling: {\"servers\":[…],\"secret\":…} or [] when unset", "same shapes, PHP's json_encode escaping"},
	{"formatter", "that JSON goes through Symfony's OutputFormatter: a tag naming a style (<info>, <fg=red>, …) vanishes, \\< and \\> lose their backslash (a value holding \\< makes the JSON invalid)", "SymfonyFormat, checked against testdata/*/formatter.json"},
	{"exit0-config", "when config/config.php is not writable, occ prints \"Cannot write into \\\"config\\\" directory!\" and three more lines on stdout and exits 0 before running any command (lib/base.php checkConfig: echo …; exit;)", "state config_read_only: true"},
	{"stun-add", "talk:stun:add takes parse_url()'s host and port, refuses with \"Incorrect value. Must be stunserver:port.\" (exit 1) when either is empty, stores \"host:port\" (host:03478 -> host:3478), refuses a duplicate of that with \"Server already exists.\"", "occwire.TalkSTUNStored, checked against testdata/*/parse_url.json"},
	{"stun-delete", "talk:stun:delete removes exact matches of its argument (not normalised); the last one gone puts stun.nextcloud.com:443 back; exit 0 even when nothing matched", "same"},
	{"turn-add", "talk:turn:add: schemes turn|turns|turn,turns, protocols udp|tcp|udp,tcp, server not blank, https:// or http:// (any case) cut off; an entry equal in schemes, server and protocols exits 1 (secret not compared)", "occwire.TalkTURNStored"},
	{"turn-delete", "talk:turn:delete removes exact matches of schemes, server and protocols; exit 0 even when nothing matched", "same"},
	{"signaling-add", "talk:signaling:add appends without a duplicate check and sets the one global secret; server and secret must not be blank", "same"},
	{"signaling-delete", "talk:signaling:delete removes exact matches (a trailing / matters); exit 0 even when nothing matched", "same"},
	{"messages", "Talk's own messages are wrapped in <info>/<error> and printed on stdout without the tags; Symfony's input errors go to stderr, exit 1", "same texts"},
	{"timeout-pipes", "behind sudo -u www-data, killing sudo leaves php running and holding occ's stdout and stderr", "tests use a wrapper whose child outlives it"},
}

// ConfigReadOnlyMessage is what occ prints on stdout (exit 0) when it
// cannot write config/config.php (lib/base.php checkConfig, Nextcloud 31
// and 34), for release v.
func ConfigReadOnlyMessage(v Version) string {
	major, _, _ := strings.Cut(v.Nextcloud, ".")
	return "Cannot write into \"config\" directory!\n" +
		"This can usually be fixed by giving the web server write access to the config directory.\n" +
		"\n" +
		"But, if you prefer to keep config.php file read only, set the option \"config_is_read_only\" to true in it.\n" +
		"See https://docs.nextcloud.com/server/" + major + "/go.php?to=admin-config\n"
}
