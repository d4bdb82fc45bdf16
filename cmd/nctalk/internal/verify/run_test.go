package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/cmd/nctalk/internal/verify/verifytest"
	"github.com/nctalk/nctalk/internal/testenv"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// closedPort returns a loopback TCP port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		testenv.Skip(t, "no IPv6 loopback (the exposure check probes ::1): %v", err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

func standInOptions(t *testing.T, b *verifytest.Backend) Options {
	return Options{
		Outputs:       b.Outputs,
		Resolve:       b.Resolve,
		RootCAs:       b.Roots,
		InternalPorts: []Port{{"stand-in internal", closedPort(t)}},
		// The stand-in's media server (verifytest.Config.MediaHost) is its one HTTPS server.
		mediaHTTPSPort: b.HTTPSPort,
	}
}

// failedIDs runs verify and returns the checks that did not pass.
func runFailed(t *testing.T, opts Options) (Report, []CheckID) {
	t.Helper()
	rep := Run(context.Background(), opts)
	return rep, rep.Failed()
}

func result(rep Report, id CheckID) Result {
	for _, r := range rep.Results {
		if r.Check == id {
			return r
		}
	}
	return Result{}
}

func logReport(t *testing.T, rep Report) {
	t.Helper()
	var b bytes.Buffer
	_ = WriteText(&b, rep)
	t.Log("\n" + b.String())
}

func TestRunHealthy(t *testing.T) {
	b := verifytest.Start(t, verifytest.Config{})
	rep, failed := runFailed(t, standInOptions(t, b))
	logReport(t, rep)
	if len(failed) != 0 || !rep.OK || ExitCode(rep) != 0 {
		t.Fatalf("failed checks %v on a healthy stand-in", failed)
	}
	if len(rep.Results) != len(Checks) {
		t.Fatalf("%d results, want %d", len(rep.Results), len(Checks))
	}
	if b.RoomRequests.Load() != 1 || b.Hellos.Load() != 1 {
		t.Errorf("stand-in saw %d signed room requests and %d hellos, want 1 and 1", b.RoomRequests.Load(), b.Hellos.Load())
	}
	if r := result(rep, idDNS); !strings.Contains(r.Reason, "--resolve") {
		t.Errorf("dns reason %q does not say the addresses came from --resolve", r.Reason)
	}
	if r := result(rep, idTURN); !strings.Contains(r.Reason, "udp") || !strings.Contains(r.Reason, "tcp") || !strings.Contains(r.Reason, "tls") {
		t.Errorf("turn reason %q does not name all three transports", r.Reason)
	}
	if r := result(rep, idExposure); !strings.Contains(strings.Join(r.Warnings, " "), "127.0.0.1 not probed") {
		t.Errorf("exposure warnings %q do not say 127.0.0.1 was left out", r.Warnings)
	}
	t.Logf("whole run: %d ms", rep.ElapsedMS)
}

