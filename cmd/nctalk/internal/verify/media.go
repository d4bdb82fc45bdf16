package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// idMedia checks every media server of a scale-out (mediaServers): its
// certificate on 443, its signaling proxy's welcome through its nginx, and
// a TURN allocation on its coturn.
const idMedia CheckID = "media"

// mediaHosts are the media servers' host names, derived from the outputs'
// TURN and STUN entries: every host but the domain and the TURN-over-443
// name (the entries on port 443), sorted, each once.
func mediaHosts(o outputs.Outputs) []string {
	notMedia := map[string]bool{strings.ToLower(o.Domain): true}
	var entries []string
	for _, s := range o.TURNServers {
		if host, port, err := net.SplitHostPort(s.Server); err == nil && port == strconv.Itoa(schema.PortHTTPS) {
			notMedia[strings.ToLower(host)] = true
			continue
		}
		entries = append(entries, s.Server)
	}
	entries = append(entries, o.STUNServers...)
	var hosts []string
	for _, hp := range entries {
		host, _, err := net.SplitHostPort(hp)
		if host = strings.ToLower(host); err == nil && !notMedia[host] {
			hosts = append(hosts, host)
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}

// notOnMediaServers returns the host:port entries whose host is not a
// media server (mediaHosts): the main box's, which the stun and turn
// checks probe. A media server's coturn is the media check's, so a broken
// one shows as one FAIL.
func notOnMediaServers(o outputs.Outputs, entries []string) []string {
	media := mediaHosts(o)
	var out []string
	for _, hp := range entries {
		if host, _, err := net.SplitHostPort(hp); err != nil || !slices.Contains(media, strings.ToLower(host)) {
			out = append(out, hp)
		}
	}
	return out
}

// mainBoxTURNServers are the outputs' TURN entries but the media servers'.
func mainBoxTURNServers(o outputs.Outputs) []talk.TURNServer {
	media := mediaHosts(o)
	var out []talk.TURNServer
	for _, s := range o.TURNServers {
		if host, _, err := net.SplitHostPort(s.Server); err != nil || !slices.Contains(media, strings.ToLower(host)) {
			out = append(out, s)
		}
	}
	return out
}

// proxyWelcome is the body of the signaling proxy's GET /welcome, as the
// real 2.0.2 proxy answers it:
// {"nextcloud-spreed-signaling-proxy":"Welcome","version":"2.0.2-2+b2.debian"}.
// The signaling server's welcome has the key "nextcloud-spreed-signaling",
// so a media server whose nginx points at it does not pass.
type proxyWelcome struct {
	Welcome string `json:"nextcloud-spreed-signaling-proxy"`
	Version string `json:"version"`
}

// mediaProblem is one thing that failed on one media server, with its hint.
type mediaProblem struct {
	reason, hint string
}

// mediaVerdict is what the media check found on one media server: what
// passed (ok) and what did not (problems).
type mediaVerdict struct {
	host     string
	ok       []string
	problems []mediaProblem
}

// checkMedia checks every media server concurrently, each within the
// check's time limit.
func checkMedia(ctx context.Context, e *env) Result {
	hosts := mediaHosts(e.opts.Outputs)
	if len(hosts) == 0 {
		return ok(fmt.Sprintf("none: turnServers and stunServers name no media server (only %s)", e.opts.Outputs.Domain))
	}
	relay, err := relayRange(e)
	if err != nil {
		return fail("stack output turnRelayPorts: "+err.Error(), "fix the outputs")
	}
	verdicts := make([]mediaVerdict, len(hosts))
	var wg sync.WaitGroup
	for i, host := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			verdicts[i] = e.checkMediaServer(ctx, host, relay)
		}()
	}
	wg.Wait()
	return judgeMedia(verdicts)
}

