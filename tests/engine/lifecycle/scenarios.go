package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nctalk/nctalk/tests/engine"
)

// run is the life of one backend, step by step; each step records what the
// engine printed (engine.Fixture names) and fails the run when the engine
// or a command does something the step does not expect.
func (l *lifecycle) run() error {
	steps := []struct {
		name string
		do   func() error
	}{
		{"init", l.initStack},
		{"preview a new stack", l.previewCreate},
		{"up (create)", l.upCreate},
		{"preview with no changes", l.previewNoChanges},
		{"refresh", l.refresh},
		{"bad input stops the preview, naming the key", l.badInput},
		{"in place: a Nextcloud URL added", l.changeNextcloudURL},
		{"in place: an SSH source added", l.changeSSHSource},
		{"in place: the TURN secret rotated", l.rotateTURNSecret},
		{"nothing on the box: keepOnTeardown", l.changeNotOnTheBox},
		{"resize: another server type", l.changeServerType},
		{"an apply the box refuses, then the next up", l.refusedApply},
		{"replace: another image", l.changeImage},
		{"teardown (keep)", l.teardownKeep},
		{"up after teardown", l.upAgain},
		{"teardown --release, unprotected in Pulumi by hand", l.releaseUnprotectedByHand},
		{"up again", l.upAgain},
		{"destroy with protection on", l.destroyProtected},
		{"teardown --release", l.releaseProtected},
		{"up for the media servers", l.upForMedia},
		{"scale out: two media servers", l.addMediaServers},
		{"scale in: media-2 drains, then goes", l.removeMediaServer},
	}
	for _, s := range steps {
		if err := l.step(s.name, s.do); err != nil {
			return err
		}
	}
	if err := l.checkNoSecretLeaked(); err != nil {
		return err
	}
	return l.writeFigures()
}

func (l *lifecycle) initStack() error {
	if _, err := l.must("pulumi", "login", "file://"+filepath.Join(l.work, "state")); err != nil {
		return err
	}
	if _, err := l.must("pulumi", "stack", "init", stackName, "--secrets-provider", "passphrase"); err != nil {
		return err
	}
	if err := l.createZone(engine.Zone); err != nil {
		return err
	}
	for _, kv := range engine.BaseConfig() {
		if err := l.configSet(kv); err != nil {
			return err
		}
	}
	return nil
}

