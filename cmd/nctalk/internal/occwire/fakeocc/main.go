// Command fakeocc is a stand-in for Nextcloud's `occ` with the Talk app's
// signaling, TURN and STUN commands, for tests. It keeps the app config in
// a JSON file and mirrors the Talk app's PHP code (lib/Command/Signaling,
// Turn, Stun): argument order, validation messages, the `--output=json`
// shapes (PHP's json_encode, "/" written as "\/"), duplicate TURN/STUN adds
// failing with exit 1, signaling adds without a duplicate check, deletes of
// exact matches that succeed when nothing matches, and the default STUN
// server coming back when the last one is deleted. Options are parsed like
// Symfony console parses them. It plays the releases in occtest.Versions
// (occtest.EnvVersion) and the rows of occtest.Contract: list output goes
// through Symfony's formatter, a read-only config exits 0 with its reason,
// and STUN and TURN entries are checked and normalised by Talk's rules
// (occwire.TalkSTUNStored, TalkTURNStored). See ../occtest for the
// environment.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire"
	"github.com/nctalk/nctalk/cmd/nctalk/internal/occwire/occtest"
)

const defaultSTUN = "stun.nextcloud.com:443"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// option describes one Symfony console option.
type option struct {
	name       string
	takesValue bool
}

// definition is one command's arguments and options.
type definition struct {
	args    []string
	options []option
	run     func(in input, s *occtest.State, stdout io.Writer) (exit int, changed bool)
}

// input is a parsed command line.
type input struct {
	args    map[string]string
	options map[string]string // value, or "" for a flag that is set
}

func (in input) has(name string) bool { _, ok := in.options[name]; return ok }

var outputOption = option{name: "output", takesValue: true}

var commands = map[string]definition{
	"talk:signaling:list":   {options: []option{outputOption}, run: signalingList},
	"talk:signaling:add":    {args: []string{"server", "secret"}, options: []option{{name: "verify"}}, run: signalingAdd},
	"talk:signaling:delete": {args: []string{"server"}, run: signalingDelete},
	"talk:turn:list":        {options: []option{outputOption}, run: turnList},
	"talk:turn:add":         {args: []string{"schemes", "server", "protocols"}, options: []option{{name: "secret", takesValue: true}, {name: "generate-secret"}}, run: turnAdd},
	"talk:turn:delete":      {args: []string{"schemes", "server", "protocols"}, run: turnDelete},
	"talk:stun:list":        {options: []option{outputOption}, run: stunList},
	"talk:stun:add":         {args: []string{"server"}, run: stunAdd},
	"talk:stun:delete":      {args: []string{"server"}, run: stunDelete},
}

func run(argv []string, stdout, stderr io.Writer) int {
	statePath := os.Getenv(occtest.EnvState)
	if statePath == "" {
		fmt.Fprintf(stderr, "fakeocc: %s is not set\n", occtest.EnvState)
		return 2
	}
	call, err := logCall(argv)
	if err != nil {
		fmt.Fprintf(stderr, "fakeocc: %v\n", err)
		return 2
	}
	if n, _ := strconv.Atoi(os.Getenv(occtest.EnvFailCall)); n > 0 && n == call {
		fmt.Fprintf(stdout, "An unhandled exception has been thrown while running: %s\n", strings.Join(argv, " "))
		fmt.Fprintln(stderr, "fakeocc: injected failure")
		return 1
	}
	version, ok := occtest.LookupVersion(os.Getenv(occtest.EnvVersion))
	if !ok {
		fmt.Fprintf(stderr, "fakeocc: %s=%q is not one of the recorded releases\n", occtest.EnvVersion, os.Getenv(occtest.EnvVersion))
		return 2
	}
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "fakeocc: no command")
		return 1
	}
	def, ok := commands[argv[0]]
	if !ok {
		fmt.Fprintf(stderr, "\n  Command %q is not defined.\n\n", argv[0])
		return 1
	}
	in, problem := parse(def, argv[1:])
	if problem != "" {
		fmt.Fprintf(stderr, "\n  %s\n\n", problem)
		return 1
	}
	state, err := occtest.LoadState(statePath)
	if err != nil {
		fmt.Fprintf(stderr, "fakeocc: %v\n", err)
		return 2
	}
	if state.ConfigReadOnly {
		// lib/base.php checkConfig runs before any command: echo, exit.
		fmt.Fprint(stdout, occtest.ConfigReadOnlyMessage(version))
		return 0
	}
	exit, changed := def.run(in, &state, stdout)
	if changed {
		if err := occtest.SaveState(statePath, state); err != nil {
			fmt.Fprintf(stderr, "fakeocc: %v\n", err)
			return 2
		}
	}
	return exit
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