// checkMediaServer runs the three probes of one media server concurrently.
func (e *env) checkMediaServer(ctx context.Context, host string, relay schema.PortRange) mediaVerdict {
	probes := []func(context.Context, string, schema.PortRange) (string, *mediaProblem){
		e.mediaCertificate, e.mediaWelcome, e.mediaTURN,
	}
	oks := make([]string, len(probes))
	problems := make([]*mediaProblem, len(probes))
	var wg sync.WaitGroup
	for i, probe := range probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			oks[i], problems[i] = probe(ctx, host, relay)
		}()
	}
	wg.Wait()
	v := mediaVerdict{host: host}
	for i := range probes {
		if problems[i] != nil {
			v.problems = append(v.problems, *problems[i])
		} else {
			v.ok = append(v.ok, oks[i])
		}
	}
	return v
}

// judgeMedia is the pure part of the media check: one line naming every
// media server, FAIL when any probe of any of them failed.
func judgeMedia(verdicts []mediaVerdict) Result {
	var okParts, failParts, hints []string
	for _, v := range verdicts {
		if len(v.problems) == 0 {
			okParts = append(okParts, fmt.Sprintf("%s (%s)", v.host, strings.Join(v.ok, ", ")))
			continue
		}
		var reasons []string
		for _, p := range v.problems {
			reasons = append(reasons, p.reason)
			if !slices.Contains(hints, p.hint) {
				hints = append(hints, p.hint)
			}
		}
		failParts = append(failParts, v.host+": "+strings.Join(reasons, "; "))
	}
	if len(failParts) > 0 {
		return fail(strings.Join(failParts, " | "), strings.Join(hints, "; "))
	}
	servers := "media server"
	if len(verdicts) > 1 {
		servers += "s"
	}
	return ok(fmt.Sprintf("%d %s: %s", len(verdicts), servers, strings.Join(okParts, "; ")))
}

// composeLogs is the command that shows a service's log on a media server.
func composeLogs(host, service string) string {
	return fmt.Sprintf("`ssh root@%s docker compose -f %s logs %s`", host, cloudconfig.ComposeFile, service)
}

// nginxDownHint is the hint when the media server's 443 does not answer.
func nginxDownHint(host string) string {
	return "is nginx running on " + host + " and 443/tcp open in its firewall? " + composeLogs(host, cloudconfig.ServiceNginx)
}

// mediaCertificate judges the certificate on the media server's 443 like
// the tls check judges the domain's.
func (e *env) mediaCertificate(ctx context.Context, host string, _ schema.PortRange) (string, *mediaProblem) {
	certs, err := e.peerCertificates(ctx, host, strconv.Itoa(e.opts.mediaHTTPSPort))
	if err != nil {
		return "", &mediaProblem{err.Error(), nginxDownHint(host)}
	}
	r := judgeCertificate(certs, host, e.opts.RootCAs, e.opts.Now(), e.opts.MinCertValidity)
	if !r.OK() {
		return "", &mediaProblem{r.Reason, fmt.Sprintf("the media server gets its certificate from certbot, for its own name: read its log (/var/log/letsencrypt) and `ssh root@%s journalctl -u nctalk-setup`", host)}
	}
	return "certificate " + r.Reason, nil
}

