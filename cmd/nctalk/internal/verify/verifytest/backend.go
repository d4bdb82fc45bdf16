// Package verifytest runs an in-process stand-in for an nctalk backend on
// loopback, for the unit tests of `nctalk verify`: an HTTPS server that
// speaks the signaling server's welcome, room and WebSocket hello the way
// nextcloud-spreed-signaling 2.0.2 does, and a pion TURN server with REST
// credentials over UDP, TCP and TLS. The integration tests in tests/ run
// verify against the real daemons instead.
package verifytest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/logging"
	"github.com/pion/turn/v4"

	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// Domain is the stand-in backend's domain.
const Domain = "talk.verify.test"

// features2_0_2 is the feature header of nextcloud-spreed-signaling 2.0.2
// as seen on the real binary.
const features2_0_2 = "audio-video-permissions, dialout, federation, hello-v2, incall-all, join-features, mcu, offer-codecs, recipient-call, simulcast, switchto, transient-data, update-sdp, welcome"

// Config shapes the stand-in. The zero value is a healthy backend.
type Config struct {
	// Features is the X-Spreed-Signaling-Features header; "" means features2_0_2.
	Features string
	// CertNames are the certificate's names; nil means Domain.
	CertNames []string
	// CertNotAfter is the certificate's expiry; zero means in 90 days.
	CertNotAfter time.Time
	// RoomNATSClosed makes signed room requests fail as 2.0.2 does when
	// its NATS client gave up (500 Error while processing).
	RoomNATSClosed bool
	// RelayPorts is the TURN server's relay range; zero means 50100-50199.
	RelayPorts schema.PortRange
	// HelloAnswer replaces the answer to a WebSocket hello (raw message);
	// "" means the error invalid_backend, as 2.0.2 answers an unknown Nextcloud.
	HelloAnswer string
	// MediaHost adds a media server by that name: the outputs list its
	// TURN and STUN entries (on the stand-in's TURN server), Resolve maps
	// it to 127.0.0.1, the certificate names it (unless CertNames says
	// otherwise) and the HTTPS server answers GET /welcome as the signaling
	// proxy does.
	MediaHost string
	// MediaWelcome replaces the body of GET /welcome; "" means the real
	// 2.0.2 proxy's (proxyWelcome).
	MediaWelcome string
}

// proxyWelcome is what the real signaling proxy 2.0.2 (Debian's
// nextcloud-spreed-signaling-proxy 2.0.2-2+b2) answers on GET /welcome.
const proxyWelcome = `{"nextcloud-spreed-signaling-proxy":"Welcome","version":"2.0.2-2+b2.debian"}` + "\n"

// Backend is a running stand-in.
type Backend struct {
	// Outputs are stack outputs pointing at the stand-in; the tests change
	// them to break things (a wrong secret, another relay range).
	Outputs outputs.Outputs
	// Roots trusts the stand-in's CA; CAPEM is that CA in PEM.
	Roots *x509.CertPool
	CAPEM []byte
	// Resolve maps Domain to 127.0.0.1, as --resolve would.
	Resolve map[string][]net.IP
	// RoomRequests counts room requests whose signature was valid.
	RoomRequests atomic.Int64
	// Hellos counts WebSocket hellos.
	Hellos atomic.Int64
	// HTTPSPort is the HTTPS server's port, the media server's "443".
	HTTPSPort int
}