// TestRunBreaks breaks one thing at a time; exactly one check must fail,
// with a reason that names the cause.
func TestRunBreaks(t *testing.T) {
	tests := []struct {
		name     string
		cfg      verifytest.Config
		change   func(*Options)
		want     CheckID
		inReason string
	}{
		{"wrong signaling secret", verifytest.Config{}, func(o *Options) { o.Outputs.SignalingSecret = "not-the-secret" }, idBackendSecret, "403"},
		{"wrong TURN secret", verifytest.Config{}, func(o *Options) { o.Outputs.TURNSecret = "not-the-secret" }, idTURN, "credentials refused (400 Bad Request)"}, // pion answers 400, coturn 401 (tests/verify_test.go)
		{"relay range differs", verifytest.Config{}, func(o *Options) { o.Outputs.TURNRelayPorts = "40000-40010" }, idTURN, "outside turnRelayPorts 40000-40010"},
		{"expired certificate", verifytest.Config{CertNotAfter: time.Now().Add(-time.Hour)}, nil, idTLS, "expired"},
		{"certificate expiring", verifytest.Config{CertNotAfter: time.Now().Add(3 * 24 * time.Hour)}, nil, idTLS, "expires in 3 days"},
		{"wrong-name certificate", verifytest.Config{CertNames: []string{"elsewhere.verify.test"}}, nil, idTLS, "is for elsewhere.verify.test"},
		{"old signaling server", verifytest.Config{Features: "audio-video-permissions, incall-all, hello-v2, switchto"}, nil, idSignaling, "lacks features current Talk requires: federation"},
		{"NATS client closed", verifytest.Config{RoomNATSClosed: true}, nil, idBackendSecret, "NATS"},
		{"stale AAAA", verifytest.Config{}, func(o *Options) {
			o.Resolve = map[string][]net.IP{verifytest.Domain: {net.ParseIP("127.0.0.1"), net.ParseIP("::2")}}
		}, idDNS, "stale AAAA record ::2 (the stack has ::1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := verifytest.Start(t, tt.cfg)
			opts := standInOptions(t, b)
			if tt.change != nil {
				tt.change(&opts)
			}
			rep, _ := runFailed(t, opts)
			logReport(t, rep)
			var failed []CheckID // FAIL only: a check behind the failing one may say skip
			for _, r := range rep.Results {
				if r.Status == statusFail {
					failed = append(failed, r.Check)
				}
			}
			if len(failed) != 1 || failed[0] != tt.want {
				t.Fatalf("failed checks %v, want exactly [%s]", failed, tt.want)
			}
			r := result(rep, tt.want)
			if r.Status != statusFail || !strings.Contains(r.Reason, tt.inReason) || r.Hint == "" {
				t.Fatalf("%s: %s %q (hint %q), want FAIL containing %q with a hint", tt.want, r.Status, r.Reason, r.Hint, tt.inReason)
			}
			if ExitCode(rep) != 1 {
				t.Fatalf("exit code %d, want 1", ExitCode(rep))
			}
		})
	}
}

func TestRunExposedPort(t *testing.T) {
	b := verifytest.Start(t, verifytest.Config{})
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		testenv.Skip(t, "no IPv6 loopback (the exposure check probes ::1): %v", err)
	}
	defer l.Close()
	opts := standInOptions(t, b)
	port := l.Addr().(*net.TCPAddr).Port
	opts.InternalPorts = append(opts.InternalPorts, Port{"pretend NATS", port})
	rep, failed := runFailed(t, opts)
	if len(failed) != 1 || failed[0] != idExposure {
		t.Fatalf("failed checks %v, want exactly [exposure]", failed)
	}
	if r := result(rep, idExposure); !strings.Contains(r.Reason, net.JoinHostPort("::1", itoa(port))+" (pretend NATS)") {
		t.Fatalf("exposure reason %q does not name [::1]:%d (pretend NATS)", r.Reason, port)
	}
}

func TestInternalPortsFromCloudconfig(t *testing.T) {
	want := map[int]bool{schema.PortSignalingHTTP: true, schema.PortJanusWS: true, schema.PortNATS: true,
		schema.PortJanusAdminHTTP: true, schema.PortJanusAdminWS: true, schema.PortJanusHTTP: true}
	for _, p := range internalPorts() {
		if !want[p.Port] {
			t.Errorf("unexpected internal port %d", p.Port)
		}
		delete(want, p.Port)
	}
	if len(want) != 0 {
		t.Errorf("internal ports missing: %v", want)
	}
	for _, r := range cloudconfig.FirewallRules(cloudconfig.Settings{}) {
		for _, p := range internalPorts() {
			if r.Protocol == cloudconfig.TCP && r.Ports.Contains(p.Port) {
				t.Errorf("internal port %d (%s) is opened by firewall rule %s", p.Port, p.Name, r.Name)
			}
		}
	}
}

