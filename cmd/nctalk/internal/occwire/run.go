package occwire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Runner runs occ through a command prefix such as `sudo -u www-data php
// /var/www/nextcloud/occ` or `docker exec -u www-data nextcloud php occ`.
// occ's arguments are appended as separate argv words; no local shell is
// involved.
type Runner struct {
	// Prefix is the command that reaches occ, split into words.
	Prefix []string
	// RemoteShell means the prefix hands the command line to a shell on the
	// far side (ssh joins its arguments and the remote shell splits them
	// again), so each occ argument is quoted for that shell.
	RemoteShell bool
	// Timeout bounds each occ run; zero means no limit.
	Timeout time.Duration
}

// NewRunner splits prefix into words (see splitWords). A prefix that starts
// with ssh gets RemoteShell.
func NewRunner(prefix string) (Runner, error) {
	words, err := splitWords(prefix)
	if err != nil {
		return Runner{}, err
	}
	if len(words) == 0 {
		return Runner{}, errors.New("the occ prefix is empty (want e.g. 'sudo -u www-data php /var/www/nextcloud/occ')")
	}
	return Runner{Prefix: words, RemoteShell: filepath.Base(words[0]) == "ssh"}, nil
}

// Argv is the full argv for occ's arguments args.
func (r Runner) Argv(args []string) []string {
	argv := append([]string(nil), r.Prefix...)
	for _, a := range args {
		if r.RemoteShell {
			a = shellQuote(a)
		}
		argv = append(argv, a)
	}
	return argv
}

// Display is the command line for args as a shell would take it, with every
// secret masked. It is the only way commands are shown to the user.
func (r Runner) Display(args []string, m *Masker) string {
	words := make([]string, 0, len(r.Prefix)+len(args))
	for _, w := range r.Prefix {
		words = append(words, shellQuote(m.String(w)))
	}
	for _, a := range args {
		words = append(words, shellQuote(m.String(a)))
	}
	return strings.Join(words, " ")
}

// Result is what one occ run produced.
type Result struct {
	Stdout, Stderr []byte
}

// pipeGrace is how long Run still reads occ's output after the timeout
// killed it: a process that escaped occ's process tree (a daemon that
// double-forked) may still hold the pipes.
const pipeGrace = 100 * time.Millisecond

// Run runs occ with args and waits for it. The error is an *exec.ExitError
// when occ ran and failed, another error when it could not be started or
// ctx ended (errTimeout when the timeout struck).
//
// When ctx ends or the timeout strikes, occ's whole process tree is killed:
// the wrapper (sudo, docker, ssh) and everything it started, the php below
// sudo included, even in the session of its own that sudo's use_pty gives
// it. Run stops waiting for the output pipes right after. occ stays in
// nctalk's process group, so sudo and ssh can still prompt on the terminal
// (a process group of its own would be stopped by SIGTTIN when it reads).
func (r Runner) Run(ctx context.Context, args ...string) (Result, error) {
	runCtx := ctx
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	argv := r.Argv(args)
	cmd := exec.CommandContext(runCtx, argv[0], argv[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Cancel = func() error { return killTree(cmd.Process.Pid) }
	cmd.WaitDelay = pipeGrace
	err := cmd.Run()
	if err != nil && ctx.Err() == nil && errors.Is(runCtx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %s (%v)", errTimeout, r.Timeout, err)
	}
	return Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}, err
}

// errTimeout is wrapped by Run's error when occ ran past Runner.Timeout.
var errTimeout = errors.New("occ did not finish within --timeout; it was killed with every process it started")

// killTree sends SIGKILL to pid and to every process descended from it.
// The tree is read before anything is killed: a killed parent's children
// are handed to init and could no longer be found.
func killTree(pid int) error {
	pids := append([]int{pid}, descendants(pid)...)
	var first error
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) && first == nil {
			first = err
		}
	}
	return first
}

// descendants lists the processes below pid, from /proc where there is
// one, else from ps(1).
func descendants(pid int) []int {
	children := map[int][]int{}
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			// pid (comm) state ppid …; comm may hold blanks and parentheses.
			rest := stat[bytes.LastIndexByte(stat, ')')+1:]
			fields := strings.Fields(string(rest))
			if len(fields) < 2 {
				continue
			}
			if pp, err := strconv.Atoi(fields[1]); err == nil {
				children[pp] = append(children[pp], p)
			}
		}
	} else if out, err := exec.Command("ps", "-A", "-o", "pid=", "-o", "ppid=").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) != 2 {
				continue
			}
			p, err1 := strconv.Atoi(f[0])
			pp, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil {
				children[pp] = append(children[pp], p)
			}
		}
	}
	var all []int
	queue := []int{pid}
	seen := map[int]bool{pid: true}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			if !seen[c] {
				seen[c] = true
				all = append(all, c)
				queue = append(queue, c)
			}
		}
	}
	return all
}

// OccError is an occ command that failed. Its Error text holds no secrets
// only after masking: print it, and Output, through a Masker.
type OccError struct {
	// Args are occ's arguments (with secrets, unmasked).
	Args []string
	// Output is what occ printed (stdout, then stderr). A list command's
	// JSON is left out (only stderr when it could not be parsed): it may
	// hold secrets that are not known yet.
	Output []byte
	// Err is the cause.
	Err error
}

func (e *OccError) Error() string {
	return fmt.Sprintf("occ %s: %v", strings.Join(e.Args, " "), e.Err)
}

func (e *OccError) Unwrap() error { return e.Err }

