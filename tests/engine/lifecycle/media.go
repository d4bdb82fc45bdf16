package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/tests/engine"
)

// The media servers' scale-out and scale-in, at the end of the life: the
// stack grows by two media servers in two locations, then the second is
// removed again and must drain before it goes.

// mediaHost is the host name of the media server set by kv
// (nctalk:mediaServers.<name>).
func mediaHost(kv engine.Setting) string {
	return mediaName(kv) + "." + engine.Domain
}

func mediaName(kv engine.Setting) string {
	return kv.Key[strings.LastIndexByte(kv.Key, '.')+1:]
}

// upForMedia brings the backend back after the last teardown, with
// keepOnTeardown off: a media server's primary IPs are protected like the
// main box's when it is on, and the scale-in deletes them.
func (l *lifecycle) upForMedia() error {
	if err := l.configSet(engine.NotOnTheBox); err != nil {
		return err
	}
	if _, err := l.must("pulumi", "up", "--yes", "--skip-preview"); err != nil {
		return err
	}
	// The release deleted the stack's generated secrets; these are new.
	for _, v := range l.revealedSecrets {
		l.oldSecrets = append(l.oldSecrets, v)
	}
	return l.revealSecrets()
}

// mainWords is what the main box is told when a media server is removed
// and others stay: signaling reloads its list of proxies, nothing else.
const mainWords = "signaling reloaded; "

// firstMediaWords is what the main box is told when the stack grows from
// one box to media servers: Janus moves to them (its ports close on the
// main box), and signaling is recreated with its proxies.
const firstMediaWords = "files updated, host-firewall reloaded, janus removed, signaling recreated; coturn, nats, nginx untouched"

func (l *lifecycle) addMediaServers() error {
	mainBefore, err := l.serverID()
	if err != nil {
		return err
	}
	for _, kv := range engine.MediaServers {
		if err := l.configSet(kv); err != nil {
			return err
		}
	}
	if err := l.previewAll("media-add"); err != nil {
		return err
	}
	if err := l.prPreview("media-add"); err != nil {
		return err
	}
	n := l.box.applies()
	r, err := l.must("pulumi", "up", "--yes", "--skip-preview")
	if err != nil {
		return err
	}
	if err := l.record("media-add.up.txt", r.stdout); err != nil {
		return err
	}
	if err := l.recordState("media-add"); err != nil {
		return err
	}
	if mainAfter, err := l.serverID(); err != nil || mainAfter != mainBefore {
		return fmt.Errorf("the main server was %s, is %s (%v): adding media servers must keep it", mainBefore, mainAfter, err)
	}
	recs, err := l.box.since(n)
	if err != nil {
		return err
	}
	told := map[string][]string{}
	for _, rec := range recs {
		told[rec.Server] = append(told[rec.Server], rec.Changes)
	}
	if m := told[engine.Domain]; len(m) != 1 || m[0] != firstMediaWords {
		return fmt.Errorf("the main box was told %q; want %q", m, firstMediaWords)
	}
	for _, kv := range engine.MediaServers {
		if m := told[mediaHost(kv)]; len(m) != 1 || m[0] != "nothing on the box changes" {
			return fmt.Errorf("the new media server %s was told %q; want one bundle, what it booted", mediaHost(kv), m)
		}
	}
	if len(told) != 1+len(engine.MediaServers) {
		return fmt.Errorf("the boxes told: %v", told)
	}
	if err := l.checkMediaAtTheDouble(engine.MediaServers); err != nil {
		return err
	}
	return l.readProxyToken()
}

