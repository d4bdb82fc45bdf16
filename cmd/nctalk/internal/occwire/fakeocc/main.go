// Command fakeocc is a stand-in for Nextcloud's `occ` with the Talk app's
// signaling, TURN and STUN commands, for tests. It keeps the app config in
// a JSON file (occtest.State) and replays what the real occ was recorded
// doing (occtest.LoadTranscript, recorded by occtest/recorded/record.php on
// a real Nextcloud of each release in occtest.Versions):
//
//   - Talk's add rules are lookups, not code: `talk:stun:add E` and
//     `talk:turn:add S H P` answer and store what the recording shows for
//     that exact input (its stunAdd and turnAdd cases). An input the
//     recording lacks ends the fake with exit 3 naming it: record it.
//   - What follows from the stored value is played here, in the shape the
//     recorded calls show and TestFakeReplaysTranscripts checks call by
//     call: lists in the plain, json and json_pretty formats (Nextcloud's
//     Base::writeArrayInOutputFormat, through Symfony's formatter), duplicate
//     TURN and STUN adds refused, signaling adds without a duplicate check,
//     deletes of exact matches, the default STUN server put back, Symfony's
//     argument errors in their box with the command's synopsis, and
//     --generate-secret as long and of the characters the recorded ones are.
//   - Commands occ does not have, the read-only config and a disabled Talk
//     print what occ printed for them.
//
// It imports nothing of nctalk: a rule nctalk gets wrong cannot be wrong the
// same way here.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

// exitNotRecorded is the fake's exit status for a call it has no recording
// for.
const exitNotRecorded = 3

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// option is one Symfony console option of a command.
type option struct {
	name string
	// value is "", "required" or "optional" (Symfony's VALUE_NONE,
	// VALUE_REQUIRED, VALUE_OPTIONAL).
	value string
}

// definition is one command's arguments, options and synopsis (Symfony's
// Command::getSynopsis()), as Talk declares them.
type definition struct {
	args     []string
	options  []option
	synopsis string
	run      func(c *call) int
}

// Nextcloud's Base::configure adds --output (VALUE_OPTIONAL, default plain)
// to the list commands.
var outputOption = option{name: "output", value: "optional"}

var commands = map[string]definition{
	"talk:signaling:list":   {options: []option{outputOption}, synopsis: "talk:signaling:list [--output [OUTPUT]]", run: signalingList},
	"talk:signaling:add":    {args: []string{"server", "secret"}, options: []option{{name: "verify"}}, synopsis: "talk:signaling:add [--verify] [--] <server> <secret>", run: signalingAdd},
	"talk:signaling:delete": {args: []string{"server"}, synopsis: "talk:signaling:delete <server>", run: signalingDelete},
	"talk:turn:list":        {options: []option{outputOption}, synopsis: "talk:turn:list [--output [OUTPUT]]", run: turnList},
	"talk:turn:add": {args: []string{"schemes", "server", "protocols"},
		options:  []option{{name: "secret", value: "required"}, {name: "generate-secret"}},
		synopsis: "talk:turn:add [--secret SECRET] [--generate-secret] [--] <schemes> <server> <protocols>", run: turnAdd},
	"talk:turn:delete": {args: []string{"schemes", "server", "protocols"}, synopsis: "talk:turn:delete <schemes> <server> <protocols>", run: turnDelete},
	"talk:stun:list":   {options: []option{outputOption}, synopsis: "talk:stun:list [--output [OUTPUT]]", run: stunList},
	"talk:stun:add":    {args: []string{"server"}, synopsis: "talk:stun:add <server>", run: stunAdd},
	"talk:stun:delete": {args: []string{"server"}, synopsis: "talk:stun:delete <server>", run: stunDelete},
}

// applicationOptions are the options occ's Application adds to every
// command; the fake does not play them.
var applicationOptions = []string{"help", "quiet", "verbose", "version", "ansi", "no-ansi", "no-interaction", "no-warnings", "h", "q", "v", "vv", "vvv", "V", "n"}

// call is one run of the fake.
type call struct {
	argv           []string
	args           map[string]string
	options        map[string]*string // nil value: set without a value
	state          *occtest.State
	rec            occtest.Transcript
	stdout, stderr io.Writer
	changed        bool
}

func (c *call) has(name string) bool { _, ok := c.options[name]; return ok }

// writeln is Symfony's OutputInterface::writeln on occ's stdout: the
// message through the formatter, then a newline.
func (c *call) writeln(msg string) { fmt.Fprintln(c.stdout, occtest.SymfonyFormat(msg)) }

