package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/engine"
)

// fakeBox stands in for the server's sshd in the engine run: the real
// engine and pulumi-command reach it on the server's address. It keeps the
// contract of the box's sshd as the user data sets it up: it presents the
// host key the user data installs (cloud-init ssh_keys), admits only keys
// of the rendered authorized keys, and for the deploy key runs the forced
// command's job whatever command the client sent. That job it does as
// nctalk-apply decides it (from the unit digests, cloudconfig.CompareUnits),
// without a box to apply it to: it records each bundle it was sent
// (engine.BoxRecord) and answers as nctalk-apply does. A file "fail" in its
// directory makes the next apply fail, as a rejected configuration does.
type fakeBox struct {
	api, dir  string
	listeners []net.Listener
	mu        sync.Mutex
	applied   map[string]cloudconfig.UnitDigests // what "runs" on each server (by ID) after its last apply
	n         int
	// secrets are the secret values the bundles carried (never written
	// anywhere): the run checks that none appears in what it recorded.
	secrets map[string]bool
}

func startFakeBox(api, work string) (*fakeBox, error) {
	b := &fakeBox{api: api, dir: filepath.Join(work, "box")}
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return nil, err
	}
	for _, port := range engine.BoxSSHPorts {
		l, err := net.Listen("tcp", fmt.Sprintf("0.0.0.0:%d", port))
		if err != nil {
			b.close()
			return nil, err
		}
		b.listeners = append(b.listeners, l)
		go b.serve(l)
	}
	return b, nil
}

func (b *fakeBox) close() {
	for _, l := range b.listeners {
		l.Close()
	}
}

func (b *fakeBox) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			if err := b.session(c); err != nil {
				b.logf("connection from %s: %v", c.RemoteAddr(), err)
			}
		}()
	}
}

