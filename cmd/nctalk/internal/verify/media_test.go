package verify

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/stun/v3"

	"github.com/nctalk/nctalk/cmd/nctalk/internal/verify/verifytest"
	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// TestMediaHosts derives the media servers from the outputs the stack
// writes (talk.Endpoints) and from hand-made ones: the domain and the
// TURN-over-443 name are not media servers; each host once, sorted.
func TestMediaHosts(t *testing.T) {
	ends := func(turnName string, media ...string) outputs.Outputs {
		e := talk.Endpoints{Domain: "talk.example.com", TURNName: turnName, MediaHosts: media}
		return outputs.Outputs{Domain: e.Domain, TURNServers: e.TURNServers(), STUNServers: e.STUNServers()}
	}
	tests := []struct {
		name string
		out  outputs.Outputs
		want []string
	}{
		{"one box", ends(""), nil},
		{"one box with TURN on 443", ends("turn.talk.example.com"), nil},
		{"two media servers, unsorted", ends("turn.talk.example.com", "media-2.talk.example.com", "media-1.talk.example.com"),
			[]string{"media-1.talk.example.com", "media-2.talk.example.com"}},
		{"media server without TURN on 443", ends("", "media-1.talk.example.com"), []string{"media-1.talk.example.com"}},
		{"upper case and duplicate entries collapse", outputs.Outputs{Domain: "talk.example.com",
			TURNServers: []talk.TURNServer{{Schemes: "turn", Server: "Media-1.talk.example.com:3478", Protocols: "udp"}, {Schemes: "turn", Server: "media-1.talk.example.com:3478", Protocols: "tcp"}},
			STUNServers: []string{"TALK.example.com:3478", "media-1.talk.example.com:3478"}},
			[]string{"media-1.talk.example.com"}},
		{"a host only in stunServers counts", outputs.Outputs{Domain: "talk.example.com",
			TURNServers: talk.Endpoints{Domain: "talk.example.com"}.TURNServers(),
			STUNServers: []string{"talk.example.com:3478", "media-9.talk.example.com:3478"}},
			[]string{"media-9.talk.example.com"}},
		{"the TURN name stays out although on 3478 too", outputs.Outputs{Domain: "talk.example.com",
			TURNServers: []talk.TURNServer{{Schemes: "turns", Server: "turn.talk.example.com:443", Protocols: "tcp"}},
			STUNServers: []string{"turn.talk.example.com:3478"}},
			nil},
		{"malformed entries are ignored", outputs.Outputs{Domain: "talk.example.com", STUNServers: []string{"no-port", "talk.example.com:3478"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mediaHosts(tt.out); !slices.Equal(got, tt.want) {
				t.Fatalf("mediaHosts = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestJudgeProxyWelcome: only the signaling proxy's welcome (as the real
// 2.0.2 proxy answers it) passes; the signaling server's does not.
func TestJudgeProxyWelcome(t *testing.T) {
	const host, u = "media-1.talk.example.com", "https://media-1.talk.example.com/welcome"
	tests := []struct {
		name             string
		code             int
		body             string
		wantOK           bool
		inReason, inHint string
	}{
		{"the real proxy 2.0.2", 200, `{"nextcloud-spreed-signaling-proxy":"Welcome","version":"2.0.2-2+b2.debian"}` + "\n", true, "proxy 2.0.2-2+b2.debian welcomes", ""},
		{"the signaling server instead", 200, `{"nextcloud-spreed-signaling":"Welcome","version":"2.0.2"}`, false, "not the signaling proxy's welcome", "proxy_pass"},
		{"an HTML page", 200, `<html>Welcome to nginx!</html>`, false, "Welcome to nginx", "proxy_pass"},
		{"proxy down", 502, "", false, "answered 502 Bad Gateway", "logs proxy"},
		{"no location", 404, "", false, "answered 404 Not Found", "logs nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			okText, problem := judgeProxyWelcome(host, u, tt.code, strconvStatus(tt.code), []byte(tt.body))
			if (problem == nil) != tt.wantOK {
				t.Fatalf("ok %q, problem %+v; want ok %v", okText, problem, tt.wantOK)
			}
			if tt.wantOK {
				if !strings.Contains(okText, tt.inReason) {
					t.Fatalf("ok text %q does not contain %q", okText, tt.inReason)
				}
				return
			}
			if !strings.Contains(problem.reason, tt.inReason) || !strings.Contains(problem.hint, tt.inHint) || !strings.Contains(problem.hint, host) {
				t.Fatalf("problem %+v: want reason with %q and a hint with %q and %s", problem, tt.inReason, tt.inHint, host)
			}
		})
	}
}

// strconvStatus is code as http.Response.Status reads it ("502 Bad Gateway").
func strconvStatus(code int) string { return strconv.Itoa(code) + " " + http.StatusText(code) }

// TestJudgeMediaTURN words the TURN probe of one media server.
func TestJudgeMediaTURN(t *testing.T) {
	const host = "media-1.talk.example.com"
	relay := schema.PortRange{First: 50000, Last: 50100}
	udp, tcp := turnProbe{host + ":3478", "udp"}, turnProbe{host + ":3478", "tcp"}
	refused := &stun.TurnError{ErrorCodeAttr: stun.ErrorCodeAttribute{Code: stun.CodeUnauthorized}}
	tests := []struct {
		name             string
		results          []allocation
		wantOK           bool
		inReason, inHint string
	}{
		{"both allocate", []allocation{
			judgeAllocation(udp, &net.UDPAddr{Port: 50001}, nil, relay),
			judgeAllocation(tcp, &net.UDPAddr{Port: 50002}, nil, relay)}, true, "TURN udp " + host + ":3478 → relay port 50001, tcp " + host + ":3478 → relay port 50002", ""},
		{"wrong secret", []allocation{
			judgeAllocation(udp, nil, refused, relay),
			judgeAllocation(tcp, nil, refused, relay)}, false, "TURN udp " + host + ":3478: credentials refused (401 Unauthorized); TURN tcp", "turnSecret"},
		{"relay outside the range", []allocation{
			judgeAllocation(udp, &net.UDPAddr{Port: 60000}, nil, relay)}, false, "relay port 60000 outside turnRelayPorts 50000-50100", "min-port"},
		{"no answer", []allocation{
			judgeAllocation(udp, nil, errors.New("no answer in time"), relay)}, false, "TURN udp " + host + ":3478: no answer in time", "logs coturn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			okText, problem := judgeMediaTURN(host, tt.results)
			if (problem == nil) != tt.wantOK {
				t.Fatalf("ok %q, problem %+v; want ok %v", okText, problem, tt.wantOK)
			}
			if tt.wantOK {
				if okText != tt.inReason {
					t.Fatalf("ok text %q, want %q", okText, tt.inReason)
				}
				return
			}
			if !strings.Contains(problem.reason, tt.inReason) || !strings.Contains(problem.hint, tt.inHint) || !strings.Contains(problem.hint, host) {
				t.Fatalf("problem %+v: want reason with %q and a hint with %q and %s", problem, tt.inReason, tt.inHint, host)
			}
		})
	}
}

// TestJudgeMedia words the whole check: every media server named, the
// failing ones with what failed, one hint each.
func TestJudgeMedia(t *testing.T) {
	healthy := mediaVerdict{host: "media-1.talk.example.com", ok: []string{"certificate fine", "proxy 2.0.2 welcomes", "TURN fine"}}
	broken := mediaVerdict{host: "media-2.talk.example.com", ok: []string{"certificate fine"}, problems: []mediaProblem{
		{"GET https://media-2.talk.example.com/welcome answered 502 Bad Gateway", "start the proxy on media-2"},
		{"TURN udp media-2.talk.example.com:3478: no answer", "start coturn on media-2"},
	}}
	alsoBroken := mediaVerdict{host: "media-3.talk.example.com", problems: []mediaProblem{{"TURN udp media-3.talk.example.com:3478: no answer", "start coturn on media-2"}}}
	tests := []struct {
		name       string
		verdicts   []mediaVerdict
		wantStatus Status
		wantReason string
		wantHint   string
	}{
		{"one healthy", []mediaVerdict{healthy}, statusOK,
			"1 media server: media-1.talk.example.com (certificate fine, proxy 2.0.2 welcomes, TURN fine)", ""},
		{"one healthy, two broken", []mediaVerdict{healthy, broken, alsoBroken}, statusFail,
			"media-2.talk.example.com: GET https://media-2.talk.example.com/welcome answered 502 Bad Gateway; TURN udp media-2.talk.example.com:3478: no answer | media-3.talk.example.com: TURN udp media-3.talk.example.com:3478: no answer",
			"start the proxy on media-2; start coturn on media-2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := judgeMedia(tt.verdicts)
			if r.Status != tt.wantStatus || r.Reason != tt.wantReason || r.Hint != tt.wantHint {
				t.Fatalf("got %s %q hint %q\nwant %s %q hint %q", r.Status, r.Reason, r.Hint, tt.wantStatus, tt.wantReason, tt.wantHint)
			}
		})
	}
}

// standInMediaHost is the media server of the stand-in backend.
const standInMediaHost = "media-1.verify.test"

// TestRunMedia runs every check against the stand-in with a media server
// (its HTTPS server answering /welcome as the real proxy does, its TURN
// server) and breaks one thing at a time; the media check names the media
// server and what failed.
func TestRunMedia(t *testing.T) {
	tests := []struct {
		name       string
		cfg        verifytest.Config
		change     func(*Options)
		wantFailed []CheckID
		inReason   []string
		inHint     string
	}{
		{"healthy", verifytest.Config{MediaHost: standInMediaHost}, nil, nil,
			[]string{"1 media server: " + standInMediaHost + " (certificate valid for " + standInMediaHost, "proxy 2.0.2-2+b2.debian welcomes", "TURN udp " + standInMediaHost, "tcp " + standInMediaHost, "tls " + standInMediaHost}, ""},
		{"no media server", verifytest.Config{}, nil, nil, []string{"none: turnServers and stunServers name no media server"}, ""},
		{"nginx points at the signaling server", verifytest.Config{MediaHost: standInMediaHost, MediaWelcome: `{"nextcloud-spreed-signaling":"Welcome","version":"2.0.2"}`}, nil,
			[]CheckID{idMedia}, []string{standInMediaHost + ": GET https://" + standInMediaHost, "not the signaling proxy's welcome"}, "proxy_pass"},
		{"certificate without the media server's name", verifytest.Config{MediaHost: standInMediaHost, CertNames: []string{verifytest.Domain}}, nil,
			[]CheckID{idMedia}, []string{"certificate is for " + verifytest.Domain + ", not " + standInMediaHost}, "journalctl -u nctalk-setup"},
		{"wrong TURN secret", verifytest.Config{MediaHost: standInMediaHost}, func(o *Options) { o.Outputs.TURNSecret = "not-the-secret" },
			[]CheckID{idTURN, idMedia}, []string{standInMediaHost + ": TURN udp " + standInMediaHost, "credentials refused"}, "turnSecret"},
		{"media server unreachable", verifytest.Config{MediaHost: standInMediaHost}, func(o *Options) {
			o.Resolve[standInMediaHost] = []net.IP{net.ParseIP("127.0.0.1")}
			o.mediaHTTPSPort = closedPort4(t)
		}, []CheckID{idMedia}, []string{"cannot connect to " + standInMediaHost}, "logs nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := verifytest.Start(t, tt.cfg)
			opts := standInOptions(t, b)
			if tt.change != nil {
				tt.change(&opts)
			}
			rep := Run(context.Background(), opts)
			logReport(t, rep)
			var failed []CheckID
			for _, r := range rep.Results {
				if r.Status == statusFail {
					failed = append(failed, r.Check)
				}
			}
			if !slices.Equal(failed, tt.wantFailed) {
				t.Fatalf("failed checks %v, want %v", failed, tt.wantFailed)
			}
			for _, id := range []CheckID{idSTUN, idTURN} {
				if r := result(rep, id); strings.Contains(r.Reason, standInMediaHost) {
					t.Errorf("%s probed the media server, the media check's: %q", id, r.Reason)
				}
			}
			r := result(rep, idMedia)
			for _, s := range tt.inReason {
				if !strings.Contains(r.Reason, s) {
					t.Errorf("media: %s %q does not contain %q", r.Status, r.Reason, s)
				}
			}
			if !strings.Contains(r.Hint, tt.inHint) {
				t.Errorf("media hint %q does not contain %q", r.Hint, tt.inHint)
			}
		})
	}
}

// TestChecksDocumented: the check table of docs/nextcloud.md ("Checking a
// live backend") lists exactly the checks of Checks, in their order.
func TestChecksDocumented(t *testing.T) {
	raw, err := os.ReadFile("../../../../docs/nextcloud.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, found := strings.Cut(string(raw), "## Checking a live backend")
	if !found {
		t.Fatal("docs/nextcloud.md has no section \"Checking a live backend\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []CheckID
	for _, line := range strings.Split(section, "\n") {
		if m := checkRowRE.FindStringSubmatch(line); m != nil {
			documented = append(documented, CheckID(m[1]))
		}
	}
	if !slices.Equal(documented, Checks) {
		t.Fatalf("docs/nextcloud.md's check table lists %v; verify runs %v", documented, Checks)
	}
}

// checkRowRE matches a row of the check table: "| `id` | …".
var checkRowRE = regexp.MustCompile("^\\| `([a-z0-9-]+)` \\|")
