package vm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/talk"
	"github.com/nctalk/nctalk/tests/harness"
)

// openSignaling opens a Talk client's WebSocket to the guest's signaling
// server through nginx (the forwarded 443), trusting the ACME CA's root,
// and says hello as an internal client: a session that a restart of nginx
// or signaling would end.
func openSignaling(t *testing.T, port443 int, caPEM []byte, secrets cloudconfig.Secrets, backend string) *harness.SignalingConn {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("the ACME CA's root is not PEM")
	}
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", port443))
		},
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: testDomain, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := "wss://" + testDomain + talk.SignalingPath + "/spreed"
	conn, err := harness.DialSignaling(ctx, url, client)
	if err != nil {
		t.Fatalf("signaling WebSocket: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := conn.HelloInternal(ctx, secrets.InternalClientSecret, backend); err != nil {
		t.Fatalf("signaling hello: %v", err)
	}
	return conn
}