func (b *fakeBox) logf(format string, args ...any) {
	f, err := os.OpenFile(filepath.Join(b.dir, "sshd.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// bootDoc is what the box booted: its host key, authorized keys and the
// digests of the files the user data wrote.
type bootDoc struct {
	hostKey    ssh.Signer
	authorized []byte
	units      cloudconfig.UnitDigests
	serverID   string
	name       string
}

// bootFiles reads the user data (the double keeps it as sent) of the
// server whose primary IPv4 is addr, the address the client reached: the
// stand-in answers for every server of the stack, each with its own keys.
func (b *fakeBox) bootFiles(addr string) (bootDoc, error) {
	var boot bootDoc
	resp, err := doRequest(mustRequest("GET", b.api+"/servers", ""))
	if err != nil {
		return boot, err
	}
	defer resp.Body.Close()
	var list struct {
		Servers []struct {
			ID        int    `json:"id"`
			Name      string `json:"name"`
			PublicNet struct {
				IPv4 struct {
					IP string `json:"ip"`
				} `json:"ipv4"`
			} `json:"public_net"`
		} `json:"servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return boot, fmt.Errorf("the servers: %v", err)
	}
	for _, s := range list.Servers {
		if s.PublicNet.IPv4.IP == addr {
			if boot.name != "" {
				return boot, fmt.Errorf("two servers have the address %s", addr)
			}
			boot.serverID, boot.name = fmt.Sprint(s.ID), s.Name
		}
	}
	if boot.name == "" {
		return boot, fmt.Errorf("no server has the address %s", addr)
	}
	hostKey, authorized, files, err := b.userData(boot.name)
	if err != nil {
		return boot, err
	}
	boot.hostKey, boot.authorized = hostKey, authorized
	bundle, err := cloudconfig.NewBundle(files)
	if err != nil {
		return boot, err
	}
	boot.units = bundle.Units
	return boot, nil
}

// userData decodes the server's user data: the host key, the authorized
// keys and every file it writes.
func (b *fakeBox) userData(server string) (hostKey ssh.Signer, authorized []byte, files []cloudconfig.File, err error) {
	resp, err := doRequest(mustRequest("GET", strings.TrimSuffix(b.api, "/v1")+"/__userdata/"+server, ""))
	if err != nil {
		return nil, nil, nil, err
	}
	defer resp.Body.Close()
	wire, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return nil, nil, nil, fmt.Errorf("user data of %s: HTTP %d %v", server, resp.StatusCode, err)
	}
	packed, err := base64.StdEncoding.DecodeString(string(wire))
	if err != nil {
		return nil, nil, nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(packed))
	if err != nil {
		return nil, nil, nil, err
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return nil, nil, nil, err
	}
	var doc struct {
		SSHKeys    map[string]string `yaml:"ssh_keys"`
		WriteFiles []struct {
			Path        string `yaml:"path"`
			Permissions string `yaml:"permissions"`
			Content     string `yaml:"content"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, nil, nil, err
	}
	if hostKey, err = ssh.ParsePrivateKey([]byte(doc.SSHKeys["ed25519_private"])); err != nil {
		return nil, nil, nil, fmt.Errorf("the user data's ssh_keys.ed25519_private: %w", err)
	}
	for _, f := range doc.WriteFiles {
		if f.Path == cloudconfig.AuthorizedKeys {
			authorized = []byte(f.Content)
		}
		perms := f.Permissions
		if perms == "" {
			perms = "0644"
		}
		files = append(files, cloudconfig.File{Path: f.Path, Perms: perms, Content: []byte(f.Content)})
	}
	if authorized == nil {
		return nil, nil, nil, fmt.Errorf("the user data writes no %s", cloudconfig.AuthorizedKeys)
	}
	return hostKey, authorized, files, nil
}

// session serves one SSH connection.
func (b *fakeBox) session(c net.Conn) error {
	host, _, err := net.SplitHostPort(c.LocalAddr().String())
	if err != nil {
		return err
	}
	boot, err := b.bootFiles(host)
	if err != nil {
		return err
	}
	authorized := boot.authorized
	forced := map[string]string{} // key fingerprint -> forced command ("" none)
	for rest := authorized; len(bytes.TrimSpace(rest)) > 0; {
		pub, _, opts, next, err := ssh.ParseAuthorizedKey(rest)
		if err != nil {
			break
		}
		cmd := ""
		for _, o := range opts {
			if v, ok := strings.CutPrefix(o, "command="); ok {
				cmd = strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(strings.TrimSuffix(strings.TrimPrefix(v, `"`), `"`))
			}
		}
		forced[ssh.FingerprintSHA256(pub)] = cmd
		rest = next
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		cmd, ok := forced[ssh.FingerprintSHA256(k)]
		if !ok {
			return nil, errors.New("key not authorized")
		}
		return &ssh.Permissions{Extensions: map[string]string{"forced": cmd}}, nil
	}}
	cfg.AddHostKey(boot.hostKey)
	conn, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		return err
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return err
		}
		for req := range chReqs {
			if req.Type != "exec" {
				_ = req.Reply(req.Type == "env", nil) // pulumi-command may set env; sshd refuses it, as here
				continue
			}
			_ = req.Reply(true, nil)
			var exec struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &exec); err != nil {
				return fmt.Errorf("exec request: %w", err)
			}
			forcedCmd := conn.Permissions.Extensions["forced"]
			code := b.exec(ch, forcedCmd, exec.Command, boot)
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(code)))
			ch.Close()
			break
		}
	}
	return nil
}

// exec does what nctalk-apply does with a bundle on standard input, and
// records it; only the deploy key's forced ApplyCommand is served, and
// original is what the client asked for (SSH_ORIGINAL_COMMAND): for
// cloudconfig.DrainCommand nctalk-apply drains the proxy instead of
// applying the bundle.
func (b *fakeBox) exec(ch ssh.Channel, forced, original string, boot bootDoc) int {
	began := time.Now().UTC().Format(time.RFC3339Nano)
	if forced != cloudconfig.ApplyCommand {
		fmt.Fprintf(ch.Stderr(), "the stand-in box runs only the deploy key's forced command\n")
		return 1
	}
	stdin, err := io.ReadAll(ch)
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "reading the bundle: %v\n", err)
		return 1
	}
	bundle, err := cloudconfig.DecodeBundle(strings.TrimSpace(string(stdin)))
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "nctalk-apply: FAILED: %v\n", err)
		return 1
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.collectSecrets(bundle)
	b.n++
	if b.applied == nil {
		b.applied = map[string]cloudconfig.UnitDigests{}
	}
	running, ok := b.applied[boot.serverID]
	if !ok {
		running = boot.units // a box fresh from its first boot runs what it booted with
	}
	rec := engine.BoxRecord{Apply: b.n, Units: bundle.Units, Changes: cloudconfig.DescribeChanges(running, bundle.Units), Server: boot.name, Command: original, Began: began}
	for _, f := range bundle.Files {
		rec.Files = append(rec.Files, f.Path)
	}
	if original == cloudconfig.DrainCommand {
		// The proxy drains; nothing is applied, and what runs stays.
		rec.Changes = drained
		rec.At = time.Now().UTC().Format(time.RFC3339Nano)
		b.writeRecord(rec)
		fmt.Fprintf(ch, "nctalk-apply: draining the proxy: no new calls here\nnctalk-apply: %s\n", drained)
		return 0
	}
	if _, err := os.Stat(filepath.Join(b.dir, "fail")); err == nil {
		_ = os.Remove(filepath.Join(b.dir, "fail"))
		rec.Failed = true
		rec.At = time.Now().UTC().Format(time.RFC3339Nano)
		b.writeRecord(rec)
		fmt.Fprintf(ch.Stderr(), "nctalk-apply: signaling: restart failed\nnctalk-apply: rolling back to the last good files\n"+
			"nctalk-apply: FAILED: signaling did not take the new configuration (the last good files are back)\n")
		return 1
	}
	b.applied[boot.serverID] = bundle.Units
	rec.At = time.Now().UTC().Format(time.RFC3339Nano)
	b.writeRecord(rec)
	fmt.Fprintf(ch, "nctalk-apply: done: %s\n", rec.Changes)
	return 0
}