// replay prints what a recorded call printed and returns its status.
func (c *call) replay(r occtest.Call) int {
	fmt.Fprint(c.stdout, r.Stdout)
	fmt.Fprint(c.stderr, r.Stderr)
	return r.Exit
}

// notRecorded ends a call the recording has nothing for.
func (c *call) notRecorded(what string) int {
	fmt.Fprintf(c.stderr, "fakeocc: %s is not in the recording of Nextcloud %s (occtest/recorded): add it to record.php's cases and re-record (docs/occ.md)\n",
		what, c.rec.Recorded.Nextcloud)
	return exitNotRecorded
}

func run(argv []string, stdout, stderr io.Writer) int {
	statePath := os.Getenv(occtest.EnvState)
	if statePath == "" {
		fmt.Fprintf(stderr, "fakeocc: %s is not set\n", occtest.EnvState)
		return 2
	}
	n, err := logCall(argv)
	if err != nil {
		fmt.Fprintf(stderr, "fakeocc: %v\n", err)
		return 2
	}
	if fail, _ := strconv.Atoi(os.Getenv(occtest.EnvFailCall)); fail > 0 && fail == n {
		fmt.Fprintf(stdout, "An unhandled exception has been thrown while running: %s\n", strings.Join(argv, " "))
		fmt.Fprintln(stderr, "fakeocc: injected failure")
		return 1
	}
	version, ok := occtest.LookupVersion(os.Getenv(occtest.EnvVersion))
	if !ok {
		fmt.Fprintf(stderr, "fakeocc: %s=%q is not one of the recorded releases\n", occtest.EnvVersion, os.Getenv(occtest.EnvVersion))
		return 2
	}
	rec, err := occtest.LoadTranscript(version)
	if err != nil {
		fmt.Fprintf(stderr, "fakeocc: %v\n", err)
		return 2
	}
	state, err := occtest.LoadState(statePath)
	if err != nil {
		fmt.Fprintf(stderr, "fakeocc: %v\n", err)
		return 2
	}
	c := &call{argv: argv, state: &state, rec: rec, stdout: stdout, stderr: stderr}
	exit := c.dispatch()
	if c.changed {
		if err := occtest.SaveState(statePath, state); err != nil {
			fmt.Fprintf(stderr, "fakeocc: %v\n", err)
			return 2
		}
	}
	return exit
}

func (c *call) dispatch() int {
	if c.state.ConfigReadOnly {
		// lib/base.php checkConfig runs before any command.
		return c.replay(c.rec.ConfigReadOnly)
	}
	if c.state.TalkDisabled {
		if slices.Equal(c.argv, c.rec.TalkDisabled.Args) {
			return c.replay(c.rec.TalkDisabled)
		}
		return c.notRecorded(fmt.Sprintf("%q with Talk disabled", c.argv))
	}
	if len(c.argv) == 0 {
		return c.notRecorded("occ without a command")
	}
	def, ok := commands[c.argv[0]]
	if !ok {
		for _, r := range c.rec.Calls {
			if slices.Equal(r.Args, c.argv) {
				return c.replay(r)
			}
		}
		return c.notRecorded(fmt.Sprintf("the command %q", c.argv[0]))
	}
	if problem, played := c.parse(def); problem != "" {
		if !played {
			return c.notRecorded(problem)
		}
		c.renderError(problem, def.synopsis)
		return 1
	}
	return def.run(c)
}

// logCall appends argv to the log and returns the call's number (1-based).
func logCall(argv []string) (int, error) {
	path := os.Getenv(occtest.EnvLog)
	if path == "" {
		return 0, nil
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return 0, err
	}
	line, err := json.Marshal(argv)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Write(append(line, '\n')); err != nil {
		return 0, err
	}
	return bytes.Count(old, []byte("\n")) + 1, nil
}