// mediaWelcome fetches https://<host>/welcome through the media server's
// nginx and wants the signaling proxy's welcome.
func (e *env) mediaWelcome(ctx context.Context, host string, _ schema.PortRange) (string, *mediaProblem) {
	u := "https://" + host + "/welcome"
	if e.opts.mediaHTTPSPort != schema.PortHTTPS {
		u = "https://" + net.JoinHostPort(host, strconv.Itoa(e.opts.mediaHTTPSPort)) + "/welcome"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", &mediaProblem{err.Error(), "the media server's name in the outputs is not a host name"}
	}
	resp, err := e.httpClient(host).Do(req)
	if err != nil {
		return "", &mediaProblem{fmt.Sprintf("GET %s: %s", u, shortErr(err)), nginxDownHint(host)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return judgeProxyWelcome(host, u, resp.StatusCode, resp.Status, body)
}

// judgeProxyWelcome is the pure part of the welcome probe.
func judgeProxyWelcome(host, u string, code int, status string, body []byte) (string, *mediaProblem) {
	if code != http.StatusOK {
		hint := "check the nginx config on " + host + ": " + composeLogs(host, cloudconfig.ServiceNginx)
		if code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout {
			hint = fmt.Sprintf("nginx on %s cannot reach the signaling proxy on 127.0.0.1:%d: is it running? It only listens once Janus answers: %s, %s",
				host, schema.PortProxyHTTP, composeLogs(host, cloudconfig.ServiceProxy), composeLogs(host, cloudconfig.ServiceJanus))
		}
		return "", &mediaProblem{fmt.Sprintf("GET %s answered %s", u, status), hint}
	}
	var w proxyWelcome
	if err := json.Unmarshal(body, &w); err != nil || w.Welcome != "Welcome" {
		return "", &mediaProblem{fmt.Sprintf("GET %s answered 200 but not the signaling proxy's welcome (%q)", u, snippet(body)),
			"nginx on " + host + " proxies /welcome to something else than the signaling proxy: check its proxy_pass (" + composeLogs(host, cloudconfig.ServiceNginx) + ")"}
	}
	version := w.Version
	if version == "" {
		version = "unknown"
	}
	return "proxy " + version + " welcomes", nil
}

// mediaTURN allocates a relay on the media server's coturn over each of
// its TURN entries (UDP and TCP on 3478, TLS on 5349), with credentials
// from the TURN secret.
func (e *env) mediaTURN(ctx context.Context, host string, relay schema.PortRange) (string, *mediaProblem) {
	var hostProbes []turnProbe
	probes, _ := turnProbes(e.opts.Outputs.TURNServers)
	for _, p := range probes {
		if h, _, _ := net.SplitHostPort(p.server); strings.EqualFold(h, host) {
			hostProbes = append(hostProbes, p)
		}
	}
	if len(hostProbes) == 0 {
		return "", &mediaProblem{fmt.Sprintf("turnServers has no turn entry for %s (only stunServers names it)", host), "the stack outputs are inconsistent: run `pulumi up`"}
	}
	user, pass := talk.TURNCredentials(e.opts.Outputs.TURNSecret, turnUser, e.opts.Now().Add(time.Hour))
	results := make([]allocation, len(hostProbes))
	var wg sync.WaitGroup
	for i, p := range hostProbes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr, err := e.allocate(ctx, p, user, pass)
			results[i] = judgeAllocation(p, addr, err, relay)
		}()
	}
	wg.Wait()
	return judgeMediaTURN(host, results)
}

// judgeMediaTURN is the pure part of the TURN probe of one media server.
func judgeMediaTURN(host string, results []allocation) (string, *mediaProblem) {
	var okParts, failParts []string
	hint := fmt.Sprintf("is coturn running on %s, and are %d/udp+tcp and %d/tcp open in its firewall? %s", host, schema.PortTURN, schema.PortTURNS, composeLogs(host, cloudconfig.ServiceCoturn))
	for _, a := range results {
		if a.ok {
			okParts = append(okParts, a.text)
			continue
		}
		failParts = append(failParts, "TURN "+a.text)
		switch {
		case a.authFailed:
			hint = "coturn on " + host + " does not use the stack's turnSecret: re-render it with `pulumi up` (" + composeLogs(host, cloudconfig.ServiceCoturn) + ")"
		case a.outOfRange:
			hint = "coturn's min-port/max-port on " + host + " must equal turnRelayPorts, which its firewall opens"
		}
	}
	if len(failParts) > 0 {
		return "", &mediaProblem{strings.Join(failParts, "; "), hint}
	}
	return "TURN " + strings.Join(okParts, ", "), nil
}
