package vm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/letsencrypt/challtestsrv"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// hostGateway is the host as the guest sees it through QEMU's user-mode
// network; connections to it arrive on the host's loopback.
const hostGateway = "10.0.2.2"

// guestAddr is the guest's own address on QEMU's user-mode network.
const guestAddr = "10.0.2.15"

// testCA signs the TLS certificates of the host services (Pebble's API, the
// registry). The guest trusts it through vendor-data (ca_certs).
type testCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "nctalk vm test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(48 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverCert issues a certificate for the host as the guest and the host see it.
func (c *testCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: hostGateway},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(47 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP(hostGateway), net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// gate refuses requests with 503 until it is opened: a registry or ACME
// server that is unavailable at first boot.
type gate struct {
	open     atomic.Bool
	refused  atomic.Int64
	firstRef atomic.Int64 // unix nanos of the first refusal
}

func (g *gate) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.open.Load() {
			g.refused.Add(1)
			g.firstRef.CompareAndSwap(0, time.Now().UnixNano())
			http.Error(w, "unavailable (test gate closed)", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// openAfterFirstRefusal opens the gate d after its first refusal (or at once
// when it is already open).
func (g *gate) openAfterFirstRefusal(d time.Duration) {
	go func() {
		for g.firstRef.Load() == 0 {
			time.Sleep(time.Second)
		}
		time.Sleep(d)
		g.open.Store(true)
	}()
}

// listenTLS serves h over TLS on a free loopback port and returns the port.
func listenTLS(t *testing.T, h http.Handler, cert tls.Certificate) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// freePort returns a loopback port that was free a moment ago (TCP and UDP).
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// dnsServer is pebble-challtestsrv's DNS server on a free loopback port.
type dnsServer struct {
	srv  *challtestsrv.ChallSrv
	port int
}

// startDNS answers A queries for domain with addr and nothing else. Only one
// per process: challtestsrv registers its handler on miekg/dns's global mux.
func startDNS(t *testing.T, logw io.Writer, addr string, names ...string) *dnsServer {
	t.Helper()
	port := freePort(t)
	srv, err := challtestsrv.New(challtestsrv.Config{
		DNSAddrs: []string{fmt.Sprintf("127.0.0.1:%d", port)},
		Log:      log.New(logw, "challtestsrv: ", log.LstdFlags),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDefaultDNSIPv4("")
	srv.SetDefaultDNSIPv6("")
	for _, n := range names {
		srv.AddDNSARecord(n, []string{addr})
	}
	srv.Run()
	t.Cleanup(srv.Shutdown)
	return &dnsServer{srv: srv, port: port}
}

// startStaticDNS is a second DNS view on its own mux (UDP and TCP): A
// queries for the names answer addr, everything else is empty.
func startStaticDNS(t *testing.T, addr string, names ...string) int {
	t.Helper()
	mux := dns.NewServeMux()
	mux.HandleFunc(".", func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		for _, q := range r.Question {
			if q.Qtype == dns.TypeA && slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(q.Name, dns.Fqdn(n)) }) {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET}, A: net.ParseIP(addr)})
			}
		}
		_ = w.WriteMsg(m)
	})
	port := freePort(t)
	pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: mux}
	tcp := &dns.Server{Listener: ln, Handler: mux}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return port
}

// acmeServer is an in-process Pebble.
type acmeServer struct {
	port   int
	ca     *ca.CAImpl
	orders atomic.Int64
	gate   gate
}

// directory is the ACME directory URL as the guest sees it.
func (a *acmeServer) directory() string {
	return fmt.Sprintf("https://%s:%d%s", hostGateway, a.port, wfe.DirectoryPath)
}

// rootPEM is the root that signs the certificates Pebble issues.
func (a *acmeServer) rootPEM() []byte { return a.ca.GetRootCert(0).PEM() }

// startPebble runs Pebble: HTTP-01 validation connects to httpPort on the
// address resolverPort's DNS gives for the domain.
func startPebble(t *testing.T, logw io.Writer, cert tls.Certificate, httpPort, resolverPort int) *acmeServer {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	logger := log.New(logw, "pebble: ", log.LstdFlags)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "default", ValidityPeriod: 0}}
	authority := ca.New(logger, store, "", "rsa", 0, 1, profiles)
	validator := va.New(logger, httpPort, 0, false, fmt.Sprintf("127.0.0.1:%d", resolverPort), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	a := &acmeServer{ca: authority}
	a.gate.open.Store(true)
	h := front.Handler()
	counting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/order-plz" && r.Method == http.MethodPost {
			a.orders.Add(1)
		}
		h.ServeHTTP(w, r)
	})
	a.port = listenTLS(t, a.gate.wrap(counting), cert)
	return a
}

// imageRegistry is an in-memory OCI registry (go-containerregistry).
type imageRegistry struct {
	port  int // TLS (the test CA), for the guest
	plain int // plain HTTP on loopback, for pushing from the host
	gate  gate
	mu    sync.Mutex
	pulls map[string]int // manifest GETs by path
}

func startRegistry(t *testing.T, logw io.Writer, cert tls.Certificate) *imageRegistry {
	t.Helper()
	r := &imageRegistry{pulls: map[string]int{}}
	r.gate.open.Store(true)
	h := registry.New(registry.Logger(log.New(logw, "registry: ", log.LstdFlags)))
	counting := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && filepath.Base(filepath.Dir(req.URL.Path)) == "manifests" {
			r.mu.Lock()
			r.pulls[req.URL.Path]++
			r.mu.Unlock()
		}
		h.ServeHTTP(w, req)
	})
	r.port = listenTLS(t, r.gate.wrap(counting), cert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.plain = ln.Addr().(*net.TCPAddr).Port
	return r
}

// host is the registry's host:port as the guest sees it.
func (r *imageRegistry) host() string { return fmt.Sprintf("%s:%d", hostGateway, r.port) }

// pushHost is the registry's plain-HTTP host:port for pushes from the host.
func (r *imageRegistry) pushHost() string { return fmt.Sprintf("127.0.0.1:%d", r.plain) }

// logFile opens a log file under dir.
func logFile(t *testing.T, dir, name string) *os.File {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
