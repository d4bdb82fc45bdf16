// Package verify checks a live nctalk backend from the outside, the way
// Nextcloud and Talk clients use it: DNS, the certificate, the signaling
// server behind nginx (welcome, features, backend secret, WebSocket), STUN
// and TURN with credentials from the TURN secret, that no internal port
// answers on the public addresses, and every media server of a scale-out
// (certificate, signaling proxy welcome, TURN).
//
// Every check returns one Result: ok, FAIL or skip, a one-line reason, and a
// hint when it did not pass. No result ever contains a secret.
package verify

import (
	"context"
	"crypto/x509"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
)

// CheckID names a check in the output and in --json.
type CheckID string

// The checks, in the order they are reported.
const (
	idDNS           CheckID = "dns"
	idTLS           CheckID = "tls"
	idSignaling     CheckID = "signaling"
	idBackendSecret CheckID = "backend-secret"
	idWebSocket     CheckID = "websocket"
	idSTUN          CheckID = "stun"
	idTURN          CheckID = "turn"
	idExposure      CheckID = "exposure"
)

// Checks lists every check in report order.
var Checks = []CheckID{idDNS, idTLS, idSignaling, idBackendSecret, idWebSocket, idSTUN, idTURN, idTURN443, idExposure, idMedia}

// titles are the human names of the checks.
var titles = map[CheckID]string{
	idDNS:           "DNS",
	idTLS:           "TLS certificate",
	idSignaling:     "signaling welcome + features",
	idBackendSecret: "backend secret",
	idWebSocket:     "WebSocket hello",
	idSTUN:          "STUN",
	idTURN:          "TURN allocations",
	idTURN443:       "TURN over TLS on 443",
	idExposure:      "internal ports closed",
	idMedia:         "media servers",
}

// Status is the outcome of one check.
type Status string

// Outcomes. Only statusOK counts as passed.
const (
	statusOK   Status = "ok"
	statusFail Status = "FAIL"
	// statusSkip means the check could not run because a check it depends
	// on failed; the reason names that check.
	statusSkip Status = "skip"
)