// parse reads tokens the way Symfony's ArgvInput does for these commands.
// A non-empty problem is Symfony's message for a bad command line.
func parse(def definition, tokens []string) (in input, problem string) {
	in = input{args: map[string]string{}, options: map[string]string{}}
	var positional []string
	onlyArgs := false
	for i := 0; i < len(tokens); i++ {
		tok := tokens[i]
		switch {
		case onlyArgs || tok == "-" || !strings.HasPrefix(tok, "-"):
			positional = append(positional, tok)
		case tok == "--":
			onlyArgs = true
		case strings.HasPrefix(tok, "--"):
			name, value, hasValue := strings.Cut(tok[2:], "=")
			opt, ok := findOption(def, name)
			if !ok {
				return in, fmt.Sprintf("The \"--%s\" option does not exist.", name)
			}
			if !opt.takesValue {
				if hasValue {
					return in, fmt.Sprintf("The \"--%s\" option does not accept a value.", name)
				}
				in.options[name] = ""
				continue
			}
			if !hasValue && i+1 < len(tokens) && (tokens[i+1] == "" || tokens[i+1][0] != '-') {
				i++
				value, hasValue = tokens[i], true
			}
			if !hasValue {
				return in, fmt.Sprintf("The \"--%s\" option requires a value.", name)
			}
			in.options[name] = value
		default:
			return in, fmt.Sprintf("The \"-%c\" option does not exist.", tok[1])
		}
	}
	if len(positional) > len(def.args) {
		return in, fmt.Sprintf("Too many arguments, expected arguments %q.", def.args)
	}
	if len(positional) < len(def.args) {
		return in, fmt.Sprintf("Not enough arguments (missing: %q).", strings.Join(def.args[len(positional):], ", "))
	}
	for i, name := range def.args {
		in.args[name] = positional[i]
	}
	return in, ""
}

func findOption(def definition, name string) (option, bool) {
	for _, o := range def.options {
		if o.name == name {
			return o, true
		}
	}
	return option{}, false
}

// writeList writes a list command's result in --output's format.
func writeList(in input, stdout io.Writer, v any) {
	switch in.options["output"] {
	case "json", "json_pretty":
		// $output->writeln(json_encode($items)): through the formatter.
		fmt.Fprintln(stdout, occtest.SymfonyFormat(phpJSON(v)))
	default:
		fmt.Fprintf(stdout, "  - %s\n", phpJSON(v))
	}
}

// phpJSON encodes v the way PHP's json_encode does by default.
func phpJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	var out strings.Builder
	for _, r := range strings.TrimSuffix(buf.String(), "\n") {
		switch {
		case r == '/':
			out.WriteString(`\/`)
		case r > 0x7f && r <= 0xffff:
			fmt.Fprintf(&out, `\u%04x`, r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&out, `\u%04x\u%04x`, 0xd800+(r>>10)&0x3ff, 0xdc00+r&0x3ff)
		default:
			out.WriteRune(r)
		}
	}
	return out.String()
}

func signalingList(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	if s.Signaling == nil {
		writeList(in, stdout, []any{})
		return 0, false
	}
	c := *s.Signaling
	if c.Servers == nil {
		c.Servers = []occtest.SignalingServer{}
	}
	writeList(in, stdout, c)
	return 0, false
}

func signalingAdd(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	server, secret := in.args["server"], in.args["secret"]
	if strings.TrimSpace(server) == "" {
		fmt.Fprintln(stdout, "Server cannot be empty.")
		return 1, false
	}
	if strings.TrimSpace(secret) == "" {
		fmt.Fprintln(stdout, "Secret cannot be empty.")
		return 1, false
	}
	var servers []occtest.SignalingServer
	if s.Signaling != nil {
		servers = s.Signaling.Servers
	}
	servers = append(servers, occtest.SignalingServer{Server: server, Verify: in.has("verify")})
	s.Signaling = &occtest.SignalingConfig{Servers: servers, Secret: secret}
	fmt.Fprintf(stdout, "Added signaling server %s.\n", server)
	return 0, true
}