func TestRunSignalingDownSkipsDependents(t *testing.T) {
	b := verifytest.Start(t, verifytest.Config{})
	opts := standInOptions(t, b)
	opts.Outputs.SignalingURL = "https://" + net.JoinHostPort(verifytest.Domain, itoa(closedPort4(t))) + talk.SignalingPath
	rep := Run(context.Background(), opts)
	if r := result(rep, idSignaling); r.Status != statusFail || !strings.Contains(r.Reason, "connection refused") {
		t.Fatalf("signaling: %s %q, want FAIL with connection refused", r.Status, r.Reason)
	}
	for _, id := range []CheckID{idBackendSecret, idWebSocket} {
		if r := result(rep, id); r.Status != statusSkip || !strings.Contains(r.Reason, "see check signaling") {
			t.Errorf("%s: %s %q, want skip pointing at the signaling check", id, r.Status, r.Reason)
		}
	}
	if ExitCode(rep) != 1 {
		t.Fatal("exit code 0 with a failed check")
	}
}

func closedPort4(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return p
}

func itoa(i int) string { return strconv.Itoa(i) }

// fakeResolver answers from a table.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestCheckDNS(t *testing.T) {
	const domain = "talk.example.com"
	tests := []struct {
		name       string
		records    []string
		ipv4, ipv6 string
		status     Status
		inReason   string
	}{
		{"both match", []string{"203.0.113.7", "2001:db8::1"}, "203.0.113.7", "2001:db8::1", statusOK, "via DNS, as the stack's addresses"},
		{"network form of IPv6", []string{"203.0.113.7", "2001:db8::1"}, "203.0.113.7", "2001:db8::/64", statusOK, "as the stack's addresses"},
		{"stale A", []string{"198.51.100.1", "2001:db8::1"}, "203.0.113.7", "2001:db8::1", statusFail, "stale A record 198.51.100.1 (the stack has 203.0.113.7); missing A record 203.0.113.7"},
		{"missing AAAA", []string{"203.0.113.7"}, "203.0.113.7", "2001:db8::1", statusFail, "missing AAAA record 2001:db8::1"},
		{"AAAA without stack IPv6", []string{"203.0.113.7", "2001:db8::9"}, "203.0.113.7", "", statusFail, "stale AAAA record 2001:db8::9 (the stack has no IPv6 address)"},
		{"does not resolve", nil, "203.0.113.7", "", statusFail, "does not resolve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := fakeResolver{}
			if tt.records != nil {
				res[domain] = tt.records
			}
			opts := Options{Resolver: res}
			opts.Outputs.Domain, opts.Outputs.IPv4, opts.Outputs.IPv6 = domain, tt.ipv4, tt.ipv6
			opts.defaults()
			r := checkDNS(context.Background(), newEnv(opts))
			if r.Status != tt.status || !strings.Contains(r.Reason, tt.inReason) {
				t.Fatalf("got %s %q, want %s containing %q", r.Status, r.Reason, tt.status, tt.inReason)
			}
			if r.Status == statusFail && !strings.Contains(r.Hint, "A "+domain+" → 203.0.113.7") {
				t.Errorf("hint %q does not name the record to set", r.Hint)
			}
		})
	}
}

// TestOutputNeverContainsSecrets runs every check, the media check on a
// media server too, with the right and with wrong secrets.
func TestOutputNeverContainsSecrets(t *testing.T) {
	b := verifytest.Start(t, verifytest.Config{MediaHost: standInMediaHost})
	for _, name := range []string{"healthy", "wrong secrets"} {
		opts := standInOptions(t, b)
		if name == "wrong secrets" {
			opts.Outputs.SignalingSecret += "x"
			opts.Outputs.TURNSecret += "x"
		}
		rep := Run(context.Background(), opts)
		var text, js bytes.Buffer
		if err := WriteText(&text, rep); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&js, rep); err != nil {
			t.Fatal(err)
		}
		if r := result(rep, idMedia); !strings.Contains(r.Reason, standInMediaHost) {
			t.Fatalf("%s: the media check did not probe %s: %s %q", name, standInMediaHost, r.Status, r.Reason)
		}
		for _, secret := range []string{opts.Outputs.SignalingSecret, opts.Outputs.TURNSecret, b.Outputs.SignalingSecret, b.Outputs.TURNSecret} {
			if strings.Contains(text.String(), secret) || strings.Contains(js.String(), secret) {
				t.Fatalf("%s: a secret appears in the report", name)
			}
		}
	}
}

