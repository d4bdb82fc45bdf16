package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// env is what the checks share: options, name resolution with overrides,
// dialing and TLS settings.
type env struct {
	opts Options
}

func newEnv(opts Options) *env { return &env{opts: opts} }

// lookup returns the addresses of host, IPv4 first, and whether they come
// from an override (--resolve) rather than DNS.
func (e *env) lookup(ctx context.Context, host string) ([]net.IP, bool, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []net.IP{ip}, false, nil
	}
	if ips, ok := e.opts.Resolve[strings.ToLower(host)]; ok {
		return sortIPs(ips), true, nil
	}
	addrs, err := e.opts.Resolver.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, false, fmt.Errorf("resolve %s: %w", host, err)
	}
	ips := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		ips = append(ips, a.IP)
	}
	if len(ips) == 0 {
		return nil, false, fmt.Errorf("resolve %s: no addresses", host)
	}
	return sortIPs(ips), false, nil
}

// sortIPs returns the addresses IPv4 first, keeping their order otherwise.
func sortIPs(ips []net.IP) []net.IP {
	var v4, v6 []net.IP
	for _, ip := range ips {
		if ip.To4() != nil {
			v4 = append(v4, ip)
		} else {
			v6 = append(v6, ip)
		}
	}
	return append(v4, v6...)
}

// dial connects to host:port over TCP, trying each address of host in turn.
func (e *env) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, _, err := e.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: dialTimeout}
	var errs []error
	for _, ip := range ips {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// strictTLS is the client configuration that checks everything: chain,
// name and dates. The TLS check and TURN over TLS use it.
func (e *env) strictTLS(serverName string) *tls.Config {
	return &tls.Config{RootCAs: e.opts.RootCAs, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// trustedChainTLS requires a certificate chain to a trusted root but leaves
// the name and the dates to the TLS check, so an expired or misnamed
// certificate shows as one FAIL (tls) rather than four. Nothing is sent to a
// server whose certificate no trusted CA issued. The signaling checks use it.
func (e *env) trustedChainTLS(serverName string) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChainOnly(cs.PeerCertificates, e.opts.RootCAs, e.opts.Now())
		},
	}
}

// verifyChainOnly checks that certs chain to a root in roots (nil: system),
// at now or, for a certificate outside its validity, at a moment inside it.
func verifyChainOnly(certs []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if len(certs) == 0 {
		return errors.New("server sent no certificate")
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	var firstErr error
	for _, at := range []time.Time{now, leaf.NotAfter.Add(-time.Second), leaf.NotBefore.Add(time.Second)} {
		_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: at})
		if err == nil {
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return fmt.Errorf("certificate not issued by a trusted CA: %w", firstErr)
}

// httpClient talks to the signaling server through the proxy.
func (e *env) httpClient(serverName string) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           e.dial,
			TLSClientConfig:       e.trustedChainTLS(serverName),
			TLSHandshakeTimeout:   dialTimeout,
			ResponseHeaderTimeout: dialTimeout,
			DisableKeepAlives:     true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// shortErr trims Go's error chains to their most useful end for a one-line
// reason: "dial tcp 127.0.0.1:443: connect: connection refused" stays whole.
func shortErr(err error) string {
	if err == nil {
		return ""
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the caller names the method and URL already
	}
	s := err.Error()
	s = strings.ReplaceAll(s, "\n", "; ")
	if len(s) > 240 {
		s = s[:240] + "…"
	}
	return s
}