func signalingDelete(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	server := in.args["server"]
	if s.Signaling == nil {
		s.Signaling = &occtest.SignalingConfig{Servers: []occtest.SignalingServer{}}
	}
	kept := []occtest.SignalingServer{}
	for _, e := range s.Signaling.Servers {
		if e.Server != server {
			kept = append(kept, e)
		}
	}
	deleted := len(kept) < len(s.Signaling.Servers)
	s.Signaling.Servers = kept
	if deleted {
		fmt.Fprintf(stdout, "Deleted %s.\n", server)
	} else {
		fmt.Fprintln(stdout, "There is nothing to delete.")
	}
	return 0, true
}

func turnList(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	list := s.TURN
	if list == nil {
		list = []occtest.TURNEntry{}
	}
	writeList(in, stdout, list)
	return 0, false
}

func turnAdd(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	schemes, server, protocols := in.args["schemes"], in.args["server"], in.args["protocols"]
	secret, hasSecret := in.options["secret"]
	generate := in.has("generate-secret")
	stored, err := occwire.TalkTURNStored(schemes, server, protocols)
	var rule *occwire.TalkRuleError
	switch {
	case errors.As(err, &rule):
		fmt.Fprintln(stdout, rule.Message)
		return 1, false
	case generate == hasSecret:
		fmt.Fprintln(stdout, "You must provide --secret or --generate-secret.")
		return 1, false
	case !generate && strings.TrimSpace(secret) == "":
		fmt.Fprintln(stdout, occwire.TalkMsgSecretEmpty)
		return 1, false
	}
	if generate {
		secret = "generated0123456789abcdef0123456789abcdef"
	}
	server = stored
	for _, e := range s.TURN {
		if e.Schemes == schemes && e.Server == server && e.Protocols == protocols {
			fmt.Fprintln(stdout, "Server already exists with the same configuration.")
			return 1, false
		}
	}
	s.TURN = append(s.TURN, occtest.TURNEntry{Schemes: schemes, Server: server, Secret: secret, Protocols: protocols})
	fmt.Fprintf(stdout, "Added %s.\n", server)
	return 0, true
}

func turnDelete(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	schemes, server, protocols := in.args["schemes"], in.args["server"], in.args["protocols"]
	kept := []occtest.TURNEntry{}
	for _, e := range s.TURN {
		if e.Schemes != schemes || e.Server != server || e.Protocols != protocols {
			kept = append(kept, e)
		}
	}
	deleted := len(kept) < len(s.TURN)
	s.TURN = kept
	if deleted {
		fmt.Fprintf(stdout, "Deleted %s.\n", server)
	} else {
		fmt.Fprintln(stdout, "There is nothing to delete.")
	}
	return 0, true
}

func stunList(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	list := s.STUN
	if list == nil {
		list = []string{}
	}
	writeList(in, stdout, list)
	return 0, false
}

func stunAdd(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	server, err := occwire.TalkSTUNStored(in.args["server"])
	if err != nil {
		fmt.Fprintln(stdout, occwire.TalkMsgSTUNIncorrect)
		return 1, false
	}
	for _, e := range s.STUN {
		if e == server {
			fmt.Fprintln(stdout, "Server already exists.")
			return 1, false
		}
	}
	s.STUN = append(s.STUN, server)
	fmt.Fprintf(stdout, "Added %s.\n", server)
	return 0, true
}

func stunDelete(in input, s *occtest.State, stdout io.Writer) (int, bool) {
	server := in.args["server"]
	kept := []string{}
	for _, e := range s.STUN {
		if e != server {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		s.STUN = []string{defaultSTUN}
		fmt.Fprintln(stdout, "You deleted all STUN servers. A default STUN server was added.")
		return 0, true
	}
	deleted := len(kept) < len(s.STUN)
	s.STUN = kept
	if deleted {
		fmt.Fprintf(stdout, "Deleted %s.\n", server)
	} else {
		fmt.Fprintln(stdout, "There is nothing to delete.")
	}
	return 0, true
}