// createZone makes the DNS zone dnsZone names, as the admin does once.
func (l *lifecycle) createZone(name string) error {
	body := fmt.Sprintf(`{"name":%q,"mode":"primary"}`, name)
	req, err := newRequest("POST", l.api+"/zones", body)
	if err != nil {
		return err
	}
	resp, err := doRequest(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != 201 {
		return fmt.Errorf("creating zone %s: HTTP %d", name, resp.StatusCode)
	}
	return nil
}

// previewAll records the preview of the pending change in every form the
// CLI and the workflows read: JSON with and without --show-sames, the saved
// plan, and the text diff.
func (l *lifecycle) previewAll(prefix string, extra ...string) error {
	preview := func(args ...string) (result, error) {
		return l.must("pulumi", append(append([]string{"preview"}, args...), extra...)...)
	}
	r, err := preview("--json")
	if err != nil {
		return err
	}
	if err := l.record(prefix+".preview.json", r.stdout); err != nil {
		return err
	}
	if r, err = preview("--json", "--show-sames"); err != nil {
		return err
	}
	if err := l.record(prefix+".preview-sames.json", r.stdout); err != nil {
		return err
	}
	plan := filepath.Join(l.work, prefix+".plan.json")
	if _, err = preview("--save-plan", plan); err != nil {
		return err
	}
	b, err := os.ReadFile(plan)
	if err != nil {
		return err
	}
	if err := l.record(prefix+".plan.json", b); err != nil {
		return err
	}
	if r, err = preview("--diff"); err != nil {
		return err
	}
	return l.record(prefix+".preview.diff", r.stdout)
}

// prPreview runs the pull-request preview exactly as preview.yml does, and
// the summary tool on what it wrote.
func (l *lifecycle) prPreview(prefix string) error {
	cmd, err := engine.WorkflowPreviewCommand(l.repo)
	if err != nil {
		return err
	}
	// The workflow's own shell line, with its files in the scratch folder.
	tmp := filepath.Join(l.work, "runner")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	script := strings.ReplaceAll(cmd, "$RUNNER_TEMP", tmp)
	script = strings.ReplaceAll(script, `"$STACK"`, stackName+" --non-interactive")
	if _, err := l.must("bash", "-euo", "pipefail", "-c", script); err != nil {
		return err
	}
	// The files the workflow hands to its summary job as an artifact.
	out := filepath.Join(tmp, "out")
	args := []string{"preview-summary", "--stack", stackName, "--file", filepath.Join(out, "preview.json")}
	if st, err := os.Stat(filepath.Join(out, "plan.json")); err == nil && st.Size() > 0 {
		args = append(args, "--plan", filepath.Join(out, "plan.json"))
	}
	r := l.cmd("nctalk", args...)
	if r.code != 0 {
		return fmt.Errorf("nctalk preview-summary: exit %d: %s", r.code, r.stderr)
	}
	return l.record(prefix+".summary.md", r.stdout)
}

func (l *lifecycle) previewCreate() error { return l.previewAll("create") }

func (l *lifecycle) upCreate() error {
	r, err := l.must("pulumi", "up", "--yes", "--skip-preview")
	if err != nil {
		return err
	}
	if err := l.revealSecrets(); err != nil {
		return err
	}
	if err := l.record("create.up.txt", r.stdout); err != nil {
		return err
	}
	return l.recordState("create")
}

// exportedSteps are the steps whose exported state is kept (each is about
// 150 KB): a new stack, an in-place change, and what teardown leaves.
var exportedSteps = []string{"create", "url", "teardown"}

// recordState records the stack outputs and, for exportedSteps, the
// exported state.
func (l *lifecycle) recordState(prefix string) error {
	r, err := l.must("pulumi", "stack", "output", "--json")
	if err != nil {
		return err
	}
	if err := l.record(prefix+".outputs.json", r.stdout); err != nil {
		return err
	}
	if r, err = l.must("pulumi", "stack", "export"); err != nil {
		return err
	}
	if !slices.Contains(exportedSteps, prefix) {
		return nil
	}
	return l.record(prefix+".export.json", r.stdout)
}

func (l *lifecycle) previewNoChanges() error {
	_, err := l.must("pulumi", "preview", "--expect-no-changes")
	return err
}

func (l *lifecycle) refresh() error {
	_, err := l.must("pulumi", "refresh", "--yes", "--expect-no-changes", "--skip-preview")
	return err
}

// expect is what a change must do.
type expect struct {
	// box is what the box must be told to do (cloudconfig.DescribeChanges),
	// or "" when no command may reach it.
	box string
	// replaced says the server is replaced (another ID); else it keeps
	// its ID.
	replaced bool
	// summary are lines the PR summary must hold.
	summary []string
	// again marks a repeat of an earlier kind of change: checked, its
	// previews not recorded.
	again bool
}

// configSet runs `pulumi config set` for one setting.
func (l *lifecycle) configSet(kv engine.Setting) error {
	args := []string{"config", "set"}
	if kv.Path {
		args = append(args, "--path")
	}
	if kv.Type != "" {
		args = append(args, "--type", kv.Type)
	}
	_, err := l.must("pulumi", append(args, kv.Key, kv.Value)...)
	return err
}

// change sets one config value, records every preview form and the PR
// summary, applies it, and checks what happened against want.
func (l *lifecycle) change(prefix string, kv engine.Setting, want expect) error {
	if err := l.configSet(kv); err != nil {
		return err
	}
	return l.applyChange(prefix, want, nil)
}

// applyChange records the previews and the PR summary of the pending
// change, runs pulumi up with extra (also given to the previews; then there
// is no PR summary: a pull request changes config, not flags), and checks
// the result against want.
func (l *lifecycle) applyChange(prefix string, want expect, extra []string) error {
	if want.again {
		// A step that repeats an earlier kind of change: checked, not recorded.
		return l.upAndCheck(prefix, want, extra)
	}
	if err := l.previewAll(prefix, extra...); err != nil {
		return err
	}
	if extra == nil {
		if err := l.prPreview(prefix); err != nil {
			return err
		}
		summary, err := os.ReadFile(filepath.Join(l.out, prefix+".summary.md"))
		if err != nil {
			return err
		}
		for _, line := range want.summary {
			if !strings.Contains(string(summary), line) {
				return fmt.Errorf("the PR summary lacks %q:\n%s", line, summary)
			}
		}
	}
	return l.upAndCheck(prefix, want, extra)
}

// upAndCheck runs pulumi up with extra and checks the result against want.
func (l *lifecycle) upAndCheck(prefix string, want expect, extra []string) error {
	upArgs := append([]string{"up", "--yes", "--skip-preview"}, extra...)
	serverBefore, err := l.serverID()
	if err != nil {
		return err
	}
	appliesBefore := l.box.applies()
	r, err := l.must("pulumi", upArgs...)
	if err != nil {
		return err
	}
	if err := l.record(prefix+".up.txt", r.stdout); err != nil {
		return err
	}
	if err := l.recordState(prefix); err != nil {
		return err
	}
	serverAfter, err := l.serverID()
	if err != nil {
		return err
	}
	if replaced := serverAfter != serverBefore; replaced != want.replaced {
		return fmt.Errorf("server %s before, %s after: replaced = %v, want %v", serverBefore, serverAfter, replaced, want.replaced)
	}
	n := l.box.applies() - appliesBefore
	switch {
	case want.box == "" && n != 0:
		return fmt.Errorf("%d in-place changes reached the box; want none", n)
	case want.box != "" && n != 1:
		return fmt.Errorf("%d in-place changes reached the box; want 1 (%s)", n, want.box)
	case want.box != "":
		rec, err := l.box.last()
		if err != nil {
			return err
		}
		if rec.Changes != want.box {
			return fmt.Errorf("the box was told: %q; want %q", rec.Changes, want.box)
		}
	}
	return nil
}

// serverID is the server's ID at the double ("" when there is none).
func (l *lifecycle) serverID() (string, error) {
	resp, err := doRequest(mustRequest("GET", l.api+"/servers?name="+engine.Domain, ""))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var list struct {
		Servers []struct {
			ID int `json:"id"`
		} `json:"servers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return "", err
	}
	if len(list.Servers) == 0 {
		return "", nil
	}
	return fmt.Sprint(list.Servers[0].ID), nil
}

func (l *lifecycle) changeNextcloudURL() error {
	return l.change("url", engine.AddedNextcloudURL, expect{
		box:     "signaling reloaded; coturn, janus, nats, nginx untouched",
		summary: []string{"signaling reloaded; coturn, janus, nats, nginx untouched", "+    [backend-2]"},
	})
}

func (l *lifecycle) changeSSHSource() error {
	return l.change("ssh", engine.AddedSSHSource, expect{
		box:     "host-firewall reloaded; coturn, janus, nats, nginx, signaling untouched",
		summary: []string{"host-firewall reloaded"},
	})
}

// rotateTURNSecret replaces the TURN secret's RandomPassword: coturn and
// signaling restart with the new secret, and the outputs carry it.
func (l *lifecycle) rotateTURNSecret() error {
	old := l.revealedSecrets["turnSecret"]
	if err := l.applyChange("rotate", expect{
		box: "coturn restarted, signaling restarted; janus, nats, nginx untouched",
	}, []string{"--replace", engine.TURNSecretURN}); err != nil {
		return err
	}
	if err := l.revealSecrets(); err != nil {
		return err
	}
	if l.revealedSecrets["turnSecret"] == old {
		return fmt.Errorf("the turnSecret output did not change with the rotation")
	}
	l.oldSecrets = append(l.oldSecrets, old)
	return nil
}

func (l *lifecycle) changeNotOnTheBox() error {
	if err := l.change("keep", engine.NotOnTheBox, expect{}); err != nil {
		return err
	}
	_, err := l.must("pulumi", "config", "set", "--type", "bool", "nctalk:keepOnTeardown", "true")
	if err != nil {
		return err
	}
	return l.applyChange("keep-back", expect{again: true}, nil)
}

func (l *lifecycle) changeServerType() error {
	return l.change("resize", engine.OtherServerType, expect{summary: []string{"reboot"}})
}

// refusedApply changes a Nextcloud URL while the box refuses the change:
// the update fails naming the step and the service; the next up applies it.
func (l *lifecycle) refusedApply() error {
	if err := l.configSet(engine.ThirdNextcloudURL); err != nil {
		return err
	}
	if err := l.box.failNext(); err != nil {
		return err
	}
	r := l.cmd("pulumi", "up", "--yes", "--skip-preview")
	if err := l.record("refused.up.txt", append(r.stdout, r.stderr...)); err != nil {
		return err
	}
	if r.code == 0 {
		return fmt.Errorf("pulumi up succeeded though the box refused the change")
	}
	for _, want := range []string{"nctalk-apply: FAILED: signaling did not take the new configuration", "nctalk-apply"} {
		if !bytes.Contains(append(r.stdout, r.stderr...), []byte(want)) {
			return fmt.Errorf("the failed up does not say %q", want)
		}
	}
	return l.applyChange("refused-retry", expect{again: true, box: "signaling reloaded; coturn, janus, nats, nginx untouched"}, nil)
}

func (l *lifecycle) changeImage() error {
	return l.change("image", engine.OtherImage, expect{
		replaced: true,
		box:      "nothing on the box changes",
		summary:  []string{"THE SERVER WILL BE REPLACED"},
	})
}

// teardown runs nctalk teardown (keeping the addresses and the volume) and
// records what is left: the outputs, and what nctalk cloud-config says.
func (l *lifecycle) teardownKeep() error {
	r := l.cmd("nctalk", "teardown", "--stack", stackName, "--yes")
	if err := l.record("teardown.log", append(r.stdout, r.stderr...)); err != nil {
		return err
	}
	if r.code != 0 {
		return fmt.Errorf("nctalk teardown: exit %d", r.code)
	}
	if err := l.recordState("teardown"); err != nil {
		return err
	}
	c := l.cmd("nctalk", "cloud-config", "--stack", stackName)
	return l.record("teardown.cloud-config.txt", []byte(fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", c.code, c.stdout, c.stderr)))
}

func (l *lifecycle) upAgain() error {
	_, err := l.must("pulumi", "up", "--yes", "--skip-preview")
	return err
}

// releaseUnprotectedByHand drops Pulumi's protect of every resource by
// hand (pulumi state unprotect), leaving Hetzner's delete protection, then
// runs teardown --release, which must still delete everything.
func (l *lifecycle) releaseUnprotectedByHand() error {
	if _, err := l.must("pulumi", "state", "unprotect", "--all", "--yes"); err != nil {
		return err
	}
	return l.release("release-unprotected")
}

// release runs nctalk teardown --release and checks that nothing is left,
// in the state or at the double, then sets keepOnTeardown back.
func (l *lifecycle) release(prefix string) error {
	r := l.cmd("nctalk", "teardown", "--stack", stackName, "--release", "--yes")
	if err := l.record(prefix+".log", append(r.stdout, r.stderr...)); err != nil {
		return err
	}
	if r.code != 0 {
		return fmt.Errorf("nctalk teardown --release: exit %d", r.code)
	}
	cfg, err := os.ReadFile(l.configFile())
	if err != nil {
		return err
	}
	if err := l.record(prefix+".config.yaml", cfg); err != nil {
		return err
	}
	left, err := l.doubleResources()
	if err != nil {
		return err
	}
	if len(left) > 0 {
		return fmt.Errorf("after teardown --release the double still holds %s", strings.Join(left, ", "))
	}
	_, err = l.must("pulumi", "config", "set", "--type", "bool", "nctalk:keepOnTeardown", "true")
	return err
}

// destroyProtected runs a plain pulumi destroy with the addresses and the
// volume protected. Pulumi 3.274.1 deletes everything it may and then
// fails on the protected resources (facts.md said it deletes nothing): the
// addresses and the volume stay, and the run records what it printed.
func (l *lifecycle) destroyProtected() error {
	r := l.cmd("pulumi", "destroy", "--yes", "--skip-preview")
	if err := l.record("destroy-protected.log", append(r.stdout, r.stderr...)); err != nil {
		return err
	}
	if r.code == 0 {
		return fmt.Errorf("pulumi destroy with protected resources succeeded")
	}
	after, err := l.doubleResources()
	if err != nil {
		return err
	}
	want := []string{"primary_ips/talk-nctalk-test-ipv4", "primary_ips/talk-nctalk-test-ipv6", "volumes/talk-nctalk-test-state"}
	if strings.Join(after, ",") != strings.Join(want, ",") {
		return fmt.Errorf("after pulumi destroy with protected resources the double holds %v; want the protected %v", after, want)
	}
	return nil
}

func (l *lifecycle) releaseProtected() error { return l.release("release") }

// doubleResources lists what the double holds that the stack made
// (servers, primary IPs, volumes, firewalls, SSH keys, records of the zone
// other than SOA/NS), as kind/name.
func (l *lifecycle) doubleResources() ([]string, error) {
	resp, err := doRequest(mustRequest("GET", strings.TrimSuffix(l.api, "/v1")+"/__state", ""))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var state map[string]json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		return nil, err
	}
	var left []string
	for _, kind := range []string{"servers", "primary_ips", "volumes", "firewalls", "ssh_keys"} {
		var items []struct {
			Name string `json:"name"`
		}
		if raw, ok := state[kind]; ok {
			if err := json.Unmarshal(raw, &items); err != nil {
				return nil, fmt.Errorf("/__state %s: %w", kind, err)
			}
		}
		for _, it := range items {
			left = append(left, kind+"/"+it.Name)
		}
	}
	// The double lists in the order it made them, which the engine's
	// parallel creates decide: compare as a set.
	slices.Sort(left)
	return left, nil
}

// checkNoSecretLeaked fails when a secret's value appears in any fixture or
// in the run's log: the secret outputs as the engine reveals them on
// request (stack output --show-secrets), the rotated-away ones, and every
// secret the box was sent in a bundle.
func (l *lifecycle) checkNoSecretLeaked() error {
	secrets := map[string]string{}
	for k, v := range l.revealedSecrets {
		secrets[v] = "the output " + k
	}
	for _, v := range l.oldSecrets {
		secrets[v] = "a rotated secret"
	}
	for _, v := range l.box.seenSecrets() {
		secrets[v] = "a secret of the bundle"
	}
	for _, v := range l.stateSecrets {
		secrets[v] = "the proxy token's private key"
	}
	if len(secrets) < 6 {
		return fmt.Errorf("only %d secrets to look for: the check would prove little", len(secrets))
	}
	files, err := filepath.Glob(filepath.Join(l.out, "*"))
	if err != nil {
		return err
	}
	logs, _ := filepath.Glob(filepath.Join(l.work, "box", "*"))
	files = append(append(files, logs...), filepath.Join(l.work, "lifecycle.log"), filepath.Join(l.work, "double-requests.jsonl"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for v, what := range secrets {
			if bytes.Contains(b, []byte(v)) {
				return fmt.Errorf("%s appears in %s", what, f)
			}
		}
	}
	fmt.Fprintf(os.Stderr, "lifecycle: none of %d secrets appears in %d files\n", len(secrets), len(files))
	return nil
}

// revealSecrets keeps the secret outputs' values (never recorded) for
// checkNoSecretLeaked.
func (l *lifecycle) revealSecrets() error {
	r, err := l.must("pulumi", "stack", "output", "--json", "--show-secrets")
	if err != nil {
		return err
	}
	var outs map[string]any
	if err := json.Unmarshal(r.stdout, &outs); err != nil {
		return err
	}
	l.revealedSecrets = map[string]string{}
	for _, k := range engine.SecretOutputs {
		v, ok := outs[k].(string)
		if !ok || len(v) < 16 {
			return fmt.Errorf("the output %s is not a revealed secret: %v", k, outs[k])
		}
		l.revealedSecrets[k] = v
	}
	return nil
}

// badInput: a value the catalogue or the config check refuses stops the
// preview with one error naming the key (not the provider's error first,
// not wrapped in an rpc error), and nothing is written at Hetzner.
func (l *lifecycle) badInput() error {
	cases := []struct {
		setting engine.Setting
		want    string
	}{
		{engine.Setting{Key: "nctalk:image", Value: "debian-99"}, `nctalk:image: "debian-99" is unknown to Hetzner`},
		{engine.Setting{Key: "nctalk:dnsZone", Value: "talk.nctalk.test"}, `nctalk:dnsZone: zone "talk.nctalk.test" is not in this project's Hetzner DNS`},
		{engine.Setting{Key: "nctalk:nextcloudUrls[0]", Value: "ftp://cloud.nctalk.test", Path: true}, "nctalk:nextcloudUrls"},
	}
	before, err := l.writes()
	if err != nil {
		return err
	}
	var log []byte
	for _, c := range cases {
		old := l.cmd("pulumi", "config", "get", "--path", c.setting.Key) // exit 1: not set (the default)
		if err := l.configSet(c.setting); err != nil {
			return err
		}
		r := l.cmd("pulumi", "preview")
		out := append(r.stdout, r.stderr...)
		log = append(append(log, fmt.Sprintf("$ pulumi config set %s %s; pulumi preview   (exit %d)\n", c.setting.Key, c.setting.Value, r.code)...), out...)
		switch {
		case r.code == 0:
			return fmt.Errorf("%s=%s: the preview succeeded", c.setting.Key, c.setting.Value)
		case !bytes.Contains(out, []byte(c.want)):
			return fmt.Errorf("%s=%s: the preview does not say %q:\n%s", c.setting.Key, c.setting.Value, c.want, out)
		case bytes.Contains(out, []byte("rpc error")) || bytes.Contains(out, []byte("no image found")) || bytes.Contains(out, []byte("was not found")):
			return fmt.Errorf("%s=%s: the provider's error or an rpc wrapper comes with the program's:\n%s", c.setting.Key, c.setting.Value, out)
		}
		if old.code != 0 { // not set before: the default again
			if _, err := l.must("pulumi", "config", "rm", "--path", c.setting.Key); err != nil {
				return err
			}
		} else if err := l.configSet(engine.Setting{Key: c.setting.Key, Value: strings.TrimSpace(string(old.stdout)), Path: c.setting.Path, Type: c.setting.Type}); err != nil {
			return err
		}
	}
	after, err := l.writes()
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("the refused previews wrote to Hetzner: %d writes before, %d after", before, after)
	}
	return l.record("bad-input.txt", log)
}

// writes counts the double's write requests so far.
func (l *lifecycle) writes() (int, error) {
	_, routes, err := l.stats()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range routes {
		if !strings.HasPrefix(r.Route, "GET ") {
			n += r.Count
		}
	}
	return n, nil
}
