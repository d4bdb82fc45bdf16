package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/talk"
)

func TestParseFeatures(t *testing.T) {
	tests := []struct {
		header string
		want   []string
	}{
		{"", nil},
		{"hello-v2", []string{"hello-v2"}},
		{"a, b,c ,, d", []string{"a", "b", "c", "d"}},
		{" switchto ,federation", []string{"switchto", "federation"}},
	}
	for _, tt := range tests {
		if got := parseFeatures(tt.header); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFeatures(%q) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestJudgeFeatures(t *testing.T) {
	// The header of the real 2.0.2 binary (seen on this machine).
	real202 := "audio-video-permissions, dialout, federation, hello-v2, incall-all, join-features, mcu, offer-codecs, recipient-call, simulcast, switchto, transient-data, update-sdp, welcome"
	tests := []struct {
		name, header string
		status       Status
		inReason     []string
		inWarning    string
	}{
		{"2.0.2 passes, warns about chat-relay", real202, statusOK, []string{"2.0.2"}, "chat-relay"},
		{"everything", real202 + ", chat-relay", statusOK, []string{"2.0.2"}, ""},
		{"1.x without federation", "audio-video-permissions, incall-all, hello-v2, switchto, mcu", statusFail, []string{"federation", "2.0.2"}, ""},
		{"ancient", "mcu", statusFail, []string{"audio-video-permissions, federation, incall-all, hello-v2, switchto"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := judgeFeatures("2.0.2", tt.header)
			if r.Status != tt.status {
				t.Fatalf("status %s, want %s (%s)", r.Status, tt.status, r.Reason)
			}
			for _, s := range tt.inReason {
				if !strings.Contains(r.Reason, s) {
					t.Errorf("reason %q lacks %q", r.Reason, s)
				}
			}
			w := strings.Join(r.Warnings, "|")
			if tt.inWarning != "" && !strings.Contains(w, tt.inWarning) {
				t.Errorf("warnings %q lack %q", w, tt.inWarning)
			}
			if tt.inWarning == "" && w != "" {
				t.Errorf("unexpected warnings %q", w)
			}
			if r.Status == statusFail && r.Hint == "" {
				t.Error("a failure without a hint")
			}
		})
	}
}

func TestJudgeRoomStatus(t *testing.T) {
	tests := []struct {
		code     int
		body     string
		status   Status
		final    bool
		inReason string
	}{
		{http.StatusOK, "{}", statusOK, false, "accepted"},
		{http.StatusForbidden, "Authentication check failed", statusFail, true, "signalingSecret"},
		{http.StatusTooManyRequests, "Too many requests", statusFail, true, "throttles"},
		{http.StatusInternalServerError, "Error while processing\n", statusFail, false, "NATS"},
		{http.StatusInternalServerError, "<html>nginx</html>", statusFail, false, "500"},
		{http.StatusBadGateway, "<html>502</html>", statusFail, false, "502"},
	}
	for _, tt := range tests {
		r := judgeRoomStatus(tt.code, strconv.Itoa(tt.code)+" "+http.StatusText(tt.code), []byte(tt.body))
		if r.Status != tt.status || r.Final != tt.final || !strings.Contains(r.Reason, tt.inReason) {
			t.Errorf("judgeRoomStatus(%d, %q) = %s final=%v %q; want %s final=%v containing %q", tt.code, tt.body, r.Status, r.Final, r.Reason, tt.status, tt.final, tt.inReason)
		}
	}
}

func TestTURNProbes(t *testing.T) {
	probes, warnings := turnProbes(talk.Endpoints{Domain: "talk.example.com"}.TURNServers())
	var got []string
	for _, p := range probes {
		got = append(got, p.String())
	}
	want := []string{"udp talk.example.com:3478", "tcp talk.example.com:3478", "tls talk.example.com:5349"}
	if !reflect.DeepEqual(got, want) || len(warnings) != 0 {
		t.Fatalf("probes %q warnings %q, want %q and none", got, warnings, want)
	}
	_, warnings = turnProbes([]talk.TURNServer{{Schemes: "turns", Server: "x:5349", Protocols: "udp"}})
	if len(warnings) != 1 || !strings.Contains(warnings[0], "not probed") {
		t.Fatalf("turns over udp: warnings %q", warnings)
	}
}

func TestExpectedAddrs(t *testing.T) {
	tests := []struct{ v4, v6, want4, want6 string }{
		{"203.0.113.7", "2001:db8:1::1", "203.0.113.7", "2001:db8:1::1"},
		{"203.0.113.7", "2001:db8:1::/64", "203.0.113.7", "2001:db8:1::1"},
		{"", "2001:db8:1::", "<nil>", "2001:db8:1::1"},
		{"", "", "<nil>", "<nil>"},
	}
	for _, tt := range tests {
		v4, v6 := expectedAddrs(tt.v4, tt.v6)
		if v4.String() != tt.want4 || v6.String() != tt.want6 {
			t.Errorf("expectedAddrs(%q, %q) = %v, %v; want %s, %s", tt.v4, tt.v6, v4, v6, tt.want4, tt.want6)
		}
	}
}

// testCA issues certificates for judgeCertificate's cases.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-1000 * time.Hour), NotAfter: time.Now().Add(10000 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	p := x509.NewCertPool()
	p.AddCert(c)
	return &testCA{c, key, p}
}

func (ca *testCA) leaf(t *testing.T, name string, notBefore, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestJudgeCertificate(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "Test CA")
	staging := newTestCA(t, "(STAGING) Pretend Pear X1")
	other := newTestCA(t, "Someone else")
	day := 24 * time.Hour
	const domain = "talk.example.com"
	tests := []struct {
		name     string
		leaf     *x509.Certificate
		roots    *x509.CertPool
		status   Status
		inReason string
		warning  string
	}{
		{"valid", ca.leaf(t, domain, now.Add(-day), now.Add(60*day)), ca.pool, statusOK, "expires", ""},
		{"wrong name", ca.leaf(t, "other.example.com", now.Add(-day), now.Add(60*day)), ca.pool, statusFail, "is for other.example.com, not talk.example.com", ""},
		{"expired", ca.leaf(t, domain, now.Add(-90*day), now.Add(-2*day)), ca.pool, statusFail, "expired", ""},
		{"expires soon", ca.leaf(t, domain, now.Add(-80*day), now.Add(5*day)), ca.pool, statusFail, "expires in 5 days", ""},
		{"untrusted", other.leaf(t, domain, now.Add(-day), now.Add(60*day)), ca.pool, statusFail, "not issued by a trusted CA", ""},
		{"staging untrusted", staging.leaf(t, domain, now.Add(-day), now.Add(60*day)), ca.pool, statusFail, "STAGING", ""},
		{"staging trusted by --ca", staging.leaf(t, domain, now.Add(-day), now.Add(60*day)), staging.pool, statusOK, "expires", "STAGING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := judgeCertificate([]*x509.Certificate{tt.leaf}, domain, tt.roots, now, defaultMinCertValidity)
			if r.Status != tt.status || !strings.Contains(r.Reason, tt.inReason) {
				t.Fatalf("got %s %q, want %s containing %q", r.Status, r.Reason, tt.status, tt.inReason)
			}
			if w := strings.Join(r.Warnings, "|"); (tt.warning == "") != (w == "") || !strings.Contains(w, tt.warning) {
				t.Errorf("warnings %q, want %q", w, tt.warning)
			}
			if r.Status == statusFail && r.Hint == "" {
				t.Error("a failure without a hint")
			}
		})
	}
}

