package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nctalk/nctalk/schema"
)

// checkTLS fetches the certificate on 443 and checks chain, name and dates.
func checkTLS(ctx context.Context, e *env) Result {
	domain := e.opts.Outputs.Domain
	port := strconv.Itoa(schema.PortHTTPS)
	if u, err := url.Parse(e.opts.Outputs.SignalingURL); err == nil && u.Port() != "" && strings.EqualFold(u.Hostname(), domain) {
		port = u.Port() // where the signaling URL says nginx serves TLS
	}
	certs, err := e.peerCertificates(ctx, domain, port)
	var ce *chainError
	switch {
	case errors.As(err, &ce) && !ce.handshake:
		return fail(err.Error(), "is nginx running and port 443/tcp open in the firewall? check `docker compose ps` on the server")
	case err != nil:
		return fail(err.Error(), "nginx has no usable certificate yet: check certbot's log (/var/log/letsencrypt) on the server")
	}
	return judgeCertificate(certs, domain, e.opts.RootCAs, e.opts.Now(), e.opts.MinCertValidity)
}

// chainError is why peerCertificates got no chain: the connection or
// (handshake) the TLS handshake failed.
type chainError struct {
	addr      string
	handshake bool
	err       error
}

func (c *chainError) Error() string {
	if c.handshake {
		return fmt.Sprintf("TLS handshake with %s failed: %s", c.addr, shortErr(c.err))
	}
	return fmt.Sprintf("cannot connect to %s: %s", c.addr, shortErr(c.err))
}

func (c *chainError) Unwrap() error { return c.err }

// peerCertificates connects to host:port with host as SNI and returns the
// chain the server sends, without judging it (judgeCertificate does, with
// full detail). Its errors are *chainError.
func (e *env) peerCertificates(ctx context.Context, host, port string) ([]*x509.Certificate, error) {
	addr := net.JoinHostPort(host, port)
	raw, err := e.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, &chainError{addr: addr, err: err}
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{ServerName: host, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, &chainError{addr: addr, handshake: true, err: err}
	}
	return conn.ConnectionState().PeerCertificates, nil
}

// judgeCertificate is the pure part of the TLS check.
func judgeCertificate(certs []*x509.Certificate, domain string, roots *x509.CertPool, now time.Time, minValidity time.Duration) Result {
	if len(certs) == 0 {
		return fail("the server sent no certificate", "check nginx's ssl_certificate")
	}
	leaf := certs[0]
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	issuer := issuerName(leaf)
	staging := isStaging(certs)
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: domain, Roots: roots, Intermediates: inter, CurrentTime: now})
	if err != nil {
		var host x509.HostnameError
		var inv x509.CertificateInvalidError
		var unknown x509.UnknownAuthorityError
		switch {
		case errors.As(err, &host):
			return fail(fmt.Sprintf("certificate is for %s, not %s (issuer %s)", certNames(leaf), domain, issuer),
				"certbot must request the certificate for the domain in the stack config; check the `domain` setting and /etc/letsencrypt/live on the server")
		case errors.As(err, &inv) && inv.Reason == x509.Expired:
			if now.After(leaf.NotAfter) {
				return fail(fmt.Sprintf("certificate expired %s (%s ago, issuer %s)", leaf.NotAfter.UTC().Format(time.RFC3339), days(now.Sub(leaf.NotAfter)), issuer),
					"renewal is not working: run `certbot renew` on the server and read its log; the renewal hook must reload nginx and restart coturn")
			}
			if now.Before(leaf.NotBefore) {
				return fail(fmt.Sprintf("certificate not valid before %s (check this machine's clock)", leaf.NotBefore.UTC().Format(time.RFC3339)), "fix the clock here or on the server")
			}
			return fail("a certificate in the chain has expired: "+shortErr(err), "renew the certificate with certbot")
		case staging:
			return fail(fmt.Sprintf("certificate from Let's Encrypt's STAGING CA (issuer %s): browsers and Nextcloud do not trust it", issuer),
				"set acmeStaging=false and let certbot fetch a real certificate (`pulumi up`)")
		case errors.As(err, &unknown):
			return fail(fmt.Sprintf("certificate not issued by a trusted CA (issuer %s)", issuer),
				"nginx serves a self-signed or foreign certificate; check certbot on the server, or pass --ca FILE for a private CA")
		default:
			return fail("certificate does not verify: "+shortErr(err), "check the chain nginx serves (fullchain.pem)")
		}
	}
	left := leaf.NotAfter.Sub(now)
	if left < minValidity {
		return fail(fmt.Sprintf("certificate for %s expires in %s (%s), under the %s minimum", domain, days(left), leaf.NotAfter.UTC().Format("2006-01-02"), days(minValidity)),
			"certbot renews 30 days ahead; renewal is failing: run `certbot renew` on the server and read its log")
	}
	res := ok(fmt.Sprintf("valid for %s, issuer %s, expires %s (in %s)", domain, issuer, leaf.NotAfter.UTC().Format("2006-01-02"), days(left)))
	if staging {
		res.Warnings = append(res.Warnings, "issued by Let's Encrypt's STAGING CA (trusted here only through --ca): set acmeStaging=false for production")
	}
	return res
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return strconv.Quote(c.Issuer.CommonName)
	}
	return strconv.Quote(c.Issuer.String())
}

// isStaging recognises Let's Encrypt's staging hierarchy ("(STAGING) …",
// and the older "Fake LE …" names).
func isStaging(certs []*x509.Certificate) bool {
	for _, c := range certs {
		for _, n := range []string{c.Issuer.CommonName, c.Subject.CommonName, strings.Join(c.Issuer.Organization, " ")} {
			if strings.Contains(n, "(STAGING)") || strings.HasPrefix(n, "Fake LE") {
				return true
			}
		}
	}
	return false
}

func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = append(names, c.Subject.CommonName)
	}
	if len(names) == 0 {
		return "no name"
	}
	return strings.Join(names, ", ")
}

// days formats a duration in whole days, or hours under two days.
func days(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	d = d.Round(time.Hour)
	if d < 48*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}