// doubleState is the part of the double's /__state the media checks read.
type doubleState struct {
	Servers    []doubleServer    `json:"servers"`
	PrimaryIPs []doublePrimaryIP `json:"primary_ips"`
	Firewalls  []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"firewalls"`
	SSHKeys []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"ssh_keys"`
	Zones []struct {
		RRSets []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"rrsets"`
	} `json:"zones"`
}

// doubleServer is a server in the double's /__state.
type doubleServer struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	ServerType struct {
		Name string `json:"name"`
	} `json:"server_type"`
	Location struct {
		Name string `json:"name"`
	} `json:"location"` // the API's; datacenter is deprecated (null)
	PublicNet struct {
		IPv4 struct {
			ID int64 `json:"id"`
		} `json:"ipv4"`
		IPv6 struct {
			ID int64 `json:"id"`
		} `json:"ipv6"`
		Firewalls []struct {
			ID int64 `json:"id"`
		} `json:"firewalls"`
	} `json:"public_net"`
}

// doublePrimaryIP is a primary IP in the double's /__state.
type doublePrimaryIP struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	AssigneeID int64  `json:"assignee_id"`
	Location   struct {
		Name string `json:"name"`
	} `json:"location"` // the API's; datacenter is deprecated (null)
}

func (l *lifecycle) doubleState() (doubleState, error) {
	var st doubleState
	resp, err := doRequest(mustRequest("GET", strings.TrimSuffix(l.api, "/v1")+"/__state", ""))
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// checkMediaAtTheDouble checks each media server of media at the double:
// the server (its name, location and type), its primary IPs in its
// location, a firewall of its own, and its DNS RRsets.
func (l *lifecycle) checkMediaAtTheDouble(media []engine.Setting) error {
	st, err := l.doubleState()
	if err != nil {
		return err
	}
	if len(st.Servers) != 1+len(media) {
		return fmt.Errorf("the double holds %d servers; want %d", len(st.Servers), 1+len(media))
	}
	firewalls := map[int64]string{}
	for _, s := range st.Servers {
		for _, f := range s.PublicNet.Firewalls {
			if other, ok := firewalls[f.ID]; ok {
				return fmt.Errorf("the servers %s and %s share the firewall %d", other, s.Name, f.ID)
			}
			firewalls[f.ID] = s.Name
		}
	}
	for _, kv := range media {
		host := mediaHost(kv)
		location, serverType, _ := strings.Cut(kv.Value, "/")
		i := slices.IndexFunc(st.Servers, func(s doubleServer) bool {
			return s.Name == host
		})
		if i < 0 {
			return fmt.Errorf("the double has no server %s", host)
		}
		s := st.Servers[i]
		if s.Location.Name != location || s.ServerType.Name != serverType {
			return fmt.Errorf("the server %s is a %s in %s; want a %s in %s", host, s.ServerType.Name, s.Location.Name, serverType, location)
		}
		if len(s.PublicNet.Firewalls) != 1 {
			return fmt.Errorf("the server %s has %d firewalls; want one of its own", host, len(s.PublicNet.Firewalls))
		}
		base := strings.ReplaceAll(host, ".", "-")
		for _, family := range []string{"ipv4", "ipv6"} {
			j := slices.IndexFunc(st.PrimaryIPs, func(p doublePrimaryIP) bool {
				return p.Name == base+"-"+family
			})
			if j < 0 {
				return fmt.Errorf("the double has no primary IP %s-%s", base, family)
			}
			if p := st.PrimaryIPs[j]; p.AssigneeID != s.ID || p.Location.Name != location {
				return fmt.Errorf("the primary IP %s is on server %d in %s; want on %d (%s) in %s", p.Name, p.AssigneeID, p.Location.Name, s.ID, host, location)
			}
		}
		label := strings.TrimSuffix(host, "."+engine.Zone)
		for _, typ := range []string{"A", "AAAA"} {
			found := false
			for _, z := range st.Zones {
				for _, rr := range z.RRSets {
					found = found || rr.Name == label && rr.Type == typ
				}
			}
			if !found {
				return fmt.Errorf("the zone %s has no %s RRset %s", engine.Zone, typ, label)
			}
		}
	}
	return nil
}

// readProxyToken finds the one proxy token in the state (an RSA key of
// pulumi-tls) and keeps its private key's lines for the secret check.
func (l *lifecycle) readProxyToken() error {
	r, err := l.must("pulumi", "stack", "export", "--show-secrets")
	if err != nil {
		return err
	}
	var doc struct {
		Deployment struct {
			Resources []struct {
				URN     string         `json:"urn"`
				Type    string         `json:"type"`
				Inputs  map[string]any `json:"inputs"`
				Outputs map[string]any `json:"outputs"`
			} `json:"resources"`
		} `json:"deployment"`
	}
	if err := json.Unmarshal(r.stdout, &doc); err != nil {
		return err
	}
	var tokens []string
	for _, res := range doc.Deployment.Resources {
		if res.Type != "tls:index/privateKey:PrivateKey" {
			continue
		}
		// The host and deploy keys are ED25519 keys of the same type.
		token := strings.HasSuffix(res.URN, "::nctalk-proxy-token")
		if rsa := res.Inputs["algorithm"] == "RSA"; !token && !rsa {
			continue
		} else if !token || !rsa {
			return fmt.Errorf("the key %s (%v): want only the proxy token an RSA key", res.URN, res.Inputs["algorithm"])
		}
		tokens = append(tokens, res.URN)
		pem := revealed(res.Outputs["privateKeyPem"])
		l.stateSecrets = pemSecrets(pem)
		if len(l.stateSecrets) < 10 {
			return fmt.Errorf("the proxy token's private key has %d private lines in the state", len(l.stateSecrets))
		}
	}
	if len(tokens) != 1 {
		return fmt.Errorf("the state holds %d proxy tokens (%v); want one", len(tokens), tokens)
	}
	return nil
}

// revealed is the plain text of an exported value: a string, or a secret
// as `stack export --show-secrets` writes it (its plaintext JSON-encoded).
func revealed(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if p, ok := x["plaintext"].(string); ok {
			var s string
			if json.Unmarshal([]byte(p), &s) == nil {
				return s
			}
			return p
		}
	}
	return ""
}

// removeMediaServer removes the last media server from the config: the
// preview deletes its resources; the update tells the main box first
// (signaling drops the proxy), then drains the removed box, then deletes
// its server. The order is what the real engine did, from the stand-in
// box's records and the double's request log.
func (l *lifecycle) removeMediaServer() error {
	gone := engine.MediaServers[len(engine.MediaServers)-1]
	host, name := mediaHost(gone), mediaName(gone)
	if _, err := l.must("pulumi", "config", "rm", "--path", gone.Key); err != nil {
		return err
	}
	if err := l.previewAll("media-remove"); err != nil {
		return err
	}
	if err := l.checkRemovalPreview(name); err != nil {
		return err
	}
	if err := l.prPreview("media-remove"); err != nil {
		return err
	}
	before, err := l.doubleState()
	if err != nil {
		return err
	}
	names := map[string]string{} // "kind/id" -> name, for the order
	var goneID int64
	for _, s := range before.Servers {
		names[fmt.Sprintf("servers/%d", s.ID)] = s.Name
		if s.Name == host {
			goneID = s.ID
		}
	}
	for _, p := range before.PrimaryIPs {
		names[fmt.Sprintf("primary_ips/%d", p.ID)] = p.Name
	}
	for _, f := range before.Firewalls {
		names[fmt.Sprintf("firewalls/%d", f.ID)] = f.Name
	}
	for _, k := range before.SSHKeys {
		names[fmt.Sprintf("ssh_keys/%d", k.ID)] = k.Name
	}
	if goneID == 0 {
		return fmt.Errorf("the double has no server %s before the scale-in", host)
	}
	mainBefore, err := l.serverID()
	if err != nil {
		return err
	}
	logStart, err := lineCount(filepath.Join(l.work, "double-requests.jsonl"))
	if err != nil {
		return err
	}
	n := l.box.applies()
	r, err := l.must("pulumi", "up", "--yes", "--skip-preview")
	if err != nil {
		return err
	}
	if err := l.record("media-remove.up.txt", r.stdout); err != nil {
		return err
	}
	if err := l.recordState("media-remove"); err != nil {
		return err
	}
	if mainAfter, err := l.serverID(); err != nil || mainAfter != mainBefore {
		return fmt.Errorf("the main server was %s, is %s (%v): removing a media server must keep it", mainBefore, mainAfter, err)
	}
	if err := l.checkMediaAtTheDouble(engine.MediaServers[:len(engine.MediaServers)-1]); err != nil {
		return err
	}
	recs, err := l.box.since(n)
	if err != nil {
		return err
	}
	// The events: each box's record, and every DELETE the double served.
	type event struct {
		at   time.Time
		what string
	}
	var events []event
	var mainAt, drainBegan, drainAt, deleteAt time.Time
	for _, rec := range recs {
		at, err := time.Parse(time.RFC3339Nano, rec.At)
		if err != nil {
			return err
		}
		began, err := time.Parse(time.RFC3339Nano, rec.Began)
		if err != nil {
			return err
		}
		switch {
		case rec.Server == engine.Domain && rec.Command != cloudconfig.DrainCommand && strings.HasPrefix(rec.Changes, mainWords) && mainAt.IsZero():
			mainAt = at
		case rec.Server == host && rec.Command == cloudconfig.DrainCommand && drainAt.IsZero():
			drainBegan, drainAt = began, at
		case rec.Server != host && rec.Server != engine.Domain && rec.Command != cloudconfig.DrainCommand:
			// A media server that stays may be sent its bundle: recorded.
		default:
			return fmt.Errorf("the box %s was sent %q (%s): want only the main box's reload and %s's drain", rec.Server, rec.Command, rec.Changes, host)
		}
		events = append(events, event{at, fmt.Sprintf("box %s: SSH_ORIGINAL_COMMAND=%q: %s", rec.Server, rec.Command, rec.Changes)})
	}
	if mainAt.IsZero() || drainAt.IsZero() {
		return fmt.Errorf("the boxes were sent %d commands: want the main box's reload and %s's drain", len(recs), host)
	}
	reqs, err := requestsAfter(filepath.Join(l.work, "double-requests.jsonl"), logStart)
	if err != nil {
		return err
	}
	for _, q := range reqs {
		if q.Method != "DELETE" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, q.T0)
		if err != nil {
			return err
		}
		what := strings.TrimPrefix(q.Path, "/v1/")
		if n, ok := names[what]; ok {
			what = strings.SplitN(what, "/", 2)[0] + " " + n
		}
		if q.Path == fmt.Sprintf("/v1/servers/%d", goneID) {
			deleteAt = at
		}
		events = append(events, event{at, fmt.Sprintf("double: DELETE %s -> %d", what, q.Status)})
	}
	if deleteAt.IsZero() {
		return fmt.Errorf("the double was never asked to delete the server %s", host)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	var b strings.Builder
	fmt.Fprintf(&b, "# pulumi up after %s left mediaServers: what reached the boxes and the double's deletes, in the order they happened\n", name)
	for _, e := range events {
		fmt.Fprintln(&b, e.what)
	}
	if err := l.record("media-remove.order.txt", []byte(b.String())); err != nil {
		return err
	}
	switch {
	case !mainAt.Before(drainBegan):
		return fmt.Errorf("%s drained before the main box's signaling let go of it:\n%s", host, b.String())
	case !drainAt.Before(deleteAt):
		return fmt.Errorf("the server %s was deleted before its drain ended:\n%s", host, b.String())
	}
	// The summary was recorded before the update; checked last, so a run
	// records the update's order even when the summary falls short.
	summary, err := os.ReadFile(filepath.Join(l.out, "media-remove.summary.md"))
	if err != nil {
		return err
	}
	if want := "`" + name + "`: drains"; !strings.Contains(string(summary), want) {
		return fmt.Errorf("the PR summary lacks %q:\n%s", want, summary)
	}
	return nil
}

// checkRemovalPreview checks the recorded preview: every resource of the
// removed media server is deleted, and nothing else is.
func (l *lifecycle) checkRemovalPreview(name string) error {
	raw, err := os.ReadFile(filepath.Join(l.out, "media-remove.preview.json"))
	if err != nil {
		return err
	}
	var p struct {
		Steps []struct {
			Op  string `json:"op"`
			URN string `json:"urn"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return err
	}
	prefix := "::nctalk-" + name + "-"
	deleted := 0
	for _, st := range p.Steps {
		ours := strings.Contains(st.URN, prefix)
		switch {
		case ours && st.Op != "delete":
			return fmt.Errorf("the preview does %s to %s; want delete", st.Op, st.URN)
		case !ours && st.Op == "delete":
			return fmt.Errorf("the preview deletes %s, which is not %s's", st.URN, name)
		case ours:
			deleted++
		}
	}
	if deleted != 12 {
		return fmt.Errorf("the preview deletes %d of %s's resources; want its 12", deleted, name)
	}
	return nil
}

// loggedRequest is one line of the double's request log.
type loggedRequest struct {
	T0     string `json:"t0"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

func lineCount(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strings.Count(string(b), "\n"), nil
}

// requestsAfter reads the request log's lines after the first n.
func requestsAfter(path string, n int) ([]loggedRequest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []loggedRequest
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for i := 0; sc.Scan(); i++ {
		if i < n {
			continue
		}
		var q loggedRequest
		if err := json.Unmarshal(sc.Bytes(), &q); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, sc.Err()
}
