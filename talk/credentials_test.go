package talk

import (
	"testing"
	"time"
)

func TestTURNCredentials(t *testing.T) {
	tests := []struct {
		name, secret, user string
		expires            time.Time
		wantUser, wantPass string
	}{
		// The published vector of coturn's REST scheme, also checked with
		// `printf 1700000000:alice | openssl dgst -sha1 -hmac secret -binary | base64`.
		{"published vector", "secret", "alice", time.Unix(1700000000, 0), "1700000000:alice", "d8soP47RbdIKLDUOpnJPVQyq5Ts="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, pass := TURNCredentials(tt.secret, tt.user, tt.expires)
			if user != tt.wantUser || pass != tt.wantPass {
				t.Fatalf("TURNCredentials = %q, %q; want %q, %q", user, pass, tt.wantUser, tt.wantPass)
			}
			if _, other := TURNCredentials("other-"+tt.secret, tt.user, tt.expires); other == pass {
				t.Fatal("a different secret gave the same password")
			}
		})
	}
}

func TestBackendChecksum(t *testing.T) {
	// Checked with `printf %s%s RANDOM BODY | openssl dgst -sha256 -hmac secret`.
	got := BackendChecksum("secret", "abcdefghijklmnopqrstuvwxyz012345", []byte(`{"type":"update","update":{"userids":[]}}`))
	want := "0cfa173287d987630fe54af0a40c4e0c517b840e811c39bdbb7602a0b7aa73e2"
	if got != want {
		t.Fatalf("BackendChecksum = %s, want %s", got, want)
	}
	if BackendChecksum("other", "abcdefghijklmnopqrstuvwxyz012345", []byte("{}")) == BackendChecksum("secret", "abcdefghijklmnopqrstuvwxyz012345", []byte("{}")) {
		t.Fatal("a different secret gave the same checksum")
	}
}
