package harness

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nctalk/nctalk/talk"
)

// Signaling request signing, shared by Nextcloud and the signaling server:
// Spreed-Signaling-Random (at least 32 characters) and
// Spreed-Signaling-Checksum = hex(HMAC-SHA256(secret, random + body)).
const (
	headerRandom   = "Spreed-Signaling-Random"
	headerChecksum = "Spreed-Signaling-Checksum"
	headerBackend  = "Spreed-Signaling-Backend"
)

// newRandom returns a 64-character random hex string for Spreed-Signaling-Random.
func newRandom() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// SignRequest sets the signing headers of a Nextcloud → signaling request.
func SignRequest(req *http.Request, secret string, body []byte, backendURL string) {
	random := newRandom()
	req.Header.Set(headerRandom, random)
	req.Header.Set(headerChecksum, talk.BackendChecksum(secret, random, body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("OCS-APIRequest", "true")
	if backendURL != "" {
		req.Header.Set(headerBackend, backendURL)
	}
}

// FakeNextcloud answers the calls the signaling server makes to Nextcloud:
// the capabilities and the signed backend requests (auth, room). It runs
// over HTTPS (certificate from the test CA) on a loopback port.
type FakeNextcloud struct {
	// URL is the base URL, e.g. https://cloud.nctalk.test:40123.
	URL string

	srv    *http.Server
	mu     sync.Mutex
	secret string

	// Counters of what the signaling server asked.
	Capabilities atomic.Int64
	AuthOK       atomic.Int64
	RoomOK       atomic.Int64
	BadChecksum  atomic.Int64
}

// startFakeNextcloud listens on 127.0.0.1 (a free port) with a certificate
// for host from ca.
func startFakeNextcloud(ca *TestCA, host string) (*FakeNextcloud, error) {
	cert, err := ca.Issue(host)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(cert["fullchain.pem"], cert["privkey.pem"])
	if err != nil {
		return nil, fmt.Errorf("fake Nextcloud certificate: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake Nextcloud listener: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	f := &FakeNextcloud{URL: "https://" + net.JoinHostPort(host, strconv.Itoa(port))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ocs/v2.php/cloud/capabilities", f.capabilities)
	mux.HandleFunc("POST /ocs/v2.php/apps/spreed/api/{version}/signaling/backend", f.backend)
	f.srv = &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}
	go func() { _ = f.srv.ServeTLS(l, "", "") }()
	return f, nil
}

// SetSecret sets the signaling secret the backend requests must be signed with.
func (f *FakeNextcloud) SetSecret(secret string) {
	f.mu.Lock()
	f.secret = secret
	f.mu.Unlock()
}

// Close stops the server.
func (f *FakeNextcloud) Close() { _ = f.srv.Close() }

// BackendURL is the URL clients put in their hello's auth.url.
func (f *FakeNextcloud) BackendURL() string {
	return f.URL + "/ocs/v2.php/apps/spreed/api/v3/signaling/backend"
}

func ocs(w http.ResponseWriter, status int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ocs": map[string]any{
			"meta": map[string]any{"status": "ok", "statuscode": status, "message": http.StatusText(status)},
			"data": data,
		},
	})
}

func (f *FakeNextcloud) capabilities(w http.ResponseWriter, _ *http.Request) {
	f.Capabilities.Add(1)
	ocs(w, http.StatusOK, map[string]any{
		"version": map[string]any{"major": 31, "minor": 0, "micro": 0, "string": "31.0.0"},
		"capabilities": map[string]any{
			"spreed": map[string]any{
				"features": []string{"audio", "video", "chat-v2", "conversation-v4", "signaling-v3"},
				"config": map[string]any{
					"signaling": map[string]any{"session-ping-limit": 200},
				},
			},
		},
	})
}

// backend answers signed requests: auth (any userid in params, default
// "alice") and room (join allowed, full permissions).
func (f *FakeNextcloud) backend(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	secret := f.secret
	f.mu.Unlock()
	random := r.Header.Get(headerRandom)
	if len(random) < 32 || !hmac.Equal([]byte(talk.BackendChecksum(secret, random, body)), []byte(r.Header.Get(headerChecksum))) {
		f.BadChecksum.Add(1)
		ocs(w, http.StatusForbidden, map[string]any{"error": "invalid checksum"})
		return
	}
	var req struct {
		Type string `json:"type"`
		Auth struct {
			Version string          `json:"version"`
			Params  json.RawMessage `json:"params"`
		} `json:"auth"`
		Room struct {
			Version   string `json:"version"`
			RoomID    string `json:"roomid"`
			UserID    string `json:"userid"`
			SessionID string `json:"sessionid"`
			Action    string `json:"action"`
		} `json:"room"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch req.Type {
	case "auth":
		var params struct {
			UserID string `json:"userid"`
		}
		_ = json.Unmarshal(req.Auth.Params, &params)
		if params.UserID == "" {
			params.UserID = "alice"
		}
		f.AuthOK.Add(1)
		ocs(w, http.StatusOK, map[string]any{
			"type": "auth",
			"auth": map[string]any{"version": "1.0", "userid": params.UserID, "user": map[string]any{"displayname": params.UserID}},
		})
	case "room":
		f.RoomOK.Add(1)
		ocs(w, http.StatusOK, map[string]any{
			"type": "room",
			"room": map[string]any{
				"version": "1.0", "roomid": req.Room.RoomID,
				"properties":  map[string]any{"name": "test room", "type": 3},
				"permissions": []string{"publish-audio", "publish-video", "publish-screen"},
			},
		})
	default:
		ocs(w, http.StatusBadRequest, map[string]any{"error": "unknown type " + req.Type})
	}
}