func (b *fakeBox) writeRecord(rec engine.BoxRecord) {
	j, _ := json.MarshalIndent(rec, "", "  ")
	_ = os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("apply-%03d.json", rec.Apply)), j, 0o644)
}

// applies returns how many bundles the box has been sent.
func (b *fakeBox) applies() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// last returns the record of the last bundle.
func (b *fakeBox) last() (engine.BoxRecord, error) {
	b.mu.Lock()
	n := b.n
	b.mu.Unlock()
	var rec engine.BoxRecord
	raw, err := os.ReadFile(filepath.Join(b.dir, fmt.Sprintf("apply-%03d.json", n)))
	if err != nil {
		return rec, err
	}
	return rec, json.Unmarshal(raw, &rec)
}

// drained is what the stand-in box records as the change of a drain.
const drained = "proxy drained"

// since returns the records of the bundles sent after the first n.
func (b *fakeBox) since(n int) ([]engine.BoxRecord, error) {
	var recs []engine.BoxRecord
	for i := n + 1; i <= b.applies(); i++ {
		raw, err := os.ReadFile(filepath.Join(b.dir, fmt.Sprintf("apply-%03d.json", i)))
		if err != nil {
			return nil, err
		}
		var rec engine.BoxRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return nil, err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// failNext makes the next apply fail.
func (b *fakeBox) failNext() error {
	return os.WriteFile(filepath.Join(b.dir, "fail"), nil, 0o644)
}

// secretSettings are the config lines of the bundle's files that carry a
// secret (signaling's server.conf, coturn's turnserver.conf).
var secretSettings = []string{"secret = ", "hashkey = ", "blockkey = ", "internalsecret = ", "apikey = ", "static-auth-secret="}

func (b *fakeBox) collectSecrets(bundle cloudconfig.Bundle) {
	if b.secrets == nil {
		b.secrets = map[string]bool{}
	}
	for _, f := range bundle.Files {
		for _, v := range pemSecrets(string(f.Content)) {
			b.secrets[v] = true
		}
		for _, line := range strings.Split(string(f.Content), "\n") {
			for _, prefix := range secretSettings {
				if v, ok := strings.CutPrefix(line, prefix); ok && len(v) >= 16 {
					b.secrets[v] = true
				}
			}
		}
	}
}

// seenSecrets returns the secret values the box was sent.
func (b *fakeBox) seenSecrets() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for v := range b.secrets {
		out = append(out, v)
	}
	return out
}

// pemSecrets returns body lines of every private key PEM block in text
// (the proxy token's key a media server's bundle carries): a line of a key
// is enough to tell the key leaked, whatever escaping the rest got. The
// first lines are left out: they hold the modulus, which the public key
// carries too; from the 8th line on an RSA key is its private part.
func pemSecrets(text string) []string {
	var out []string
	body := -1
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "-----BEGIN") && strings.Contains(line, "PRIVATE KEY"):
			body = 0
		case strings.HasPrefix(line, "-----END"):
			body = -1
		case body >= 0:
			if body >= 7 && len(line) == 64 {
				out = append(out, line)
			}
			body++
		}
	}
	return out
}
