package verify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/coder/websocket"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// Features that current Talk requires of a signaling server, and those it
// warns about when missing.
var (
	requiredFeatures    = []string{"audio-video-permissions", "federation", "incall-all", "hello-v2", "switchto"}
	recommendedFeatures = []string{"dialout", "join-features", "chat-relay"}
	// mcuFeature is announced (with simulcast and update-sdp) only while
	// the server has an MCU configured: every 2.x release adds and removes
	// the three in Hub.SetMcu. This stack always configures Janus.
	mcuFeature = "mcu"
)

// featuresHeader is the signaling server's feature list header.
const featuresHeader = "X-Spreed-Signaling-Features"

// parseFeatures splits the X-Spreed-Signaling-Features header
// ("a, b,c") into its features, in order, without empty entries.
func parseFeatures(header string) []string {
	var fs []string
	for _, f := range strings.Split(header, ",") {
		if f = strings.TrimSpace(f); f != "" {
			fs = append(fs, f)
		}
	}
	return fs
}

// missingFeatures returns the entries of want that have lacks, in want's order.
func missingFeatures(have, want []string) []string {
	set := make(map[string]bool, len(have))
	for _, f := range have {
		set[strings.ToLower(f)] = true
	}
	var missing []string
	for _, f := range want {
		if !set[f] {
			missing = append(missing, f)
		}
	}
	return missing
}

// welcome is the body of GET /api/v1/welcome.
type welcome struct {
	Welcome string `json:"nextcloud-spreed-signaling"`
	Version string `json:"version"`
}

func (e *env) signalingURL(path string) (string, string, error) {
	u, err := url.Parse(e.opts.Outputs.SignalingURL)
	if err != nil {
		return "", "", fmt.Errorf("signalingUrl %q: %w", e.opts.Outputs.SignalingURL, err)
	}
	return strings.TrimRight(u.String(), "/") + path, u.Hostname(), nil
}

// unreachableHint explains what an HTTP status from the proxy means.
func proxyStatusHint(code int) string {
	switch code {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return fmt.Sprintf("nginx cannot reach the signaling server on 127.0.0.1:%d: is it running? It only starts listening once NATS and Janus answer (`docker compose ps`, `docker compose logs signaling`)", schema.PortSignalingHTTP)
	case http.StatusNotFound:
		return "nginx has no location for the signaling path: check the nginx config on the server"
	default:
		return "check nginx and the signaling server logs on the server"
	}
}

// checkSignaling fetches the welcome endpoint through the proxy and checks
// the features header.
func checkSignaling(ctx context.Context, e *env) Result {
	u, host, err := e.signalingURL("/api/v1/welcome")
	if err != nil {
		return fail(err.Error(), "fix the stack output signalingUrl")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail(err.Error(), "fix the stack output signalingUrl")
	}
	resp, err := e.httpClient(host).Do(req)
	if err != nil {
		r := fail(fmt.Sprintf("GET %s: %s", u, shortErr(err)), "is nginx running and 443/tcp open? see the tls check")
		r.unreachable = true
		return r
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		r := fail(fmt.Sprintf("GET %s answered %s", u, resp.Status), proxyStatusHint(resp.StatusCode))
		r.unreachable = true
		return r
	}
	var w welcome
	if err := json.Unmarshal(body, &w); err != nil || w.Welcome != "Welcome" {
		r := fail(fmt.Sprintf("GET %s answered 200 but not the signaling server's welcome (%q)", u, snippet(body)),
			"nginx proxies the signaling path somewhere else: check its proxy_pass")
		r.unreachable = true
		return r
	}
	return judgeFeatures(w.Version, resp.Header.Get(featuresHeader))
}

// judgeFeatures is the pure part of the signaling check.
func judgeFeatures(version, header string) Result {
	have := parseFeatures(header)
	if version == "" {
		version = "unknown"
	}
	if missing := missingFeatures(have, requiredFeatures); len(missing) > 0 {
		return fail(fmt.Sprintf("signaling server %s lacks features current Talk requires: %s", version, strings.Join(missing, ", ")),
			"run nextcloud-spreed-signaling 2.0.0 or newer (images.signaling in the stack config)")
	}
	res := ok(fmt.Sprintf("signaling server %s answers through the proxy with every required feature", version))
	if missing := missingFeatures(have, recommendedFeatures); len(missing) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("features Talk warns about are missing: %s (a newer signaling release has them)", strings.Join(missing, ", ")))
	}
	if len(missingFeatures(have, []string{mcuFeature})) > 0 {
		res.Warnings = append(res.Warnings, "the signaling server announces no MCU (feature mcu): it runs without Janus, so calls cannot use the backend's media server; check [mcu] in signaling's server.conf and `docker compose logs signaling`")
	}
	return res
}

// Backend request signing (Nextcloud ↔ signaling server).
const (
	headerRandom   = "Spreed-Signaling-Random"
	headerChecksum = "Spreed-Signaling-Checksum"
)