// parse reads the command line the way Symfony Console 6.4's ArgvInput
// does for these commands. A problem with played false is one the fake
// does not play (an application-wide option).
func (c *call) parse(def definition) (problem string, played bool) {
	c.args, c.options = map[string]string{}, map[string]*string{}
	var positional []string
	tokens := slices.Clone(c.argv[1:])
	onlyArgs := false
	for len(tokens) > 0 {
		tok := tokens[0]
		tokens = tokens[1:]
		switch {
		case onlyArgs || tok == "" || tok == "-" || tok[0] != '-':
			if len(positional) == len(def.args) {
				if len(def.args) == 0 {
					return fmt.Sprintf("No arguments expected for %q command, got %q.", c.argv[0], tok), true
				}
				return fmt.Sprintf("Too many arguments to %q command, expected arguments \"%s\".", c.argv[0], strings.Join(def.args, `" "`)), true
			}
			positional = append(positional, tok)
		case tok == "--":
			onlyArgs = true
		case strings.HasPrefix(tok, "--"):
			name, value, hasValue := strings.Cut(tok[2:], "=")
			if slices.Contains(applicationOptions, name) {
				return "the application option --" + name, false
			}
			opt, ok := findOption(def, name)
			if !ok {
				return fmt.Sprintf("The \"--%s\" option does not exist.", name), true
			}
			if hasValue && opt.value == "" {
				return fmt.Sprintf("The \"--%s\" option does not accept a value.", name), true
			}
			// A value-taking option without "=" takes the next token
			// unless that starts with "-" ("--secret=" is the value "").
			if !hasValue && opt.value != "" && len(tokens) > 0 {
				if next := tokens[0]; next == "" || next[0] != '-' {
					value, hasValue = next, true
					tokens = tokens[1:]
				}
			}
			if !hasValue && opt.value == "required" {
				return fmt.Sprintf("The \"--%s\" option requires a value.", name), true
			}
			if hasValue {
				c.options[name] = &value
			} else {
				c.options[name] = nil
			}
		default:
			short := string([]rune(tok[1:])[0])
			if slices.Contains(applicationOptions, short) {
				return "the application option -" + short, false
			}
			return fmt.Sprintf("The \"-%s\" option does not exist.", short), true
		}
	}
	if len(positional) < len(def.args) {
		return fmt.Sprintf("Not enough arguments (missing: \"%s\").", strings.Join(def.args[len(positional):], ", ")), true
	}
	for i, name := range def.args {
		c.args[name] = positional[i]
	}
	return "", true
}

func findOption(def definition, name string) (option, bool) {
	for _, o := range def.options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

// renderError writes an input error the way Symfony's
// Application::renderThrowable does on an undecorated stderr 80 columns
// wide: the message in a box of blanks (lines of at most 75 characters),
// then the command's synopsis.
func (c *call) renderError(msg, synopsis string) {
	var lines []string
	for _, line := range strings.Split(msg, "\n") {
		r := []rune(line)
		for len(r) > 75 {
			lines = append(lines, string(r[:75]))
			r = r[75:]
		}
		lines = append(lines, string(r))
	}
	width := 0
	for _, l := range lines {
		width = max(width, len([]rune(l))+4)
	}
	var b strings.Builder
	b.WriteString("\n")
	b.WriteString(strings.Repeat(" ", width) + "\n")
	for _, l := range lines {
		b.WriteString("  " + l + "  " + strings.Repeat(" ", width-len([]rune(l))-4) + "\n")
	}
	b.WriteString(strings.Repeat(" ", width) + "\n\n")
	b.WriteString(synopsis + "\n\n")
	fmt.Fprint(c.stderr, b.String())
}

// ---------------------------------------------------------------- lists

// member is one key and value of a PHP array with string keys.
type member struct {
	key   string
	value any
}

// object is a PHP array with string keys, in order; []any is a list; the
// other values are string and bool.
type object []member

// writeList writes a list command's result as Nextcloud's
// Base::writeArrayInOutputFormat does for --output (plain unless json or
// json_pretty), prefix being the plain format's line prefix.
func (c *call) writeList(v any, prefix string) {
	format := ""
	if o, ok := c.options["output"]; ok && o != nil {
		format = *o
	}
	switch format {
	case "json":
		c.writeln(phpJSON(v, ""))
	case "json_pretty":
		c.writeln(phpJSON(v, "\n"))
	default:
		c.writePlain(v, prefix)
	}
}

// writePlain is the plain branch: "key: value" lines, nested arrays
// indented by two more blanks, list members "<prefix>value".
func (c *call) writePlain(v any, prefix string) {
	line := func(key string, item any) {
		switch item := item.(type) {
		case object, []any:
			c.writeln(prefix + key + ":")
			c.writePlain(item, "  "+prefix)
		case bool:
			c.writeln(prefix + key + ": " + strconv.FormatBool(item))
		default:
			c.writeln(prefix + key + ": " + item.(string))
		}
	}
	switch v := v.(type) {
	case object:
		for _, m := range v {
			line(m.key, m.value)
		}
	case []any:
		for i, item := range v {
			switch s := item.(type) {
			case string:
				c.writeln(prefix + s)
			default:
				line(strconv.Itoa(i), item)
			}
		}
	}
}

// phpJSON is PHP's json_encode of v without flags ("/" as "\/", non-ASCII
// as \uXXXX), or with JSON_PRETTY_PRINT (four blanks a level) when nl is
// "\n".
func phpJSON(v any, nl string) string {
	var b strings.Builder
	var enc func(v any, indent string)
	enc = func(v any, indent string) {
		inner := indent
		sep := ":"
		if nl != "" {
			inner = indent + "    "
			sep = ": "
		}
		switch v := v.(type) {
		case string:
			b.WriteString(phpJSONString(v))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case []any:
			if len(v) == 0 {
				b.WriteString("[]")
				return
			}
			b.WriteString("[" + nl)
			for i, item := range v {
				if i > 0 {
					b.WriteString("," + nl)
				}
				b.WriteString(inner)
				enc(item, inner)
			}
			b.WriteString(nl + indent + "]")
		case object:
			if len(v) == 0 {
				b.WriteString("[]") // an empty PHP array is a list
				return
			}
			b.WriteString("{" + nl)
			for i, m := range v {
				if i > 0 {
					b.WriteString("," + nl)
				}
				b.WriteString(inner + phpJSONString(m.key) + sep)
				enc(m.value, inner)
			}
			b.WriteString(nl + indent + "}")
		}
	}
	enc(v, "")
	return b.String()
}

func phpJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '/':
			b.WriteString(`\/`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r < 0x80:
			b.WriteRune(r)
		case r <= 0xffff:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10)&0x3ff, 0xdc00+r&0x3ff)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ---------------------------------------------------------------- signaling

