package cloudconfig

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Access is how the stack reaches the running box to change it in place:
// the box's SSH host key, which the stack generates so that its connection
// is authenticated from the first boot on (the document installs it with
// cloud-init's ssh_keys), and the public half of the deploy key the stack
// logs in with, which may run nothing but ApplyCommand. The zero Access
// (`nctalk render`) leaves the host keys to cloud-init and admits only the
// admins' keys.
type Access struct {
	// HostKey is the box's ed25519 host key, an OpenSSH private key; a
	// secret (RenderRedacted writes its marker).
	HostKey string
	// HostPublicKey is HostKey's public half, authorized_keys form.
	HostPublicKey string
	// DeployPublicKey is the deploy key's public half, authorized_keys form.
	DeployPublicKey string
}

// accessHostKey names the host key in markers and errors.
const accessHostKey = "sshHostKey"

// deployKeyComment ends the deploy key's line in AuthorizedKeys.
const deployKeyComment = "nctalk-deploy"

// WithAccess returns the plan with the stack's access to the box. The keys
// must be ed25519, and the host key's public half must match.
func (p Plan) WithAccess(a Access) (Plan, error) {
	if err := a.validate(); err != nil {
		return Plan{}, err
	}
	p.access = a
	return p, nil
}

// IsZero reports an Access that was not given.
func (a Access) IsZero() bool { return a == Access{} }

func (a Access) validate() error {
	if a.IsZero() {
		return nil
	}
	if _, err := parseEd25519(a.DeployPublicKey); err != nil {
		return fmt.Errorf("the deploy key: %w", err)
	}
	host, err := parseEd25519(a.HostPublicKey)
	if err != nil {
		return fmt.Errorf("the SSH host key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey([]byte(a.HostKey))
	if err != nil {
		return fmt.Errorf("the SSH host key: not an OpenSSH private key: %w", err) // ssh's errors never quote the key
	}
	if !bytes.Equal(signer.PublicKey().Marshal(), host.Marshal()) {
		return fmt.Errorf("the SSH host key does not match its public key")
	}
	if strings.ContainsAny(strings.TrimSpace(a.HostKey), "\r\u2028\u2029") {
		return fmt.Errorf("the SSH host key holds a carriage return or Unicode line break")
	}
	return nil
}

// parseEd25519 reads one authorized_keys line holding an ed25519 key (a
// final newline, as tls.PrivateKey's publicKeyOpenssh has, is dropped).
func parseEd25519(line string) (ssh.PublicKey, error) {
	line = strings.TrimSuffix(line, "\n")
	if strings.ContainsAny(line, "\n\r\u2028\u2029") {
		return nil, fmt.Errorf("holds a line break")
	}
	k, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, err
	}
	if len(opts) > 0 || k.Type() != ssh.KeyAlgoED25519 {
		return nil, fmt.Errorf("want a plain %s key, got %s", ssh.KeyAlgoED25519, k.Type())
	}
	return k, nil
}

// newViewAccess is the access as the templates see it.
func newViewAccess(a Access) viewAccess {
	if a.IsZero() {
		return viewAccess{}
	}
	deploy, _ := parseEd25519(a.DeployPublicKey) // validated by WithAccess
	return viewAccess{
		HostKey:       []byte(a.HostKey),
		HostPublicKey: strings.TrimSpace(a.HostPublicKey),
		DeployKeyLine: deployKeyLine(deploy),
	}
}

// deployKeyLine is the deploy key's authorized_keys line: it may run only
// ApplyCommand (sshd runs that whatever command the client asks for) and
// nothing else: no terminal, no forwarding (restrict).
func deployKeyLine(k ssh.PublicKey) string {
	cmd := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(ApplyCommand)
	return fmt.Sprintf(`restrict,command="%s" %s %s`, cmd, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), deployKeyComment)
}

// redactedAccess is the access with the host key replaced by its marker.
func redactedAccess(a Access) viewAccess {
	v := newViewAccess(a)
	if len(v.HostKey) > 0 {
		v.HostKey = []byte(fmt.Sprintf(RedactionMarker, accessHostKey))
	}
	return v
}
