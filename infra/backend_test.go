package infra

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"gopkg.in/yaml.v3"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/infra/config"
	"github.com/nctalk/nctalk/infra/infratest"
	"github.com/nctalk/nctalk/infra/outputs"
	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

const (
	testKey       = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF6vBETkDs1Y2lfftnHZ44axD+n6mqcrcffWJB5jey08 admin@example"
	componentURN  = "urn:pulumi:dev::nctalk::nctalk:index:TalkBackend::nctalk"
	defaultSeed   = "seed-1"
	givenSignal   = "givenSignalingSecret0123456789ab"
	testDomain    = "talk.example.com"
	testZone      = "example.com"
	existingKeyID = 4711
)

// testConfig is a valid configuration: one public key, SSH from two
// networks, a DNS zone and a 10 GiB volume.
func testConfig(t testing.TB) config.Config {
	t.Helper()
	c := config.Default()
	c.Settings.Domain = testDomain
	c.Settings.NextcloudURLs = []string{"https://cloud.example.com"}
	c.Settings.ACMEEmail = "admin@example.com"
	c.Settings.SSHAuthorizedKeys = []string{testKey}
	c.Settings.SSHAllowedCIDRs = []string{"203.0.113.0/24", "2001:db8::/32"}
	c.DNSZone = testZone
	c, err := c.Validated()
	if err != nil {
		t.Fatalf("test config is invalid: %v", err)
	}
	return c
}

// resolved is one stack output after the run.
type resolved struct {
	value  any
	secret bool
}

// deployment is the result of one mocked run.
type deployment struct {
	mocks   *infratest.Mocks
	outputs map[string]resolved // the component's outputs
	stack   []string            // the keys of the stack outputs (Outputs)
	err     error               // NewTalkBackend's error
}

// deploy runs NewTalkBackend under mocks and resolves every output.
func deploy(t testing.TB, cfg config.Config, m *infratest.Mocks) deployment {
	t.Helper()
	d := deployment{mocks: m, outputs: map[string]resolved{}}
	// Tests change settings after testConfig: derive the plan from them as
	// config.Load does (the Hetzner-only checks are left to the catalogue
	// tests, which give values the offline check would refuse).
	plan, err := cloudconfig.NewPlan(cfg.Settings)
	if err != nil {
		d.err = err
		return d
	}
	cfg.Plan = plan
	err = pulumi.RunErr(func(ctx *pulumi.Context) error {
		b, err := NewTalkBackend(ctx, "nctalk", &TalkBackendArgs{Config: cfg})
		if err != nil {
			d.err = err
			return nil
		}
		d.stack = slices.Sorted(maps.Keys(b.Outputs()))
		for k, v := range b.ComponentOutputs() {
			o := v.(pulumi.Output)
			ch := make(chan any, 1)
			pulumi.All(o).ApplyT(func(xs []any) (any, error) { ch <- xs[0]; return nil, nil })
			val := <-ch
			d.outputs[k] = resolved{value: val, secret: pulumi.IsSecret(o)}
		}
		return nil
	}, pulumi.WithMocks("nctalk", "dev", m))
	if err != nil {
		t.Fatalf("program run: %v", err)
	}
	return d
}

// mustDeploy deploys and fails the test on an error.
func mustDeploy(t testing.TB, cfg config.Config, m *infratest.Mocks) deployment {
	t.Helper()
	d := deploy(t, cfg, m)
	if d.err != nil {
		t.Fatalf("NewTalkBackend: %v", d.err)
	}
	return d
}

// one returns the single registration of a type.
func one(t testing.TB, m *infratest.Mocks, typ string) infratest.Registration {
	t.Helper()
	regs := m.OfType(typ)
	if len(regs) != 1 {
		t.Fatalf("%d registrations of %s; want 1", len(regs), typ)
	}
	return regs[0]
}