// Read asks occ for the current Talk settings.
func Read(ctx context.Context, r Runner) (Current, error) {
	var cur Current
	res, err := list(ctx, r, "talk:signaling:list")
	if err == nil {
		cur.Signaling, cur.SignalingSecret, err = parseSignalingList(res.Stdout)
		err = listParseError("talk:signaling:list", res, err)
	}
	if err == nil {
		res, err = list(ctx, r, "talk:turn:list")
	}
	if err == nil {
		cur.TURN, err = parseTURNList(res.Stdout)
		err = listParseError("talk:turn:list", res, err)
	}
	if err == nil {
		res, err = list(ctx, r, "talk:stun:list")
	}
	if err == nil {
		cur.STUN, err = parseSTUNList(res.Stdout)
		err = listParseError("talk:stun:list", res, err)
	}
	if err != nil {
		return Current{}, err
	}
	return cur, nil
}

// Secrets returns the secrets Nextcloud holds now, for masking.
func (c Current) Secrets() []string {
	s := []string{c.SignalingSecret}
	for _, t := range c.TURN {
		s = append(s, t.Secret)
	}
	return s
}

func list(ctx context.Context, r Runner, command string) (Result, error) {
	args := []string{command, "--output=json"}
	res, err := r.Run(ctx, args...)
	if err != nil {
		return res, &OccError{Args: args, Output: append(withoutJSONLines(res.Stdout), res.Stderr...), Err: err}
	}
	return res, nil
}

// withoutJSONLines drops the lines that look like a JSON document: a list
// command's JSON may hold secrets that are not known yet, so it is never
// echoed, even when occ failed after printing it.
func withoutJSONLines(out []byte) []byte {
	var kept []byte
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && (t[0] == '[' || t[0] == '{') {
			continue
		}
		kept = append(kept, line...)
	}
	return kept
}

// listParseError wraps a parse failure of a list command's output. When
// occ printed no JSON at all, what it printed is its reason (occ exits 0
// after `Cannot write into "config" directory!`, for one) and goes into
// the error, JSON-looking lines left out; when it printed JSON of another
// shape, stdout is left out: it may hold secrets not known yet.
func listParseError(command string, res Result, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errNotJSON) {
		return &OccError{
			Args:   []string{command, "--output=json"},
			Output: append(withoutJSONLines(res.Stdout), res.Stderr...),
			Err:    fmt.Errorf("occ exited 0 but printed no JSON; its output (below) says why: %w", err),
		}
	}
	return &OccError{
		Args:   []string{command, "--output=json"},
		Output: res.Stderr,
		Err:    fmt.Errorf("its output is not what Talk's %s prints (output not shown, it may hold secrets): %w", command, err),
	}
}

// errNotConfirmed is wrapped when occ exited 0 without Talk's confirmation
// of a change: occ stopped before running the command.
var errNotConfirmed = errors.New("occ exited 0 but did not print Talk's confirmation, so the change was not made; its output (below) says why")

// confirmed reports whether stdout holds Talk's message for a change that
// ran (lib/Command/*/Add.php and Delete.php; the formatter removed the
// <info> tags): "Added …", "Deleted …", "There is nothing to delete.", or
// the default STUN server's note.
func confirmed(command string, stdout []byte) bool {
	for _, line := range strings.Split(string(stdout), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasSuffix(command, ":add") && strings.HasPrefix(line, "Added "):
			return true
		case strings.HasSuffix(command, ":delete") && (strings.HasPrefix(line, "Deleted ") || line == talkMsgNothingDeleted || line == talkMsgDefaultSTUN):
			return true
		}
	}
	return false
}

// Apply runs the steps in order and stops at the first failure, which it
// returns as an *OccError. before is called ahead of each step.
func Apply(ctx context.Context, r Runner, steps []Step, before func(Step)) error {
	for _, s := range steps {
		if before != nil {
			before(s)
		}
		res, err := r.Run(ctx, s.Args...)
		if err == nil && !confirmed(s.Args[0], res.Stdout) {
			err = errNotConfirmed
		}
		if err != nil {
			return &OccError{Args: s.Args, Output: append(res.Stdout, res.Stderr...), Err: err}
		}
	}
	return nil
}

// splitWords splits a command prefix into words like a POSIX shell would,
// without expanding anything: blanks separate words, 'single quotes' and
// "double quotes" group (inside double quotes a backslash escapes " \ $ and
// `), and a backslash outside quotes escapes the next character.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	const (
		plain = iota
		single
		double
	)
	state := plain
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		switch state {
		case single:
			if c == '\'' {
				state = plain
			} else {
				cur.WriteRune(c)
			}
		case double:
			switch {
			case c == '"':
				state = plain
			case c == '\\' && i+1 < len(runes) && strings.ContainsRune("\"\\$`", runes[i+1]):
				i++
				cur.WriteRune(runes[i])
			default:
				cur.WriteRune(c)
			}
		default:
			switch {
			case c == ' ' || c == '\t' || c == '\n':
				if inWord {
					words = append(words, cur.String())
					cur.Reset()
					inWord = false
				}
			case c == '\'':
				state, inWord = single, true
			case c == '"':
				state, inWord = double, true
			case c == '\\':
				if i+1 >= len(runes) {
					return nil, fmt.Errorf("the occ prefix %q ends in a backslash", s)
				}
				i++
				cur.WriteRune(runes[i])
				inWord = true
			case strings.ContainsRune("|&;<>()$`", c):
				return nil, fmt.Errorf("the occ prefix %q contains %q: it is split into words and run without a shell; pipes, redirections and variables do not work", s, c)
			default:
				cur.WriteRune(c)
				inWord = true
			}
		}
	}
	if state != plain {
		return nil, fmt.Errorf("the occ prefix %q has an unterminated quote", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// shellQuote quotes s for a POSIX shell; words made only of safe characters
// stay as they are.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:,=@%+", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