// Start starts the stand-in; it stops when the test ends.
func Start(t testing.TB, cfg Config) *Backend {
	t.Helper()
	if cfg.Features == "" {
		cfg.Features = features2_0_2
	}
	if cfg.CertNames == nil {
		cfg.CertNames = []string{Domain}
		if cfg.MediaHost != "" {
			cfg.CertNames = append(cfg.CertNames, cfg.MediaHost)
		}
	}
	if cfg.MediaWelcome == "" {
		cfg.MediaWelcome = proxyWelcome
	}
	if cfg.CertNotAfter.IsZero() {
		cfg.CertNotAfter = time.Now().Add(90 * 24 * time.Hour)
	}
	if cfg.RelayPorts == (schema.PortRange{}) {
		cfg.RelayPorts = schema.PortRange{First: 50100, Last: 50199}
	}
	b := &Backend{Resolve: map[string][]net.IP{Domain: {net.ParseIP("127.0.0.1")}}}
	signalingSecret, turnSecret := randomString(t), randomString(t)

	caCert, caKey, caPEM := newCA(t)
	b.CAPEM = caPEM
	b.Roots = x509.NewCertPool()
	b.Roots.AddCert(caCert)
	leaf := issue(t, caCert, caKey, cfg.CertNames, cfg.CertNotAfter)
	// coturn has its own copy of the certificate; it stays valid here.
	turnNames := []string{Domain}
	if cfg.MediaHost != "" {
		turnNames = append(turnNames, cfg.MediaHost) // one TURN server stands in for both
	}
	turnLeaf := issue(t, caCert, caKey, turnNames, time.Now().Add(90*24*time.Hour))

	// Signaling behind "nginx": one HTTPS server.
	mux := http.NewServeMux()
	setHeaders := func(w http.ResponseWriter) {
		w.Header().Set("X-Spreed-Signaling-Features", cfg.Features)
		w.Header().Set("Server", "nextcloud-spreed-signaling/2.0.2-fake")
	}
	mux.HandleFunc("GET "+talk.SignalingPath+"/api/v1/welcome", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"nextcloud-spreed-signaling":"Welcome","version":"2.0.2-fake"}`+"\n")
	})
	mux.HandleFunc("GET /welcome", func(w http.ResponseWriter, r *http.Request) {
		if cfg.MediaHost == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, cfg.MediaWelcome)
	})
	mux.HandleFunc("POST "+talk.SignalingPath+"/api/v1/room/{id}", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		body, _ := io.ReadAll(r.Body)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			http.Error(w, "Unsupported Content-Type", http.StatusBadRequest)
			return
		}
		random := r.Header.Get("Spreed-Signaling-Random")
		m := hmac.New(sha256.New, []byte(signalingSecret))
		m.Write([]byte(random))
		m.Write(body)
		if len(random) < 32 || !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(r.Header.Get("Spreed-Signaling-Checksum"))) {
			http.Error(w, "Authentication check failed", http.StatusForbidden)
			return
		}
		b.RoomRequests.Add(1)
		if cfg.RoomNATSClosed {
			http.Error(w, "Error while processing", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, "{}")
	})
	mux.HandleFunc(talk.SignalingPath+"/spreed", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		_ = c.Write(ctx, websocket.MessageText, []byte(`{"type":"welcome","welcome":{"version":"2.0.2-fake"}}`))
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var hello struct {
			ID    string `json:"id"`
			Type  string `json:"type"`
			Hello struct {
				Auth struct {
					URL string `json:"url"`
				} `json:"auth"`
			} `json:"hello"`
		}
		if json.Unmarshal(data, &hello) != nil || hello.Type != "hello" {
			return
		}
		b.Hellos.Add(1)
		answer := fmt.Sprintf(`{"id":%q,"type":"error","error":{"code":"invalid_backend","message":"The backend URL is not supported."}}`, hello.ID)
		if cfg.HelloAnswer != "" {
			answer = cfg.HelloAnswer
		}
		_ = c.Write(ctx, websocket.MessageText, []byte(answer))
		_, _, _ = c.Read(ctx) // until the client closes
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = listenTCP(t, "127.0.0.1:0")
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	httpsPort := srv.Listener.Addr().(*net.TCPAddr).Port

	// TURN: UDP and TCP on one port, TLS on another.
	udp, tcpL := listenUDPAndTCP(t)
	turnPort := udp.LocalAddr().(*net.UDPAddr).Port
	tlsL := tls.NewListener(listenTCP(t, "127.0.0.1:0"), &tls.Config{Certificates: []tls.Certificate{turnLeaf}})
	turnsPort := tlsL.Addr().(*net.TCPAddr).Port
	relay := func() turn.RelayAddressGenerator {
		return &turn.RelayAddressGeneratorPortRange{
			RelayAddress: net.ParseIP("127.0.0.1"), Address: "127.0.0.1",
			MinPort: uint16(cfg.RelayPorts.First), MaxPort: uint16(cfg.RelayPorts.Last),
		}
	}
	quiet := &logging.DefaultLoggerFactory{Writer: io.Discard, DefaultLogLevel: logging.LogLevelDisabled, ScopeLevels: map[string]logging.LogLevel{}}
	ts, err := turn.NewServer(turn.ServerConfig{
		Realm:             Domain,
		AuthHandler:       turn.LongTermTURNRESTAuthHandler(turnSecret, quiet.NewLogger("turn")),
		LoggerFactory:     quiet,
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: udp, RelayAddressGenerator: relay()}},
		ListenerConfigs: []turn.ListenerConfig{
			{Listener: tcpL, RelayAddressGenerator: relay()},
			{Listener: tlsL, RelayAddressGenerator: relay()},
		},
	})
	if err != nil {
		t.Fatalf("TURN server: %v", err)
	}
	t.Cleanup(func() { _ = ts.Close() })

	b.Outputs = outputs.Outputs{
		Domain:          Domain,
		SignalingURL:    "https://" + net.JoinHostPort(Domain, strconv.Itoa(httpsPort)) + talk.SignalingPath,
		SignalingSecret: signalingSecret,
		TURNSecret:      turnSecret,
		TURNServers: []talk.TURNServer{
			{Schemes: "turn", Server: net.JoinHostPort(Domain, strconv.Itoa(turnPort)), Protocols: "udp,tcp"},
			{Schemes: "turns", Server: net.JoinHostPort(Domain, strconv.Itoa(turnsPort)), Protocols: "tcp"},
		},
		STUNServers:    []string{net.JoinHostPort(Domain, strconv.Itoa(turnPort))},
		TURNRelayPorts: cfg.RelayPorts.String(),
		IPv4:           "127.0.0.1",
		IPv6:           "::1",
	}
	b.Resolve[Domain] = append(b.Resolve[Domain], net.ParseIP("::1"))
	b.HTTPSPort = httpsPort
	if cfg.MediaHost != "" {
		media := net.JoinHostPort(cfg.MediaHost, strconv.Itoa(turnPort))
		b.Outputs.TURNServers = append(b.Outputs.TURNServers,
			talk.TURNServer{Schemes: "turn", Server: media, Protocols: "udp,tcp"},
			talk.TURNServer{Schemes: "turns", Server: net.JoinHostPort(cfg.MediaHost, strconv.Itoa(turnsPort)), Protocols: "tcp"})
		b.Outputs.STUNServers = append(b.Outputs.STUNServers, media)
		b.Resolve[cfg.MediaHost] = []net.IP{net.ParseIP("127.0.0.1")}
	}
	return b
}

// OutputsJSON returns the outputs as `pulumi stack output --json` prints them.
func (b *Backend) OutputsJSON(t testing.TB) []byte {
	t.Helper()
	j, err := json.Marshal(b.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func listenTCP(t testing.TB, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// listenUDPAndTCP binds UDP and TCP on the same loopback port.
func listenUDPAndTCP(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			udp.Close()
			continue
		}
		t.Cleanup(func() { udp.Close(); l.Close() })
		return udp, l
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

func randomString(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "verifytest CA"},
		NotBefore: time.Now().Add(-365 * 24 * time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// issue makes a leaf valid for the 90 days up to notAfter.
func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, names []string, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		DNSNames: names, NotBefore: notAfter.Add(-90 * 24 * time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