func TestVerifyChainOnly(t *testing.T) {
	now := time.Now()
	ca := newTestCA(t, "Test CA")
	other := newTestCA(t, "Impostor")
	day := 24 * time.Hour
	// Name and dates are the TLS check's business; the chain is not.
	for name, leaf := range map[string]*x509.Certificate{
		"expired":    ca.leaf(t, "talk.example.com", now.Add(-90*day), now.Add(-time.Hour)),
		"wrong name": ca.leaf(t, "other.example.com", now.Add(-day), now.Add(day)),
	} {
		if err := verifyChainOnly([]*x509.Certificate{leaf}, ca.pool, now); err != nil {
			t.Errorf("%s: %v, want accepted", name, err)
		}
	}
	if err := verifyChainOnly([]*x509.Certificate{other.leaf(t, "talk.example.com", now.Add(-day), now.Add(day))}, ca.pool, now); err == nil {
		t.Error("a certificate from an untrusted CA was accepted")
	}
}

func TestExitCode(t *testing.T) {
	pass := Report{OK: true, Results: []Result{{Status: statusOK}}}
	failed := Report{OK: false, Results: []Result{{Status: statusOK}, {Status: statusFail}}}
	empty := Report{OK: true}
	if ExitCode(pass) != 0 || ExitCode(failed) != 1 || ExitCode(empty) != 1 {
		t.Fatalf("exit codes %d %d %d, want 0 1 1", ExitCode(pass), ExitCode(failed), ExitCode(empty))
	}
}