func signalingValue(s *occtest.SignalingConfig) any {
	if s == nil {
		return []any{}
	}
	servers := []any{}
	for _, e := range s.Servers {
		servers = append(servers, object{{"server", e.Server}, {"verify", e.Verify}})
	}
	return object{{"servers", servers}, {"secret", s.Secret}}
}

func signalingList(c *call) int {
	c.writeList(signalingValue(c.state.Signaling), "")
	return 0
}

// phpTrim is PHP's trim() with its default characters.
func phpTrim(s string) string { return strings.Trim(s, " \t\n\r\x00\x0b") }

func signalingAdd(c *call) int {
	server, secret := c.args["server"], c.args["secret"]
	if phpTrim(server) == "" {
		c.writeln("<error>Server cannot be empty.</error>")
		return 1
	}
	if phpTrim(secret) == "" {
		c.writeln("<error>Secret cannot be empty.</error>")
		return 1
	}
	var servers []occtest.SignalingServer
	if c.state.Signaling != nil {
		servers = c.state.Signaling.Servers
	}
	servers = append(servers, occtest.SignalingServer{Server: server, Verify: c.has("verify")})
	c.state.Signaling = &occtest.SignalingConfig{Servers: servers, Secret: secret}
	c.changed = true
	c.writeln("<info>Added signaling server " + server + ".</info>")
	return 0
}

func signalingDelete(c *call) int {
	server := c.args["server"]
	if c.state.Signaling == nil {
		c.state.Signaling = &occtest.SignalingConfig{Servers: []occtest.SignalingServer{}}
	}
	kept := []occtest.SignalingServer{}
	for _, e := range c.state.Signaling.Servers {
		if e.Server != server {
			kept = append(kept, e)
		}
	}
	deleted := len(kept) < len(c.state.Signaling.Servers)
	c.state.Signaling.Servers = kept
	c.changed = true
	if deleted {
		c.writeln("<info>Deleted " + server + ".</info>")
	} else {
		c.writeln("<info>There is nothing to delete.</info>")
	}
	return 0
}

// ---------------------------------------------------------------- TURN

func turnList(c *call) int {
	list := []any{}
	for _, e := range c.state.TURN {
		list = append(list, object{{"schemes", e.Schemes}, {"server", e.Server}, {"secret", e.Secret}, {"protocols", e.Protocols}})
	}
	c.writeList(list, "")
	return 0
}