// Result is the outcome of one check.
type Result struct {
	Check    CheckID  `json:"check"`
	Title    string   `json:"title"`
	Status   Status   `json:"status"`
	Reason   string   `json:"reason"`
	Hint     string   `json:"hint,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	// DurationMS is how long the check took, in milliseconds.
	DurationMS int64 `json:"durationMs"`
	// Final marks a failure that waiting cannot cure and that must not be
	// repeated (a rejected signature counts towards the signaling server's
	// brute-force block); --wait stops polling on it.
	Final bool `json:"final,omitempty"`

	// unreachable marks a signaling failure where the endpoint did not
	// answer at all, so the checks behind it are skipped.
	unreachable bool
	// authFailed marks a TURN failure where coturn refused the credentials
	// made from turnSecret: the turn-443 check, which would fail the same
	// way, is skipped.
	authFailed bool
}

// OK reports whether the check passed.
func (r Result) OK() bool { return r.Status == statusOK }

// Report is the outcome of one run of every check.
type Report struct {
	OK        bool     `json:"ok"`
	Domain    string   `json:"domain"`
	Results   []Result `json:"checks"`
	ElapsedMS int64    `json:"elapsedMs"`
	// Attempts is how many rounds --wait ran (1 without --wait).
	Attempts int `json:"attempts"`
}

// Failed returns the IDs of the checks that did not pass.
func (r Report) Failed() []CheckID {
	var ids []CheckID
	for _, res := range r.Results {
		if !res.OK() {
			ids = append(ids, res.Check)
		}
	}
	return ids
}

// Resolver looks up host addresses; *net.Resolver implements it.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Port is one internal TCP port the exposure check expects closed.
type Port struct {
	Name string
	Port int
}

// Options configure a run. Outputs is required; everything else has a default.
type Options struct {
	// Outputs are the parsed stack outputs (infra/outputs.Parse).
	Outputs outputs.Outputs
	// Resolve overrides name resolution for every check: host (lower case)
	// to addresses, like curl's --resolve. The DNS check then compares the
	// override with the stack's addresses and says so.
	Resolve map[string][]net.IP
	// RootCAs are the trusted roots; nil means the system roots.
	RootCAs *x509.CertPool
	// Resolver is used for names without an override; nil means net.DefaultResolver.
	Resolver Resolver
	// CheckTimeout bounds each check; zero means defaultCheckTimeout.
	CheckTimeout time.Duration
	// MinCertValidity is how long the certificate must stay valid;
	// zero means defaultMinCertValidity.
	MinCertValidity time.Duration
	// internalPorts are the ports the exposure check expects closed; nil
	// means internalPorts().
	InternalPorts []Port
	// Now returns the current time; nil means time.Now.
	Now func() time.Time

	// mediaHTTPSPort is where the media check expects the media servers'
	// nginx; zero means schema.PortHTTPS. The unit tests' stand-in serves
	// on a free port.
	mediaHTTPSPort int
}

// Defaults of Options.
const (
	defaultCheckTimeout    = 10 * time.Second
	defaultMinCertValidity = 14 * 24 * time.Hour
	// dialTimeout bounds every single connection attempt.
	dialTimeout = 4 * time.Second
)

func (o *Options) defaults() {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = defaultCheckTimeout
	}
	if o.MinCertValidity <= 0 {
		o.MinCertValidity = defaultMinCertValidity
	}
	if o.InternalPorts == nil {
		o.InternalPorts = internalPorts()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.mediaHTTPSPort == 0 {
		o.mediaHTTPSPort = schema.PortHTTPS
	}
}

// checkFunc runs one check. It returns a Result without Check, Title and
// DurationMS, which run fills in.
type checkFunc func(ctx context.Context, e *env) Result

// Run runs every check, independent ones concurrently, and returns the
// report in the order of Checks. The checks behind the signaling endpoint
// (backend secret, WebSocket) wait for the signaling check and are skipped
// when the endpoint does not answer, so one fault shows as one FAIL.
func Run(ctx context.Context, opts Options) Report {
	opts.defaults()
	e := newEnv(opts)
	start := time.Now()

	results := make(map[CheckID]Result, len(Checks))
	var mu sync.Mutex
	record := func(r Result) {
		mu.Lock()
		results[r.Check] = r
		mu.Unlock()
	}
	run := func(id CheckID, f checkFunc) {
		cctx, cancel := context.WithTimeout(ctx, opts.CheckTimeout)
		defer cancel()
		t0 := time.Now()
		r := f(cctx, e)
		r.Check, r.Title = id, titles[id]
		r.DurationMS = time.Since(t0).Milliseconds()
		if r.Status == statusFail && r.Reason == "" {
			r.Reason = "failed"
		}
		record(r)
	}

	var wg sync.WaitGroup
	independent := map[CheckID]checkFunc{
		idDNS:      checkDNS,
		idTLS:      checkTLS,
		idSTUN:     checkSTUN,
		idExposure: checkExposure,
		idMedia:    checkMedia,
	}
	for id, f := range independent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(id, f)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(idTURN, checkTURN)
		mu.Lock()
		turn := results[idTURN]
		mu.Unlock()
		if turn.authFailed {
			record(Result{Check: idTURN443, Title: titles[idTURN443], Status: statusSkip,
				Reason: "not run: coturn refused the stack's TURN credentials (see check " + string(idTURN) + ")"})
			return
		}
		run(idTURN443, checkTURN443)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(idSignaling, checkSignaling)
		mu.Lock()
		sig := results[idSignaling]
		mu.Unlock()
		var inner sync.WaitGroup
		for id, f := range map[CheckID]checkFunc{idBackendSecret: checkBackendSecret, idWebSocket: checkWebSocket} {
			if sig.unreachable {
				record(Result{Check: id, Title: titles[id], Status: statusSkip,
					Reason: "not run: the signaling endpoint does not answer (see check " + string(idSignaling) + ")"})
				continue
			}
			inner.Add(1)
			go func() {
				defer inner.Done()
				run(id, f)
			}()
		}
		inner.Wait()
	}()
	wg.Wait()

	rep := Report{OK: true, Domain: opts.Outputs.Domain, Attempts: 1, ElapsedMS: time.Since(start).Milliseconds()}
	for _, id := range Checks {
		r := results[id]
		sort.Strings(r.Warnings)
		rep.Results = append(rep.Results, r)
		if !r.OK() {
			rep.OK = false
		}
	}
	return rep
}

// ok, fail build results.
func ok(reason string, warnings ...string) Result {
	return Result{Status: statusOK, Reason: reason, Warnings: warnings}
}

func fail(reason, hint string) Result {
	return Result{Status: statusFail, Reason: reason, Hint: hint}
}
