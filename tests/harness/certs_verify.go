package harness

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// IssueWithValidity is Issue with chosen dates, for certificates that are
// expired or about to expire. It returns fullchain.pem and privkey.pem.
func (ca *TestCA) IssueWithValidity(notBefore, notAfter time.Time, names ...string) (fullchain, key []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("leaf key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, fmt.Errorf("serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &k.PublicKey, ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("leaf certificate for %v: %w", names, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, fmt.Errorf("leaf key: %w", err)
	}
	return append(pemBlock("CERTIFICATE", der), ca.CertPEM...), pemBlock("PRIVATE KEY", keyDER), nil
}

// SwapNginxCertificate makes nginx serve another certificate: it writes
// fullchain and key over nginx's copy (cloudconfig.NginxTLSDir, keeping the
// files' owners and modes), reloads nginx (SIGHUP, as the renewal hook
// does) and waits until port 443 serves the new certificate. coturn's copy
// is left alone. restore puts the original back the same way.
func (s *Stack) SwapNginxCertificate(ctx context.Context, fullchain, key []byte) (restore func(context.Context) error, err error) {
	dir := filepath.Join(s.root, "opt-nctalk", strings.TrimPrefix(cloudconfig.NginxTLSDir, cloudconfig.BaseDir+"/"))
	certPath, keyPath := filepath.Join(dir, cloudconfig.TLSCertFile), filepath.Join(dir, cloudconfig.TLSKeyFile)
	oldCert, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("nginx certificate copy: %w", err)
	}
	oldKey, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("nginx key copy: %w", err)
	}
	install := func(ctx context.Context, cert, key []byte) error {
		// New files (new inodes) with the old owner and mode: nginx 1.27+
		// caches certificates across reloads by inode and mtime (seconds),
		// so a rewrite in place within a second would not be re-read.
		if err := replaceFile(keyPath, key); err != nil {
			return err
		}
		if err := replaceFile(certPath, cert); err != nil {
			return err
		}
		oldWorkers := s.nginxWorkers()
		if err := s.reloadNginx(); err != nil {
			return err
		}
		if err := s.waitWorkersRetired(ctx, oldWorkers); err != nil {
			return err
		}
		return s.waitServedCertificate(ctx, cert)
	}
	if err := install(ctx, fullchain, key); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error { return install(ctx, oldCert, oldKey) }, nil
}

// reloadNginx sends SIGHUP to nginx's master process.
func (s *Stack) reloadNginx() error {
	s.mu.Lock()
	svc, ok := s.services[cloudconfig.ServiceNginx]
	s.mu.Unlock()
	if !ok || svc.proc == nil {
		return fmt.Errorf("nginx is not running")
	}
	if done, _ := svc.proc.exited(); done {
		return fmt.Errorf("nginx is not running")
	}
	fmt.Fprintf(svc.logs, "---- harness: reloading nginx (SIGHUP)\n")
	return svc.proc.cmd.Process.Signal(syscall.SIGHUP)
}

// nginxWorkers lists nginx's processes other than the master: the workers
// that serve connections with the configuration they were started with.
func (s *Stack) nginxWorkers() []int {
	master := s.PID(cloudconfig.ServiceNginx)
	var workers []int
	for _, pid := range s.Processes(cloudconfig.ServiceNginx) {
		if pid != master {
			workers = append(workers, pid)
		}
	}
	return workers
}

// waitWorkersRetired waits until none of the given nginx workers accepts
// connections any more: each has exited or closed its listening sockets.
// After SIGHUP the old workers close their listeners only when they get to
// the master's QUIT; until then a new connection may still reach one and get
// the old certificate, so a single probe of the new certificate is not
// enough. (A worker that still carries a WebSocket lives on, listening on
// nothing.)
func (s *Stack) waitWorkersRetired(ctx context.Context, workers []int) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		listening, err := s.listeningWorkers(workers)
		if err != nil {
			return err
		}
		if listening == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d nginx workers from before the reload still accept connections after 15 s (config %s)\n%s", listening, cloudconfig.NginxConfig, tail(s.Logs(cloudconfig.ServiceNginx), 20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// listeningWorkers counts the given processes that still hold a listening socket.
func (s *Stack) listeningWorkers(pids []int) (int, error) {
	all, err := readSockets()
	if err != nil {
		return 0, err
	}
	listen := map[string]bool{}
	for _, sock := range all {
		if sock.Listening() {
			listen[fmt.Sprintf("socket:[%d]", sock.Inode)] = true
		}
	}
	count := 0
	for _, pid := range pids {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			if link, err := os.Readlink(fd); err == nil && listen[link] {
				count++
				break
			}
		}
	}
	return count, nil
}

// waitServedCertificate polls 443 until the leaf of fullchain is served.
func (s *Stack) waitServedCertificate(ctx context.Context, fullchain []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	leafDER, err := firstCertDER(fullchain)
	if err != nil {
		return err
	}
	for {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second}, Config: &tls.Config{ServerName: s.Domain, InsecureSkipVerify: true}}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(schema.PortHTTPS)))
		if err == nil {
			certs := c.(*tls.Conn).ConnectionState().PeerCertificates
			c.Close()
			if len(certs) > 0 {
				if bytes.Equal(certs[0].Raw, leafDER) {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nginx still serves the old certificate after SIGHUP (config %s)\n%s", cloudconfig.NginxConfig, tail(s.Logs(cloudconfig.ServiceNginx), 20))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func firstCertDER(pemBytes []byte) ([]byte, error) {
	for {
		var block *pem.Block
		block, pemBytes = pem.Decode(pemBytes)
		if block == nil {
			return nil, fmt.Errorf("no certificate in the PEM")
		}
		if block.Type == "CERTIFICATE" {
			return block.Bytes, nil
		}
	}
}

// replaceFile replaces path by a new file with content, keeping its owner
// and mode.
func replaceFile(path string, content []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, content, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(tmp, int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", tmp, err)
		}
	}
	if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}