func turnAdd(c *call) int {
	schemes, server, protocols := c.args["schemes"], c.args["server"], c.args["protocols"]
	i := slices.IndexFunc(c.rec.TURNAdd, func(t occtest.TURNCase) bool {
		return t.Schemes == schemes && t.Server == server && t.Protocols == protocols
	})
	if i < 0 {
		return c.notRecorded(fmt.Sprintf("talk:turn:add %q %q %q", schemes, server, protocols))
	}
	rec := c.rec.TURNAdd[i]
	if rec.Stored == nil {
		// Refused for its schemes, server or protocols, before the secret.
		return c.replay(occtest.Call{Stdout: rec.Stdout, Stderr: rec.Stderr, Exit: rec.Exit})
	}
	secret, hasSecret := c.options["secret"]
	generate := c.has("generate-secret")
	switch {
	case generate == hasSecret:
		c.writeln("<error>You must provide --secret or --generate-secret.</error>")
		return 1
	case !generate && phpTrim(*secret) == "":
		c.writeln("<error>Secret cannot be empty.</error>")
		return 1
	}
	value := ""
	if generate {
		value = generateSecret(c.rec.GeneratedSecret.Secrets)
	} else {
		value = *secret
	}
	for _, e := range c.state.TURN {
		if e.Schemes == schemes && e.Server == *rec.Stored && e.Protocols == protocols {
			c.writeln("<error>Server already exists with the same configuration.</error>")
			return 1
		}
	}
	c.state.TURN = append(c.state.TURN, occtest.TURNEntry{Schemes: schemes, Server: *rec.Stored, Secret: value, Protocols: protocols})
	c.changed = true
	return c.replay(occtest.Call{Stdout: rec.Stdout, Stderr: rec.Stderr, Exit: rec.Exit})
}

// generateSecret makes a secret like the recorded ones: as long, of
// lower-case hex digits when they all are (Talk 21: sha1(uniqid())),
// otherwise of the 64 base64 characters (Talk 23: ISecureRandom).
func generateSecret(samples []string) string {
	alphabet := "0123456789abcdef"
	for _, s := range samples {
		if strings.Trim(s, alphabet) != "" {
			alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		}
	}
	n := 40
	if len(samples) > 0 {
		n = len(samples[0])
	}
	b := make([]byte, n)
	for i := range b {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b)
}

func turnDelete(c *call) int {
	schemes, server, protocols := c.args["schemes"], c.args["server"], c.args["protocols"]
	kept := []occtest.TURNEntry{}
	for _, e := range c.state.TURN {
		if e.Schemes != schemes || e.Server != server || e.Protocols != protocols {
			kept = append(kept, e)
		}
	}
	deleted := len(kept) < len(c.state.TURN)
	c.state.TURN = kept
	c.changed = true
	if deleted {
		c.writeln("<info>Deleted " + server + ".</info>")
	} else {
		c.writeln("<info>There is nothing to delete.</info>")
	}
	return 0
}

// ---------------------------------------------------------------- STUN

func stunList(c *call) int {
	list := []any{}
	for _, e := range c.state.STUN {
		list = append(list, e)
	}
	c.writeList(list, "  - ")
	return 0
}

func stunAdd(c *call) int {
	entry := c.args["server"]
	i := slices.IndexFunc(c.rec.STUNAdd, func(s occtest.STUNCase) bool { return s.Entry == entry })
	if i < 0 {
		return c.notRecorded(fmt.Sprintf("talk:stun:add %q", entry))
	}
	rec := c.rec.STUNAdd[i]
	if rec.Stored == nil {
		return c.replay(occtest.Call{Stdout: rec.Stdout, Stderr: rec.Stderr, Exit: rec.Exit})
	}
	if slices.Contains(c.state.STUN, *rec.Stored) {
		c.writeln("<error>Server already exists.</error>")
		return 1
	}
	c.state.STUN = append(c.state.STUN, *rec.Stored)
	c.changed = true
	return c.replay(occtest.Call{Stdout: rec.Stdout, Stderr: rec.Stderr, Exit: rec.Exit})
}

func stunDelete(c *call) int {
	server := c.args["server"]
	kept := []string{}
	for _, e := range c.state.STUN {
		if e != server {
			kept = append(kept, e)
		}
	}
	c.changed = true
	if len(kept) == 0 {
		c.state.STUN = []string{"stun.nextcloud.com:443"}
		c.writeln("<info>You deleted all STUN servers. A default STUN server was added.</info>")
		return 0
	}
	deleted := len(kept) < len(c.state.STUN)
	c.state.STUN = kept
	if deleted {
		c.writeln("<info>Deleted " + server + ".</info>")
	} else {
		c.writeln("<info>There is nothing to delete.</info>")
	}
	return 0
}