// named is the registration of the resource with this name (e.g.
// nctalk-server, the signaling server's, beside a media server's
// nctalk-media-1-server).
func named(t testing.TB, m *infratest.Mocks, name string) infratest.Registration {
	t.Helper()
	for _, r := range m.Resources() {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no resource %s", name)
	return infratest.Registration{}
}

// plain unwraps a secret property value.
func plain(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func str(v resource.PropertyValue) string {
	v = plain(v)
	if !v.IsString() {
		return fmt.Sprintf("<%v>", v)
	}
	return v.StringValue()
}

func num(v resource.PropertyValue) int {
	v = plain(v)
	if !v.IsNumber() {
		return -1
	}
	return int(v.NumberValue())
}

func atoi(t testing.TB, id string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(id, &n); err != nil {
		t.Fatalf("ID %q is not numeric", id)
	}
	return n
}

// userData is the server's user data unpacked as cloud-init unpacks it
// (base64, then gzip): the rendered document.
func userData(t testing.TB, m *infratest.Mocks) string {
	t.Helper()
	wire := str(one(t, m, infratest.TypeServer).Inputs["userData"])
	packed, err := base64.StdEncoding.DecodeString(wire)
	if err != nil {
		t.Fatalf("user data is not base64: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(packed))
	if err != nil {
		t.Fatalf("user data is not gzip: %v", err)
	}
	doc, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("user data: %v", err)
	}
	return string(doc)
}

func TestFirewallIsThePortTable(t *testing.T) {
	d := mustDeploy(t, testConfig(t), infratest.New(defaultSeed))
	fw := one(t, d.mocks, infratest.TypeFirewall)
	var got []string
	for _, r := range fw.Inputs["rules"].ArrayValue() {
		o := r.ObjectValue()
		var src []string
		for _, s := range o["sourceIps"].ArrayValue() {
			src = append(src, s.StringValue())
		}
		port := "-"
		if p, ok := o["port"]; ok && p.IsString() {
			port = p.StringValue()
		}
		got = append(got, fmt.Sprintf("%s %s %s %s from %s", str(o["description"]), str(o["direction"]), str(o["protocol"]), port, strings.Join(src, ",")))
	}
	// In the order the provider keeps the rules in the state (recorded by
	// the engine run: tests/engine/testdata/create.export.json), sources
	// sorted, so a one-rule change previews as one rule.
	want := []string{
		"acme-http in tcp 80 from 0.0.0.0/0,::/0",
		"https in tcp 443 from 0.0.0.0/0,::/0",
		"icmp in icmp - from 0.0.0.0/0,::/0",
		"janus-rtp in udp 20000-20100 from 0.0.0.0/0,::/0",
		"ssh in tcp 22 from 2001:db8::/32,203.0.113.0/24",
		"turn in tcp 3478 from 0.0.0.0/0,::/0",
		"turn in udp 3478 from 0.0.0.0/0,::/0",
		"turn-relay in udp 49160-49200 from 0.0.0.0/0,::/0",
		"turns in tcp 5349 from 0.0.0.0/0,::/0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("firewall rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFirewallFollowsConfiguredPorts(t *testing.T) {
	cfg := testConfig(t)
	cfg.Settings.SSHPort = 2222
	cfg.Settings.SSHAllowedCIDRs = nil
	cfg.Settings.JanusRTPPorts = schema.PortRange{First: 30000, Last: 30999}
	d := mustDeploy(t, cfg, infratest.New(defaultSeed))
	rules := map[string]resource.PropertyMap{}
	for _, r := range one(t, d.mocks, infratest.TypeFirewall).Inputs["rules"].ArrayValue() {
		rules[str(r.ObjectValue()["description"])] = r.ObjectValue()
	}
	ssh := rules["ssh"]
	if str(ssh["port"]) != "2222" || len(ssh["sourceIps"].ArrayValue()) != 2 || str(ssh["sourceIps"].ArrayValue()[1]) != "::/0" {
		t.Errorf("ssh rule = %v; want port 2222 from 0.0.0.0/0 and ::/0", ssh)
	}
	if p := str(rules["janus-rtp"]["port"]); p != "30000-30999" {
		t.Errorf("janus rule port = %s; want 30000-30999", p)
	}
	if got := d.outputs[schema.OutputJanusRTPPorts].value; got != "30000-30999" {
		t.Errorf("janusRtpPorts output = %v; want 30000-30999", got)
	}
	if got := d.outputs[schema.OutputSSHCommand].value; got != "ssh -p 2222 root@"+infratest.IPv4Address {
		t.Errorf("sshCommand = %v", got)
	}
}

func TestServerHoldsIPsFirewallAndKeys(t *testing.T) {
	m := infratest.New(defaultSeed)
	m.SSHKeys["team=ops"] = []infratest.ExistingSSHKey{{ID: existingKeyID, Name: "ops"}}
	cfg := testConfig(t)
	cfg.SSHKeySelector = "team=ops"
	d := mustDeploy(t, cfg, m)

	srv := one(t, m, infratest.TypeServer)
	if !srv.DeleteBeforeReplace {
		t.Error("server is not delete-before-replace; a replacement would ask for primary IPs the old server holds")
	}
	fw := one(t, m, infratest.TypeFirewall)
	if ids := srv.Inputs["firewallIds"].ArrayValue(); len(ids) != 1 || num(ids[0]) != atoi(t, fw.ID) {
		t.Errorf("server firewallIds = %v; want [%s]", ids, fw.ID)
	}
	ips := map[string]int{}
	for _, ip := range m.OfType(infratest.TypePrimaryIP) {
		ips[str(ip.Inputs["type"])] = atoi(t, ip.ID)
	}
	nets := srv.Inputs["publicNets"].ArrayValue()
	if len(nets) != 1 {
		t.Fatalf("server publicNets = %v; want one entry", nets)
	}
	pn := nets[0].ObjectValue()
	if num(pn["ipv4"]) != ips["ipv4"] || num(pn["ipv6"]) != ips["ipv6"] || !plain(pn["ipv4Enabled"]).BoolValue() || !plain(pn["ipv6Enabled"]).BoolValue() {
		t.Errorf("server publicNets = %v; want primary IPs %v, both enabled", pn, ips)
	}
	// Hetzner hands keys to a server only when it is created: the box takes
	// them from the rendered authorized keys, which in-place changes rewrite.
	if k, ok := srv.Inputs["sshKeys"]; ok && !k.IsNull() && len(k.ArrayValue()) > 0 {
		t.Errorf("server sshKeys = %v; want none", k)
	}
	uploaded := one(t, m, infratest.TypeSSHKey)
	deployKey := ""
	for _, k := range m.OfType(infratest.TypePrivateKey) {
		if k.Name == "nctalk-deploy-key" {
			deployKey = strings.TrimSpace(str(k.State["publicKeyOpenssh"]))
		}
	}
	wantKeys := []string{
		`restrict,command="` + strings.ReplaceAll(cloudconfig.ApplyCommand, `"`, `\"`) + `" ` + deployKey + " nctalk-deploy",
		testKey,
		m.SSHKeys["team=ops"][0].PublicKey(),
	}
	if got := authorizedKeys(t, m); deployKey == "" || !slices.Equal(got, wantKeys) {
		t.Errorf("authorized keys on the box = %q; want %q", got, wantKeys)
	}
	if str(uploaded.Inputs["publicKey"]) != testKey {
		t.Errorf("uploaded key = %q", str(uploaded.Inputs["publicKey"]))
	}
	if !uploaded.DeleteBeforeReplace {
		t.Error("SSH key is not delete-before-replace; a changed key would be created under the name the old one still holds (uniqueness_error)")
	}
	for k, want := range map[resource.PropertyKey]string{"name": testDomain, "serverType": "cx23", "image": "debian-13", "location": "fsn1"} {
		if got := str(srv.Inputs[k]); got != want {
			t.Errorf("server %s = %q; want %q", k, got, want)
		}
	}
	if l := srv.Inputs["labels"].ObjectValue(); str(l["app"]) != "nctalk" || str(l["stack"]) != "dev" {
		t.Errorf("server labels = %v; want app=nctalk stack=dev", l)
	}
	if !srv.Inputs["userData"].IsSecret() {
		t.Error("server userData is not secret")
	}
	if got := d.outputs[schema.OutputServerName].value; got != testDomain {
		t.Errorf("serverName = %v; want %s", got, testDomain)
	}
}

func TestPrimaryIPsAreKept(t *testing.T) {
	m := infratest.New(defaultSeed)
	mustDeploy(t, testConfig(t), m)
	ips := m.OfType(infratest.TypePrimaryIP)
	if len(ips) != 2 {
		t.Fatalf("%d primary IPs; want 2", len(ips))
	}
	for _, ip := range ips {
		in := ip.Inputs
		if !ip.Protect {
			t.Errorf("%s is not protected", ip.Name)
		}
		if plain(in["autoDelete"]).BoolValue() || !in["autoDelete"].IsBool() {
			t.Errorf("%s autoDelete = %v; want false", ip.Name, in["autoDelete"])
		}
		if !in["deleteProtection"].IsBool() || !in["deleteProtection"].BoolValue() {
			t.Errorf("%s deleteProtection = %v; want true", ip.Name, in["deleteProtection"])
		}
		if str(in["location"]) != "fsn1" {
			t.Errorf("%s location = %v; want fsn1", ip.Name, in["location"])
		}
		for _, k := range []resource.PropertyKey{"assigneeType", "assigneeId", "datacenter"} {
			if _, set := in[k]; set {
				t.Errorf("%s sets %s; the server's publicNets assigns the IP", ip.Name, k)
			}
		}
	}
	if got := []string{str(ips[0].Inputs["type"]), str(ips[1].Inputs["type"])}; !slices.Equal(got, []string{"ipv4", "ipv6"}) {
		t.Errorf("primary IP types = %v", got)
	}
}

func TestReverseDNSOnPrimaryIPs(t *testing.T) {
	m := infratest.New(defaultSeed)
	d := mustDeploy(t, testConfig(t), m)
	ipIDs := map[string]int{}
	for _, ip := range m.OfType(infratest.TypePrimaryIP) {
		ipIDs[str(ip.Inputs["type"])] = atoi(t, ip.ID)
	}
	want := map[string]struct {
		addr string
		ipID int
	}{
		"nctalk-rdns-ipv4": {infratest.IPv4Address, ipIDs["ipv4"]},
		"nctalk-rdns-ipv6": {"2001:db8:10:20::1", ipIDs["ipv6"]},
	}
	rdns := m.OfType(infratest.TypeRdns)
	if len(rdns) != 2 {
		t.Fatalf("%d rdns entries; want 2", len(rdns))
	}
	for _, r := range rdns {
		w := want[r.Name]
		if got := str(r.Inputs["ipAddress"]); got != w.addr {
			t.Errorf("%s ipAddress = %s; want %s", r.Name, got, w.addr)
		}
		if got := num(r.Inputs["primaryIpId"]); got != w.ipID {
			t.Errorf("%s primaryIpId = %d; want %d (rDNS belongs to the primary IP, not the server)", r.Name, got, w.ipID)
		}
		if _, onServer := r.Inputs["serverId"]; onServer {
			t.Errorf("%s is attached to the server", r.Name)
		}
		if got := str(r.Inputs["dnsPtr"]); got != testDomain {
			t.Errorf("%s dnsPtr = %s", r.Name, got)
		}
	}
	if v6 := d.outputs[schema.OutputIPv6].value.(string); !strings.HasSuffix(v6, "::1") {
		t.Errorf("ipv6 output = %s; want the ::1 host address", v6)
	}
}

func TestDNSRecordsOnlyWithZone(t *testing.T) {
	tests := []struct {
		name, domain, zone string
		turnOff            bool
		wantName, wantTURN string // RRset names of the domain and of the TURN name
	}{
		{"subdomain", testDomain, testZone, false, "talk", "turn.talk"},
		{"apex", "example.org", "example.org", false, "@", "turn"},
		{"deeper", "talk.eu.example.com", testZone, false, "talk.eu", "turn.talk.eu"},
		{"turnOn443 false", testDomain, testZone, true, "talk", ""},
		{"no zone", testDomain, "", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Settings.Domain, cfg.DNSZone, cfg.Settings.TURNOn443 = tt.domain, tt.zone, !tt.turnOff
			m := infratest.New(defaultSeed)
			mustDeploy(t, cfg, m)
			rrsets := m.OfType(infratest.TypeZoneRrset)
			srv := one(t, m, infratest.TypeServer)
			if tt.zone == "" {
				if len(rrsets) != 0 {
					t.Errorf("%d DNS records without dnsZone; want none", len(rrsets))
				}
				return
			}
			got := map[string]string{}
			for _, rr := range rrsets {
				in := rr.Inputs
				recs := in["records"].ArrayValue()
				if len(recs) != 1 {
					t.Fatalf("%s has %d records; want 1", rr.Name, len(recs))
				}
				if str(in["zone"]) != tt.zone {
					t.Errorf("%s in zone %s; want %s", rr.Name, str(in["zone"]), tt.zone)
				}
				got[str(in["name"])+" "+str(in["type"])] = str(recs[0].ObjectValue()["value"])
				urn := componentURN[:strings.LastIndex(componentURN, "::")] + "$" + infratest.TypeZoneRrset + "::" + rr.Name
				if !slices.Contains(srv.Dependencies, urn) {
					t.Errorf("server does not depend on %s (deps %v); DNS must exist before the VM asks for a certificate", rr.Name, srv.Dependencies)
				}
			}
			want := map[string]string{tt.wantName + " A": infratest.IPv4Address, tt.wantName + " AAAA": "2001:db8:10:20::1"}
			if tt.wantTURN != "" {
				want[tt.wantTURN+" A"], want[tt.wantTURN+" AAAA"] = infratest.IPv4Address, "2001:db8:10:20::1"
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("DNS records = %v; want %v", got, want)
			}
		})
	}
}

func TestSecretsAreSecretAndRedacted(t *testing.T) {
	m := infratest.New(defaultSeed)
	d := mustDeploy(t, testConfig(t), m)

	passwords := m.OfType(infratest.TypeRandomPassword)
	if len(passwords) != 6 {
		t.Fatalf("%d RandomPasswords; want 6", len(passwords))
	}
	var secrets []string
	for _, p := range passwords {
		if !p.State["result"].IsSecret() {
			t.Fatalf("mock returned a plain result for %s; the secrecy checks below would not be real", p.Name)
		}
		secrets = append(secrets, str(p.State["result"]))
	}
	if len(slices.Compact(slices.Sorted(slices.Values(secrets)))) != len(secrets) {
		t.Fatalf("the mock's secrets are not distinct: a leak could not be traced to its secret")
	}
	for _, k := range []string{schema.OutputSignalingSecret, schema.OutputTURNSecret} {
		o := d.outputs[k]
		if !o.secret {
			t.Errorf("output %s is not secret", k)
		}
		if !slices.Contains(secrets, o.value.(string)) {
			t.Errorf("output %s is not one of the generated secrets", k)
		}
	}
	for k, o := range d.outputs {
		if o.secret && k != schema.OutputSignalingSecret && k != schema.OutputTURNSecret {
			t.Errorf("output %s is secret; only the two shared secrets should be", k)
		}
	}
	ud := userData(t, m)
	for _, k := range []string{schema.OutputSignalingSecret, schema.OutputTURNSecret} {
		if !strings.Contains(ud, d.outputs[k].value.(string)) {
			t.Errorf("user data lacks the %s the server needs", k)
		}
	}
	redacted, _ := d.outputs[outputs.KeyCloudConfigRedacted].value.(string)
	if !strings.HasPrefix(redacted, "#cloud-config") {
		t.Fatalf("cloudConfigRedacted = %.80q…; want a cloud-config", redacted)
	}
	for i, s := range secrets {
		if strings.Contains(redacted, s) {
			t.Errorf("cloudConfigRedacted contains the secret of %s", passwords[i].Name)
		}
	}
	if !strings.Contains(redacted, fmt.Sprintf(cloudconfig.RedactionMarker, "signalingSecret")) {
		t.Error("cloudConfigRedacted has no marker where the signaling secret was")
	}
	// The host key is the one secret that is a block of lines: the user
	// data carries it as a literal block, the redacted copy its marker.
	hostKey := ""
	for _, k := range m.OfType(infratest.TypePrivateKey) {
		private := str(k.State["privateKeyOpenssh"])
		for _, line := range strings.Split(strings.TrimSpace(private), "\n")[1:] { // the lines after the BEGIN line
			if strings.Contains(redacted, line) {
				t.Errorf("cloudConfigRedacted contains a line of the private key of %s", k.Name)
			}
		}
		body := strings.Split(private, "\n")[2] // key material (the line after BEGIN is the same for every ed25519 key)
		if strings.Contains(ud, body) != (k.Name == "nctalk-ssh-host-key") {
			t.Errorf("user data holds the private key of %s: %v; want only the host key's", k.Name, strings.Contains(ud, body))
		}
		if k.Name == "nctalk-ssh-host-key" {
			hostKey = private
		}
	}
	block := "ed25519_private: |\n    " + strings.ReplaceAll(strings.TrimSuffix(hostKey, "\n"), "\n", "\n    ") + "\n"
	if hostKey == "" || !strings.Contains(ud, block) {
		t.Fatalf("the user data does not carry the host key as a literal block")
	}
	want := strings.Replace(ud, block, "ed25519_private: \"<redacted:sshHostKey>\"\n", 1)
	if want = string(cloudconfig.Redact([]byte(want), secretsOf(t, m, d))); redacted != want {
		t.Error("cloudConfigRedacted is not the redacted user data")
	}
}

// authorizedKeys returns the key lines of the authorized keys file the
// user data writes (cloudconfig.AuthorizedKeys), comments left out.
func authorizedKeys(t testing.TB, m *infratest.Mocks) []string {
	t.Helper()
	var doc struct {
		WriteFiles []struct {
			Path    string `yaml:"path"`
			Content string `yaml:"content"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal([]byte(userData(t, m)), &doc); err != nil {
		t.Fatalf("user data: %v", err)
	}
	for _, f := range doc.WriteFiles {
		if f.Path != cloudconfig.AuthorizedKeys {
			continue
		}
		var keys []string
		for _, l := range strings.Split(f.Content, "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				keys = append(keys, l)
			}
		}
		return keys
	}
	t.Fatalf("the user data writes no %s", cloudconfig.AuthorizedKeys)
	return nil
}

// secretsOf collects the secrets of a run by name.
func secretsOf(t testing.TB, m *infratest.Mocks, d deployment) cloudconfig.Secrets {
	byName := map[string]string{}
	for _, p := range m.OfType(infratest.TypeRandomPassword) {
		byName[strings.TrimPrefix(p.Name, "nctalk-")] = str(p.State["result"])
	}
	return cloudconfig.Secrets{
		SignalingSecret:      d.outputs[schema.OutputSignalingSecret].value.(string),
		TURNSecret:           d.outputs[schema.OutputTURNSecret].value.(string),
		SessionHashKey:       byName["session-hash-key"],
		SessionBlockKey:      byName["session-block-key"],
		InternalClientSecret: byName["internal-client-secret"],
		JanusAPIKey:          byName["janus-api-key"],
	}
}

func TestSecretsFromConfigReplaceGeneratedOnes(t *testing.T) {
	cfg := testConfig(t)
	cfg.SignalingSecret = config.Secret(givenSignal)
	m := infratest.New(defaultSeed)
	d := mustDeploy(t, cfg, m)
	for _, p := range m.OfType(infratest.TypeRandomPassword) {
		if p.Name == "nctalk-signaling-secret" {
			t.Error("a signaling secret was generated although the config gives one")
		}
	}
	if len(m.OfType(infratest.TypeRandomPassword)) != 5 {
		t.Errorf("%d RandomPasswords; want 5", len(m.OfType(infratest.TypeRandomPassword)))
	}
	o := d.outputs[schema.OutputSignalingSecret]
	if o.value != givenSignal || !o.secret {
		t.Errorf("signalingSecret output secret=%v, equal to config=%v; want the config's, secret", o.secret, o.value == givenSignal)
	}
	if strings.Contains(d.outputs[outputs.KeyCloudConfigRedacted].value.(string), givenSignal) {
		t.Error("cloudConfigRedacted contains the configured signaling secret")
	}
}

func TestUserDataChangesOnlyWithInputs(t *testing.T) {
	cfg := testConfig(t)
	first := userData(t, mustDeploy(t, cfg, infratest.New(defaultSeed)).mocks)
	again := userData(t, mustDeploy(t, cfg, infratest.New(defaultSeed)).mocks)
	t.Logf("user data: %d bytes of Hetzner's %d", len(first), cloudconfig.MaxUserDataBytes)
	if first != again {
		t.Error("two runs with the same inputs rendered different user data; every update would replace the VM")
	}
	otherSecrets := userData(t, mustDeploy(t, cfg, infratest.New("seed-2")).mocks)
	if otherSecrets == first {
		t.Error("other generated secrets left the user data unchanged")
	}
	cfg.TURNSecret = config.Secret("givenTurnSecret0123456789abcdef")
	givenTURN := userData(t, mustDeploy(t, cfg, infratest.New(defaultSeed)).mocks)
	if givenTURN == first || !strings.Contains(givenTURN, cfg.TURNSecret.Reveal()) {
		t.Error("a configured TURN secret did not change the user data")
	}
}

func TestVolume(t *testing.T) {
	t.Run("with volume", func(t *testing.T) {
		m := infratest.New(defaultSeed)
		d := mustDeploy(t, testConfig(t), m)
		vol := one(t, m, infratest.TypeVolume)
		if num(vol.Inputs["size"]) != 10 || str(vol.Inputs["location"]) != "fsn1" {
			t.Errorf("volume inputs = %v; want size 10 in fsn1", vol.Inputs)
		}
		if f, set := vol.Inputs["format"]; set {
			t.Errorf("volume format = %v; want none: the cloud-config formats a blank volume itself", f)
		}
		att := one(t, m, infratest.TypeVolumeAttachment)
		srv := one(t, m, infratest.TypeServer)
		if num(att.Inputs["volumeId"]) != atoi(t, vol.ID) || num(att.Inputs["serverId"]) != atoi(t, srv.ID) {
			t.Errorf("attachment = %v; want volume %s on server %s", att.Inputs, vol.ID, srv.ID)
		}
		device := "/dev/disk/by-id/scsi-0HC_Volume_" + vol.ID
		if !strings.Contains(userData(t, m), device) || !strings.Contains(d.outputs[outputs.KeyCloudConfigRedacted].value.(string), device) {
			t.Errorf("the cloud-config does not use the state device %s", device)
		}
	})
	t.Run("without volume", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.VolumeSize = 0
		m := infratest.New(defaultSeed)
		mustDeploy(t, cfg, m)
		if n := len(m.OfType(infratest.TypeVolume)) + len(m.OfType(infratest.TypeVolumeAttachment)); n != 0 {
			t.Errorf("%d volume resources with volumeSize 0; want none", n)
		}
		if strings.Contains(userData(t, m), "HC_Volume") {
			t.Error("user data names a volume although there is none")
		}
	})
}

func TestChildrenAreParented(t *testing.T) {
	m := infratest.New(defaultSeed)
	mustDeploy(t, testConfig(t), m)
	comp := one(t, m, infratest.TypeTalkBackend)
	if comp.Custom {
		t.Error("TalkBackend is registered as a custom resource")
	}
	res := m.Resources()
	if len(res) < 14 {
		t.Errorf("%d resources; want at least 14", len(res))
	}
	for _, r := range res {
		if r.Parent != componentURN {
			t.Errorf("%s %s has parent %q; want the TalkBackend", r.Type, r.Name, r.Parent)
		}
	}
}

func TestOutputsParseForCompanionCommands(t *testing.T) {
	d := mustDeploy(t, testConfig(t), infratest.New(defaultSeed))
	plainOut := map[string]any{}
	for _, k := range d.stack {
		plainOut[k] = d.outputs[k].value
	}
	got := slices.Sorted(maps.Keys(plainOut))
	if want := slices.Sorted(slices.Values(schema.OutputNames())); !slices.Equal(got, want) {
		t.Errorf("outputs %v; want the keys of infra/outputs %v", got, want)
	}
	raw, err := json.Marshal(plainOut)
	if err != nil {
		t.Fatal(err)
	}
	o, err := outputs.Parse(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("outputs.Parse: %v", err)
	}
	if o.SignalingURL != "https://talk.example.com/standalone-signaling" || o.Domain != testDomain {
		t.Errorf("signalingUrl %q domain %q", o.SignalingURL, o.Domain)
	}
	wantTURN := []talk.TURNServer{
		{Schemes: "turn", Server: "talk.example.com:3478", Protocols: "udp,tcp"},
		{Schemes: "turns", Server: "talk.example.com:5349", Protocols: "tcp"},
		{Schemes: "turns", Server: "turn.talk.example.com:443", Protocols: "tcp"},
	}
	if !slices.Equal(o.TURNServers, wantTURN) {
		t.Errorf("turnServers = %v; want %v", o.TURNServers, wantTURN)
	}
	if !slices.Equal(o.STUNServers, []string{"talk.example.com:3478"}) {
		t.Errorf("stunServers = %v", o.STUNServers)
	}
	if o.IPv4 != infratest.IPv4Address || o.IPv6 != "2001:db8:10:20::1" || o.SSHCommand != "ssh root@"+infratest.IPv4Address {
		t.Errorf("ipv4 %q ipv6 %q sshCommand %q", o.IPv4, o.IPv6, o.SSHCommand)
	}
	if o.TURNRelayPorts != "49160-49200" || o.JanusRTPPorts != "20000-20100" {
		t.Errorf("port outputs %q %q", o.TURNRelayPorts, o.JanusRTPPorts)
	}
}

func TestSSHKeySelector(t *testing.T) {
	t.Run("selector only, in ID order whatever the API's order", func(t *testing.T) {
		m := infratest.New(defaultSeed)
		m.SSHKeys["team=ops"] = []infratest.ExistingSSHKey{{ID: 4712, Name: "ops2"}, {ID: existingKeyID, Name: "ops"}}
		cfg := testConfig(t)
		cfg.Settings.SSHAuthorizedKeys, cfg.SSHKeySelector = nil, "team=ops"
		mustDeploy(t, cfg, m)
		keys := authorizedKeys(t, m)[1:] // after the deploy key
		want := []string{m.SSHKeys["team=ops"][1].PublicKey(), m.SSHKeys["team=ops"][0].PublicKey()}
		if !slices.Equal(keys, want) || len(m.OfType(infratest.TypeSSHKey)) != 0 {
			t.Errorf("authorized keys %q, %d uploaded; want %q (IDs 4711, 4712), none uploaded", keys, len(m.OfType(infratest.TypeSSHKey)), want)
		}
	})
	t.Run("selector matches nothing", func(t *testing.T) {
		m := infratest.New(defaultSeed)
		cfg := testConfig(t)
		cfg.Settings.SSHAuthorizedKeys, cfg.SSHKeySelector = nil, "team=nobody"
		d := deploy(t, cfg, m)
		if d.err == nil || !strings.Contains(d.err.Error(), "nctalk:sshKeySelector") {
			t.Errorf("error = %v; want one naming nctalk:sshKeySelector", d.err)
		}
		if regs := m.Registrations(); len(regs) != 0 {
			t.Errorf("%d resources registered before the error; want none", len(regs))
		}
	})
}

// TestUploadedKeysNamedByContent: reordering sshPublicKeys or removing one
// entry keeps every other key's resource and Hetzner name, so no key is
// recreated under a name that still exists in the project.
func TestUploadedKeysNamedByContent(t *testing.T) {
	const otherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfUHbVCx8mUKP6yi/nE7NuLzfSw5UXYmulhUXgGbwSP ops@example"
	names := func(keys ...string) map[string]string {
		t.Helper()
		cfg := testConfig(t)
		cfg.Settings.SSHAuthorizedKeys = keys
		m := infratest.New(defaultSeed)
		mustDeploy(t, cfg, m)
		byKey := map[string]string{}
		for _, r := range m.OfType(infratest.TypeSSHKey) {
			byKey[str(r.Inputs["publicKey"])] = r.Name + " " + str(r.Inputs["name"])
		}
		return byKey
	}
	both := names(testKey, otherKey)
	if len(both) != 2 || both[testKey] == both[otherKey] {
		t.Fatalf("uploaded keys = %v; want two distinctly named keys", both)
	}
	if swapped := names(otherKey, testKey); !maps.Equal(swapped, both) {
		t.Errorf("after reordering: %v; want the same names %v", swapped, both)
	}
	if rest := names(otherKey); rest[otherKey] != both[otherKey] {
		t.Errorf("after removing the first key: %q; want %q", rest[otherKey], both[otherKey])
	}
}

func TestIPv6HostAddress(t *testing.T) {
	tests := []struct{ in, want string }{
		{"2001:db8:10:20::", "2001:db8:10:20::1"},
		{"2001:db8:10:20::/64", "2001:db8:10:20::1"},
		{"2a01:4f8:c17:1234::", "2a01:4f8:c17:1234::1"},
		{"2001:db8:10:20::5", "2001:db8:10:20::1"},
		{"203.0.113.1", ""},
		{"::ffff:203.0.113.1", ""},
		{"garbage", ""},
	}
	for _, tt := range tests {
		got, err := ipv6HostAddress(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ipv6HostAddress(%q) = %q; want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ipv6HostAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestOversizedCloudConfigFailsBeforeRegistering(t *testing.T) {
	cfg := testConfig(t)
	// Within the grammar of nextcloudUrls (64 entries of 2 KiB) but over
	// the user data limit: 20 URLs of 2000 bytes whose paths do not
	// compress (the user data is gzip'd).
	rng := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range 20 {
		u := []byte(fmt.Sprintf("https://cloud%03d.example.com/", i))
		for len(u) < 2000 {
			u = append(u, alnum[rng.IntN(len(alnum))])
		}
		cfg.Settings.NextcloudURLs = append(cfg.Settings.NextcloudURLs, string(u))
	}
	m := infratest.New(defaultSeed)
	d := deploy(t, cfg, m)
	if d.err == nil || !strings.HasPrefix(d.err.Error(), "nctalk:nextcloudUrls: the rendered cloud-config") || !strings.Contains(d.err.Error(), "user data limit") {
		t.Errorf("error = %v; want the user data limit, naming nctalk:nextcloudUrls", d.err)
	}
	if regs := m.Registrations(); len(regs) != 0 {
		t.Errorf("%d resources registered; want none", len(regs))
	}
}

// TestKeepOnTeardown checks what `nctalk teardown` (pulumi destroy
// --exclude-protected) keeps: with keepOnTeardown (the default) exactly the
// primary IPs and the state volume are protected, by Pulumi and by Hetzner;
// with false nothing is, so the teardown deletes everything.
func TestKeepOnTeardown(t *testing.T) {
	for _, keep := range []bool{true, false} {
		t.Run(fmt.Sprint("keep=", keep), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.KeepOnTeardown = keep
			m := infratest.New(defaultSeed)
			mustDeploy(t, cfg, m)
			kept := map[string]bool{}
			for _, r := range m.Resources() {
				if r.Protect {
					kept[r.Type+"::"+r.Name] = true
				}
				if dp, set := r.Inputs["deleteProtection"]; set && dp.IsBool() && dp.BoolValue() != keep {
					t.Errorf("%s deleteProtection = %v; want %v", r.Name, dp.BoolValue(), keep)
				}
			}
			want := map[string]bool{}
			if keep {
				want = map[string]bool{
					infratest.TypePrimaryIP + "::nctalk-ipv4": true,
					infratest.TypePrimaryIP + "::nctalk-ipv6": true,
					infratest.TypeVolume + "::nctalk-state":   true,
				}
			}
			if !maps.Equal(kept, want) {
				t.Errorf("protected resources = %v; want %v", slices.Sorted(maps.Keys(kept)), slices.Sorted(maps.Keys(want)))
			}
			for _, typ := range []string{infratest.TypePrimaryIP, infratest.TypeVolume} {
				for _, r := range m.OfType(typ) {
					if dp := r.Inputs["deleteProtection"]; !dp.IsBool() {
						t.Errorf("%s has no deleteProtection input", r.Name)
					}
				}
			}
		})
	}
}

// TestStackOutputsFitOnAScreen: `pulumi up` prints every stack output; they
// must fit on a screen (40 lines as Pulumi prints them, one line per scalar
// plus the lines of list values). The redacted document is a component
// output instead, and the digest in the stack outputs follows it.
func TestStackOutputsFitOnAScreen(t *testing.T) {
	d := mustDeploy(t, testConfig(t), infratest.New(defaultSeed))
	lines := 0
	for _, k := range d.stack {
		v := d.outputs[k].value
		if s, ok := v.(string); ok {
			lines += 1 + strings.Count(s, "\n")
			continue
		}
		raw, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		lines += 1 + bytes.Count(raw, []byte("\n"))
	}
	t.Logf("stack outputs: %d keys, %d lines", len(d.stack), lines)
	if lines > 40 {
		t.Errorf("stack outputs take %d lines; want at most 40 (keys %v)", lines, d.stack)
	}
	if slices.Contains(d.stack, outputs.KeyCloudConfigRedacted) {
		t.Errorf("%s is a stack output; want it on the component only", outputs.KeyCloudConfigRedacted)
	}
	doc, _ := d.outputs[outputs.KeyCloudConfigRedacted].value.(string)
	digest, _ := d.outputs[schema.OutputCloudConfigDigest].value.(string)
	if strings.Count(doc, "\n") < 100 || !strings.HasPrefix(digest, fmt.Sprintf("sha256:%x ", sha256.Sum256([]byte(doc)))) {
		t.Errorf("digest %q does not match the %d-line component document", digest, strings.Count(doc, "\n"))
	}
	cfg := testConfig(t)
	cfg.Settings.NextcloudURLs = append(cfg.Settings.NextcloudURLs, "https://other.example.com")
	d2 := mustDeploy(t, cfg, infratest.New(defaultSeed))
	if d2.outputs[schema.OutputCloudConfigDigest].value == digest {
		t.Error("the digest did not change with the document")
	}
}