func TestReportFormats(t *testing.T) {
	rep := Report{OK: false, Domain: "talk.example.com", Attempts: 3, ElapsedMS: 1500, Results: []Result{
		{Check: idDNS, Title: "DNS", Status: statusOK, Reason: "fine"},
		{Check: idTLS, Title: "TLS certificate", Status: statusFail, Reason: "expired", Hint: "renew", Warnings: []string{"w1"}},
		{Check: idWebSocket, Title: "WebSocket hello", Status: statusSkip, Reason: "not run"},
	}}
	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	want := "nctalk verify talk.example.com\n" +
		"ok   DNS                           fine\n" +
		"FAIL TLS certificate               expired\n" +
		"     hint: renew\n" +
		"     warning: w1\n" +
		"skip WebSocket hello               not run\n" +
		"2 of 3 checks did not pass: tls, websocket (1.5s, 3 attempts)\n"
	if text.String() != want {
		t.Fatalf("text report:\n%s\nwant:\n%s", text.String(), want)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back struct {
		OK     bool `json:"ok"`
		Checks []struct {
			Check, Status, Reason, Hint string
			Warnings                    []string
		} `json:"checks"`
		Attempts int `json:"attempts"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.OK || back.Attempts != 3 || len(back.Checks) != 3 || back.Checks[1].Check != "tls" || back.Checks[1].Status != "FAIL" ||
		back.Checks[1].Hint != "renew" || back.Checks[2].Status != "skip" {
		t.Fatalf("JSON report decoded as %+v", back)
	}
}

func BenchmarkRunHealthy(b *testing.B) {
	be := verifytest.Start(b, verifytest.Config{})
	opts := Options{Outputs: be.Outputs, Resolve: be.Resolve, RootCAs: be.Roots, InternalPorts: []Port{}}
	for b.Loop() {
		if rep := Run(context.Background(), opts); !rep.OK {
			b.Fatalf("failed: %v", rep.Failed())
		}
	}
}

func TestWebSocketAnswers(t *testing.T) {
	tests := []struct {
		name, answer string
		status       Status
		inReason     string
		warning      string
	}{
		{"invalid_backend", "", statusOK, "invalid_backend", ""},
		{"hello accepted (allowall)", `{"type":"hello","hello":{"sessionid":"x"}}`, statusOK, "accepted a hello", "allowall"},
		{"other protocol error", `{"type":"error","error":{"code":"too_many_requests"}}`, statusOK, "too_many_requests", "expected invalid_backend"},
		{"not signaling", `<html>hello</html>`, statusFail, "not a signaling message", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := verifytest.Start(t, verifytest.Config{HelloAnswer: tt.answer})
			opts := standInOptions(t, b)
			opts.defaults()
			r := checkWebSocket(context.Background(), newEnv(opts))
			if r.Status != tt.status || !strings.Contains(r.Reason, tt.inReason) {
				t.Fatalf("got %s %q, want %s containing %q", r.Status, r.Reason, tt.status, tt.inReason)
			}
			if w := strings.Join(r.Warnings, "|"); !strings.Contains(w, tt.warning) || (tt.warning == "") != (w == "") {
				t.Errorf("warnings %q, want %q", w, tt.warning)
			}
		})
	}
}
