package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/verify"
)

// waitInterval is the pause between rounds of --wait.
const waitInterval = 5 * time.Second

// clock is what --wait reads the time from and waits with; tests replace
// verifyClock with a fake one, so no test waits or depends on how fast
// the checks run.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done; it reports whether d passed.
	Sleep(ctx context.Context, d time.Duration) bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// verifyClock is the clock of `nctalk verify --wait`.
var verifyClock clock = realClock{}

// verifyInternalPorts overrides the ports the exposure check probes; nil
// means verify.InternalPorts(). Tests point it at ports they control.
var verifyInternalPorts []verify.Port

// resolveFlag collects repeated --resolve host=address flags.
type resolveFlag map[string][]net.IP

func (r resolveFlag) String() string { return "" }

func (r resolveFlag) Set(v string) error {
	host, addr, found := strings.Cut(v, "=")
	ip := net.ParseIP(strings.Trim(strings.TrimSpace(addr), "[]"))
	host = strings.ToLower(strings.TrimSpace(host))
	if !found || host == "" || ip == nil {
		return fmt.Errorf("%q is not host=address, e.g. talk.example.com=127.0.0.1", v)
	}
	r[host] = append(r[host], ip)
	return nil
}

// verifyConfig is the parsed command line.
type verifyConfig struct {
	outputsSource, stack, pulumiBin string
	json                            bool
	wait                            time.Duration
	caFile                          string
	resolve                         resolveFlag
	certDays                        int
}

const verifyAbout = `Checks DNS, the certificate, signaling (welcome, features, backend secret,
WebSocket), STUN/TURN and that internal ports are closed, the way Nextcloud
and Talk clients use the backend, and names the failing check. Exit 0 only
when every check passes, 1 when one fails. See docs/nextcloud.md.`

func runVerify(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg := verifyConfig{resolve: resolveFlag{}}
	fs := newFlagSet("verify", "nctalk verify [--outputs SOURCE] [--stack NAME] [--pulumi PATH] [flags]", verifyAbout, stdout, stderr)
	outputsSource := fs.outputsFlag()
	stack := fs.stackFlag("")
	pulumiBin := fs.pulumiFlag()
	jsonOut := fs.Bool("json", "print the report as JSON")
	wait := fs.Duration("wait", 0, "poll every 5 s until every check passes or this much time is up (e.g. 15m after pulumi up)")
	caFile := fs.String("ca", "FILE", "", "PEM file of an extra CA to trust (e.g. a test CA or Let's Encrypt's staging root)")
	fs.Var(cfg.resolve, "resolve", "HOST=ADDRESS", "use this address for HOST in every check instead of DNS (repeatable)")
	certDays := fs.Int("cert-days", 14, "FAIL when the certificate expires within this many days")
	if code, done := fs.parse(args); done {
		return code
	}
	if *wait < 0 || *certDays < 0 {
		return fs.fail(exitBadInput, "--wait and --cert-days must not be negative")
	}
	cfg.outputsSource, cfg.stack, cfg.pulumiBin = *outputsSource, *stack, *pulumiBin
	cfg.json, cfg.wait, cfg.caFile, cfg.certDays = *jsonOut, *wait, *caFile, *certDays
	opts, err := verifyOptions(cfg, stdin)
	if err != nil {
		return fs.fail(exitFor(err), "%v", err)
	}
	// From here on every line goes through the masker: the secrets are in
	// use and can reach URLs, error texts and the report.
	m := newSecretMasker(opts.Outputs.SignalingSecret, opts.Outputs.TURNSecret)
	stdout, stderr = m.writer(stdout), m.writer(stderr)
	report := verifyUntil(context.Background(), verifyClock, opts, cfg.wait, func(r verify.Report, next time.Duration) {
		fmt.Fprintf(stderr, "nctalk verify: attempt %d: not passing yet: %s; next try in %s\n", r.Attempts, joinIDs(r.Failed()), next.Round(time.Second))
	})
	if cfg.json {
		err = verify.WriteJSON(stdout, report)
	} else {
		err = verify.WriteText(stdout, report)
	}
	if err != nil {
		fmt.Fprintf(stderr, "nctalk verify: writing the report: %v\n", err)
		return exitFailed
	}
	return verify.ExitCode(report)
}

// verifyOptions reads the outputs and the CA file.
func verifyOptions(cfg verifyConfig, stdin io.Reader) (verify.Options, error) {
	out, err := readStackOutputs(cfg.outputsSource, cfg.stack, cfg.pulumiBin, stdin)
	if err != nil {
		return verify.Options{}, err
	}
	opts := verify.Options{
		Outputs:         out,
		Resolve:         cfg.resolve,
		MinCertValidity: time.Duration(cfg.certDays) * 24 * time.Hour,
		InternalPorts:   verifyInternalPorts,
	}
	if cfg.certDays == 0 {
		opts.MinCertValidity = time.Nanosecond // only "not expired"
	}
	if cfg.caFile != "" {
		pem, err := os.ReadFile(cfg.caFile)
		if err != nil {
			return verify.Options{}, fmt.Errorf("--ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return verify.Options{}, fmt.Errorf("--ca %s: no PEM certificate in the file", cfg.caFile)
		}
		opts.RootCAs = pool
	}
	return opts, nil
}

// verifyUntil runs the checks once, or with wait > 0 again every
// waitInterval until all pass or wait is up. It stops early on a failure
// that waiting cannot cure (Result.Final, e.g. a rejected signature: each
// retry would count towards the signaling server's brute-force block).
func verifyUntil(ctx context.Context, clk clock, opts verify.Options, wait time.Duration, progress func(verify.Report, time.Duration)) verify.Report {
	start := clk.Now()
	deadline := start.Add(wait)
	for attempt := 1; ; attempt++ {
		r := verify.Run(ctx, opts)
		r.Attempts = attempt
		r.ElapsedMS = clk.Now().Sub(start).Milliseconds()
		left := deadline.Sub(clk.Now())
		if r.OK || left <= 0 || hasFinal(r) {
			return r
		}
		next := min(waitInterval, left)
		progress(r, next)
		if !clk.Sleep(ctx, next) {
			return r
		}
	}
}

func hasFinal(r verify.Report) bool {
	for _, res := range r.Results {
		if res.Final && !res.OK() {
			return true
		}
	}
	return false
}

func joinIDs(ids []verify.CheckID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}