// roomRequestBody is the request the backend-secret check sends: an update
// of no users, for a room that does not exist, so nothing changes.
const roomRequestBody = `{"type":"update","update":{"userids":[]}}`

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// checkBackendSecret sends a signed room update for a random, non-existent
// room. Only the HMAC of a fresh random value travels, never the secret.
func checkBackendSecret(ctx context.Context, e *env) Result {
	room := "nctalk-verify-" + randomHex(8)
	u, host, err := e.signalingURL("/api/v1/room/" + room)
	if err != nil {
		return fail(err.Error(), "fix the stack output signalingUrl")
	}
	body := []byte(roomRequestBody)
	random := randomHex(32)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fail(err.Error(), "fix the stack output signalingUrl")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerRandom, random)
	req.Header.Set(headerChecksum, talk.BackendChecksum(e.opts.Outputs.SignalingSecret, random, body))
	resp, err := e.httpClient(host).Do(req)
	if err != nil {
		return fail(fmt.Sprintf("POST %s: %s", u, shortErr(err)), "see the signaling check")
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return judgeRoomStatus(resp.StatusCode, resp.Status, answer)
}

// judgeRoomStatus is the pure part of the backend-secret check.
func judgeRoomStatus(code int, status string, body []byte) Result {
	switch code {
	case http.StatusOK:
		return ok("a room request signed with signalingSecret was accepted (update of no users in a non-existent room: nothing changed)")
	case http.StatusForbidden:
		r := fail("the signaling server rejected the signature (403): signalingSecret from the stack outputs is not the backend's secret",
			"the server runs with another secret than the stack holds (rendered before a secret change?); `pulumi up` to re-render, then run `nctalk occ` so Nextcloud gets the same secret")
		r.Final = true
		return r
	case http.StatusTooManyRequests:
		r := fail("the signaling server throttles this address (429): more than 10 rejected backend requests from here in 30 minutes",
			"fix the secret, then wait 30 minutes or restart the signaling server to clear its brute-force block")
		r.Final = true
		return r
	case http.StatusInternalServerError:
		if bytes.Contains(body, []byte("Error while processing")) {
			return fail("the signature was accepted, but the signaling server could not pass the update on (500 Error while processing): its NATS connection is closed",
				"start NATS (`docker compose up -d nats`), then restart the signaling server: 2.0.2's NATS client gives up for good about 2 minutes after NATS goes away")
		}
		return fail("the room request answered "+status, proxyStatusHint(code))
	case http.StatusBadRequest:
		return fail("the signaling server refused the room request as malformed ("+status+")", "the signaling server is older than this tool expects; check images.signaling")
	default:
		return fail("the room request answered "+status, proxyStatusHint(code))
	}
}

// helloBackendURL is the Nextcloud the WebSocket hello names: the reserved
// .invalid domain, which no backend list contains and no resolver resolves.
const helloBackendURL = "https://nctalk-verify.invalid/ocs/v2.php/apps/spreed/api/v1/signaling/backend"

// serverMessage is the part of a signaling message the check reads.
type serverMessage struct {
	Type  string `json:"type"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Hello *struct {
		SessionID string `json:"sessionid"`
	} `json:"hello"`
	Welcome *struct {
		Version string `json:"version"`
	} `json:"welcome"`
}

// checkWebSocket upgrades through the proxy and says hello as a client of
// an unknown Nextcloud. verify holds no Nextcloud credentials, so the answer
// that proves the signaling protocol end to end is the server's error
// invalid_backend; a hello response (only with allowall) proves it as well.
func checkWebSocket(ctx context.Context, e *env) Result {
	u, host, err := e.signalingURL("/spreed")
	if err != nil {
		return fail(err.Error(), "fix the stack output signalingUrl")
	}
	wsURL := "wss" + strings.TrimPrefix(u, "https")
	if strings.HasPrefix(u, "http:") {
		wsURL = "ws" + strings.TrimPrefix(u, "http")
	}
	conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: e.httpClient(host)})
	if err != nil {
		reason := fmt.Sprintf("WebSocket upgrade at %s failed: %s", wsURL, shortErr(err))
		if resp != nil {
			reason = fmt.Sprintf("WebSocket upgrade at %s answered %s", wsURL, resp.Status)
		}
		return fail(reason, "nginx must pass Upgrade/Connection headers on the signaling location (proxy_http_version 1.1)")
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	hello := fmt.Sprintf(`{"id":"nctalk-verify","type":"hello","hello":{"version":"1.0","auth":{"url":%q,"params":{}}}}`, helloBackendURL)
	if err := conn.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		return fail("sending the hello failed: "+shortErr(err), "check the signaling server's log")
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				return fail("no answer to the hello within the time limit", "the signaling server accepts connections but does not process messages: check its log")
			}
			return fail("the connection closed before an answer to the hello: "+shortErr(err), "check the signaling server's log")
		}
		var m serverMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fail(fmt.Sprintf("the server sent something that is not a signaling message: %q", snippet(data)), "nginx proxies /spreed somewhere else")
		}
		switch m.Type {
		case "welcome":
			continue
		case "hello":
			return ok("the server accepted a hello for an unknown Nextcloud", "[backend] allowall seems to be true: any Nextcloud can use this backend")
		case "error":
			code := ""
			if m.Error != nil {
				code = m.Error.Code
			}
			if code == "invalid_backend" {
				return ok("upgrade through the proxy works; a hello for an unknown Nextcloud got the protocol's answer invalid_backend")
			}
			return ok(fmt.Sprintf("upgrade works; the hello got the protocol error %q", code),
				fmt.Sprintf("expected invalid_backend for an unknown Nextcloud, got %q", code))
		default:
			continue
		}
	}
}

// snippetBytes is how much of an unexpected response body a message quotes.
const snippetBytes = 100

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > snippetBytes {
		s = s[:snippetBytes] + "…"
	}
	return s
}