// TestTURNProbesOn443 splits the TURN entries: the turns entry on 443
// (turnOn443) is the turn-443 check's, over TLS with the TURN name; the
// turn check keeps coturn's own ports.
func TestTURNProbesOn443(t *testing.T) {
	s := cloudconfig.Settings{Domain: "talk.example.com", TURNOn443: true}
	probes, _ := turnProbes(s.Endpoints().TURNServers())
	on443, rest := turnProbesOn443(probes)
	if fmt.Sprint(on443) != "[tls turn.talk.example.com:443]" {
		t.Errorf("probes on 443 = %v; want [tls turn.talk.example.com:443]", on443)
	}
	if fmt.Sprint(rest) != "[udp talk.example.com:3478 tcp talk.example.com:3478 tls talk.example.com:5349]" {
		t.Errorf("other probes = %v", rest)
	}
	s.TURNOn443 = false
	probes, _ = turnProbes(s.Endpoints().TURNServers())
	if on443, _ := turnProbesOn443(probes); len(on443) != 0 {
		t.Errorf("turnOn443 false: probes on 443 = %v; want none", on443)
	}
}

// TestJudgeFeaturesOfEachRelease feeds the X-Spreed-Signaling-Features
// header each supported release sends on GET /api/v1/welcome. The header is
// strings.Join(hub.info.Features, ", ") (backend_server.go setComonHeaders
// in 2.0.x, server/backend_server.go:219 setCommonHeaders in 2.1.x), where
// info starts as the sorted DefaultFeatures (api_signaling.go in 2.0.x,
// api/signaling.go:588 in 2.1.x; lines below per tag) and SetMcu adds mcu,
// simulcast and update-sdp when an MCU (Janus) is configured (hub.go:412
// in 2.0.2, server/hub.go:504 in 2.1.1), keeping the list sorted. Read from
// the tags of strukturag/nextcloud-spreed-signaling.
func TestJudgeFeaturesOfEachRelease(t *testing.T) {
	releases := []struct {
		version, source, header string
		warn                    string // the recommended features it lacks
	}{
		{"2.0.0", "api_signaling.go:553", "audio-video-permissions, dialout, federation, hello-v2, incall-all, mcu, simulcast, switchto, transient-data, update-sdp, welcome", "join-features, chat-relay"},
		{"2.0.1", "api_signaling.go:553", "audio-video-permissions, dialout, federation, hello-v2, incall-all, mcu, simulcast, switchto, transient-data, update-sdp, welcome", "join-features, chat-relay"},
		{"2.0.2", "api_signaling.go:546", "audio-video-permissions, dialout, federation, hello-v2, incall-all, join-features, mcu, offer-codecs, recipient-call, simulcast, switchto, transient-data, update-sdp, welcome", "chat-relay"},
		{"2.0.3", "api_signaling.go:547", "audio-video-permissions, dialout, federation, hello-v2, incall-all, join-features, mcu, offer-codecs, recipient-call, serverinfo, simulcast, switchto, transient-data, update-sdp, welcome", "chat-relay"},
		{"2.0.4", "api_signaling.go:551", "audio-video-permissions, dialout, federation, hello-v2, incall-all, join-features, mcu, offer-codecs, recipient-call, serverinfo, simulcast, switchto, transient-data, update-sdp, welcome", "chat-relay"},
		{"2.1.0", "api/signaling.go:588", "audio-video-permissions, chat-relay, dialout, federation, hello-v2, incall-all, join-features, mcu, offer-codecs, recipient-call, serverinfo, simulcast, switchto, transient-data, transient-sessiondata, update-sdp, welcome", ""},
		{"2.1.1", "api/signaling.go:588", "audio-video-permissions, chat-relay, dialout, federation, hello-v2, incall-all, join-features, mcu, offer-codecs, recipient-call, serverinfo, simulcast, switchto, transient-data, transient-sessiondata, update-sdp, welcome", ""},
	}
	for _, rel := range releases {
		t.Run(rel.version, func(t *testing.T) {
			r := judgeFeatures(rel.version, rel.header)
			if r.Status != statusOK {
				t.Fatalf("%s (%s): status %s: %s", rel.version, rel.source, r.Status, r.Reason)
			}
			w := strings.Join(r.Warnings, "|")
			if rel.warn == "" && w != "" {
				t.Errorf("unexpected warnings %q", w)
			}
			if rel.warn != "" && !strings.Contains(w, "missing: "+rel.warn+" ") {
				t.Errorf("warnings %q; want one naming exactly %s", w, rel.warn)
			}
		})
		// Without an MCU the same release drops mcu, simulcast and
		// update-sdp (SetMcu(nil)): Janus is not in use, which on this
		// stack means signaling did not get its [mcu] settings.
		t.Run(rel.version+" without MCU", func(t *testing.T) {
			header := rel.header
			for _, f := range []string{"mcu, ", "simulcast, ", "update-sdp, "} {
				header = strings.Replace(header, f, "", 1)
			}
			r := judgeFeatures(rel.version, header)
			if r.Status != statusOK {
				t.Fatalf("status %s: %s", r.Status, r.Reason)
			}
			if w := strings.Join(r.Warnings, "|"); !strings.Contains(w, "no MCU") {
				t.Errorf("warnings %q; want one saying there is no MCU", w)
			}
		})
	}
}
