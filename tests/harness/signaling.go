package harness

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/nctalk/nctalk/schema"
)

// SignalingConn is a Talk client's WebSocket to the signaling server.
type SignalingConn struct {
	c *websocket.Conn
	// Hello is the server's answer to the hello, once accepted.
	Hello *HelloAnswer
}

// ServerMessage is a message from the signaling server (the parts the
// tests read).
type ServerMessage struct {
	ID    string          `json:"id,omitempty"`
	Type  string          `json:"type"`
	Hello *HelloAnswer    `json:"hello,omitempty"`
	Error *SignalingError `json:"error,omitempty"`
	Raw   json.RawMessage `json:"-"`
}

// HelloAnswer is the server's hello.
type HelloAnswer struct {
	Version   string `json:"version"`
	SessionID string `json:"sessionid"`
	ResumeID  string `json:"resumeid"`
	UserID    string `json:"userid"`
}

// SignalingError is an error message of the signaling server.
type SignalingError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *SignalingError) Error() string { return e.Code + ": " + e.Message }

// WebSocketURL is the Talk clients' signaling URL: wss://<domain>/standalone-signaling/spreed.
func (s *Stack) WebSocketURL() string {
	return strings.Replace(s.Settings.Endpoints().SignalingURL(), "https://", "wss://", 1) + "/spreed"
}

// wsClient is an HTTP/1.1 client (WebSocket needs it) that trusts the test
// CA and resolves the domain to loopback.
func (s *Stack) wsClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext:     s.DialContext,
		TLSClientConfig: &tls.Config{RootCAs: s.CA.Pool(), MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
	}}
}

// DialSignaling opens a WebSocket to url (WebSocketURL() for the path
// through nginx).
func (s *Stack) DialSignaling(ctx context.Context, url string) (*SignalingConn, error) {
	return DialSignaling(ctx, url, s.wsClient())
}

// DialSignaling opens a WebSocket to url with client, an HTTP/1.1 client
// that dials and trusts what the caller's setup needs (e.g. a VM's
// forwarded port and its CA).
func DialSignaling(ctx context.Context, url string, client *http.Client) (*SignalingConn, error) {
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		status := ""
		if resp != nil {
			status = " (" + resp.Status + ")"
		}
		return nil, fmt.Errorf("websocket %s%s: %w", url, status, err)
	}
	c.SetReadLimit(1 << 20)
	return &SignalingConn{c: c}, nil
}

// FinalPing checks that the session's connection still carries frames: a
// WebSocket ping, answered by the server's pong. Reading the pong needs a
// reader, so FinalPing reads (and drops) whatever else arrives meanwhile;
// the connection is closed when it returns, so it is a session's last use.
func (c *SignalingConn) FinalPing(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		for {
			if _, _, err := c.c.Read(ctx); err != nil {
				return
			}
		}
	}()
	return c.c.Ping(ctx)
}

// Close closes the WebSocket.
func (c *SignalingConn) Close() error { return c.c.Close(websocket.StatusNormalClosure, "") }

// Send writes one JSON message.
func (c *SignalingConn) Send(ctx context.Context, msg any) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return c.c.Write(ctx, websocket.MessageText, b)
}

// Read reads the next message.
func (c *SignalingConn) Read(ctx context.Context) (*ServerMessage, error) {
	_, b, err := c.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var m ServerMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("signaling message %q: %w", b, err)
	}
	m.Raw = b
	return &m, nil
}

// ReadType reads until a message of type typ (or an error message) arrives.
func (c *SignalingConn) ReadType(ctx context.Context, typ string) (*ServerMessage, error) {
	for {
		m, err := c.Read(ctx)
		if err != nil {
			return nil, err
		}
		if m.Type == "error" && m.Error != nil {
			return m, m.Error
		}
		if m.Type == typ {
			return m, nil
		}
	}
}

func (c *SignalingConn) hello(ctx context.Context, auth map[string]any) error {
	msg := map[string]any{"id": "hello-1", "type": "hello", "hello": map[string]any{"version": "1.0", "auth": auth}}
	if err := c.Send(ctx, msg); err != nil {
		return err
	}
	m, err := c.ReadType(ctx, "hello")
	if err != nil {
		return fmt.Errorf("hello refused: %w", err)
	}
	if m.Hello == nil || m.Hello.SessionID == "" {
		return fmt.Errorf("hello answer without a session: %s", m.Raw)
	}
	c.Hello = m.Hello
	return nil
}

// HelloClient says hello as a Talk client of a Nextcloud: the server
// checks backendURL against its configured backends and asks that
// Nextcloud to authenticate params.
func (c *SignalingConn) HelloClient(ctx context.Context, backendURL string, params map[string]any) error {
	return c.hello(ctx, map[string]any{"url": backendURL, "params": params})
}

// HelloInternal says hello as an internal client (e.g. the recording or
// SIP bridge), authenticated by the internal client secret.
func (c *SignalingConn) HelloInternal(ctx context.Context, internalSecret, backendURL string) error {
	random := newRandom()
	m := hmac.New(sha256.New, []byte(internalSecret))
	m.Write([]byte(random))
	return c.hello(ctx, map[string]any{
		"type": "internal",
		"params": map[string]any{
			"random":  random,
			"token":   hex.EncodeToString(m.Sum(nil)),
			"backend": strings.TrimSuffix(backendURL, "/") + "/",
		},
	})
}

// SignalingStats is the part of the signaling server's /api/v1/stats the
// tests read (loopback only).
type SignalingStats struct {
	MCU *struct {
		URL       string `json:"url"`
		Connected bool   `json:"connected"`
	} `json:"mcu"`
	Sessions int `json:"sessions"`
	Rooms    int `json:"rooms"`
}

// Stats reads /api/v1/stats from the signaling server's loopback listener.
func (s *Stack) Stats(ctx context.Context) (*SignalingStats, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+loopback(schema.PortSignalingHTTP)+"/api/v1/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("signaling stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("signaling stats on loopback answered %s", resp.Status)
	}
	var st SignalingStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return nil, fmt.Errorf("signaling stats: %w", err)
	}
	return &st, nil
}
