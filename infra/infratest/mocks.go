// Package infratest is a recording Pulumi mock for tests of the stack: it
// hands out numeric IDs as Hetzner does, returns real (deterministic,
// random-looking) secrets for RandomPassword, answers the getSshKeys invoke,
// and records every registration with its resource options so tests assert
// on what was registered rather than on what the code meant.
package infratest

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/nctalk/nctalk/cloudconfig"
)

// Resource type tokens the stack registers.
const (
	TypeTalkBackend      = "nctalk:index:TalkBackend"
	TypeRandomPassword   = "random:index/randomPassword:RandomPassword"
	TypePrimaryIP        = "hcloud:index/primaryIp:PrimaryIp"
	TypeRdns             = "hcloud:index/rdns:Rdns"
	TypeFirewall         = "hcloud:index/firewall:Firewall"
	TypeSSHKey           = "hcloud:index/sshKey:SshKey"
	TypeVolume           = "hcloud:index/volume:Volume"
	TypeVolumeAttachment = "hcloud:index/volumeAttachment:VolumeAttachment"
	TypeZoneRrset        = "hcloud:index/zoneRrset:ZoneRrset"
	TypeServer           = "hcloud:index/server:Server"
	TypePrivateKey       = "tls:index/privateKey:PrivateKey"
	TypeCommand          = "command:remote:Command"
	TypeStash            = "pulumi:index:Stash"
	// tokenGetSSHKeys is the invoke that looks up SSH keys by label selector.
	tokenGetSSHKeys = "hcloud:index/getSshKeys:getSshKeys"
	// The catalogue look-ups the stack makes at preview time.
	TokenGetLocations   = "hcloud:index/getLocations:getLocations"
	TokenGetServerTypes = "hcloud:index/getServerTypes:getServerTypes"
	tokenGetImage       = "hcloud:index/getImage:getImage"
	TokenGetImages      = "hcloud:index/getImages:getImages"
	TokenGetZone        = "hcloud:index/getZone:getZone"
	TokenGetZones       = "hcloud:index/getZones:getZones"
	TokenGetServers     = "hcloud:index/getServers:getServers"
)

// The addresses the mock gives primary IPs (documentation ranges). Hetzner
// reports an IPv6 primary IP as its /64 network address.
const (
	IPv4Address    = "203.0.113.10"
	ipv6Network    = "2001:db8:10:20::"
	ipv6HostSuffix = "::1"
)

// ExistingSSHKey is a key already in the (mocked) Hetzner project.
type ExistingSSHKey struct {
	ID     int
	Name   string
	Labels map[string]string
}

// Registration is one resource registration as the engine saw it.
type Registration struct {
	Type                string
	Name                string
	ID                  string
	Custom              bool
	Inputs              resource.PropertyMap
	State               resource.PropertyMap // the outputs the mock returned
	Parent              string
	Dependencies        []string
	Protect             bool
	DeleteBeforeReplace bool
	// Aliases are the resource's alias specs (pulumi.Aliases), as sent to the engine.
	Aliases []*pulumirpc.Alias
	// ReplacementTrigger is the resource's replacement trigger
	// (pulumi.ReplacementTrigger) as the engine gets it, JSON; "" for none.
	ReplacementTrigger string
}

// Mocks implements pulumi.MockResourceMonitor. The zero value is not
// usable; use New.
type Mocks struct {
	// Seed determines the RandomPassword results: the same seed gives the
	// same secrets (as Pulumi state does across updates), another seed
	// different ones.
	Seed string
	// SSHKeys are the keys getSshKeys returns, by label selector.
	SSHKeys map[string][]ExistingSSHKey
	// Catalogue is what the location, server type and image look-ups
	// answer; New sets defaultCatalogue.
	Catalogue Catalogue
	// Running are the servers getServers finds (the stack's server of an
	// earlier update); none by default.
	Running []RunningServer

	mu      sync.Mutex
	regs    []Registration
	calls   []pulumi.MockCallArgs
	idOwner map[string]string
}

// New returns mocks with the given secret seed.
func New(seed string) *Mocks {
	return &Mocks{Seed: seed, SSHKeys: map[string][]ExistingSSHKey{}, Catalogue: defaultCatalogue(), idOwner: map[string]string{}}
}

// NewResource records the registration and returns a numeric ID and the
// inputs plus the outputs the provider would compute.
func (m *Mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	key := args.TypeToken + "::" + args.Name
	id := numericID(key)
	m.mu.Lock()
	if owner, taken := m.idOwner[id]; taken && owner != key {
		m.mu.Unlock()
		return "", nil, fmt.Errorf("mock ID %s collides for %s and %s; rename a resource in the test", id, owner, key)
	}
	m.idOwner[id] = key
	reg := Registration{Type: args.TypeToken, Name: args.Name, ID: id, Custom: args.Custom, Inputs: args.Inputs}
	if rpc := args.RegisterRPC; rpc != nil {
		reg.Parent = rpc.GetParent()
		reg.Dependencies = slices.Clone(rpc.GetDependencies())
		reg.Protect = rpc.GetProtect()
		reg.DeleteBeforeReplace = rpc.GetDeleteBeforeReplace()
		reg.Aliases = slices.Clone(rpc.GetAliases())
		if v := rpc.GetReplacementTrigger(); v != nil {
			if b, err := v.MarshalJSON(); err == nil {
				reg.ReplacementTrigger = string(b)
			}
		}
	}
	m.mu.Unlock()

	state := args.Inputs.Copy()
	switch args.TypeToken {
	case TypeRandomPassword:
		length := 32
		if l, ok := args.Inputs["length"]; ok && l.IsNumber() {
			length = int(l.NumberValue())
		}
		state["result"] = resource.MakeSecret(resource.NewStringProperty(m.password(args.Name, length)))
	case TypePrimaryIP:
		addr := IPv4Address
		if t := args.Inputs["type"]; t.IsString() && t.StringValue() == "ipv6" {
			addr = ipv6Network
			state["ipNetwork"] = resource.NewStringProperty(ipv6Network + "/64")
		}
		state["ipAddress"] = resource.NewStringProperty(addr)
	case TypeVolume:
		state["linuxDevice"] = resource.NewStringProperty("/dev/disk/by-id/scsi-0HC_Volume_" + id)
	case TypePrivateKey:
		if a := args.Inputs["algorithm"]; a.IsString() && a.StringValue() == "RSA" {
			private, public := rsaKey(m.Seed + "/" + args.Name)
			state["privateKeyPem"] = resource.MakeSecret(resource.NewStringProperty(private))
			state["publicKeyPem"] = resource.NewStringProperty(public)
			break
		}
		private, public, err := m.ed25519Key(args.Name)
		if err != nil {
			return "", nil, err
		}
		// The provider marks the private key secret (additionalSecretOutputs);
		// mocks do not apply that by themselves.
		state["privateKeyOpenssh"] = resource.MakeSecret(resource.NewStringProperty(private))
		state["publicKeyOpenssh"] = resource.NewStringProperty(public)
	case TypeStash:
		// Created: the stash's output is its input (pulumi.Stash).
		state["output"] = args.Inputs["input"]
	}
	reg.State = state
	m.mu.Lock()
	m.regs = append(m.regs, reg)
	m.mu.Unlock()
	return id, state, nil
}

// Call answers getSshKeys from SSHKeys and the catalogue look-ups from
// Catalogue; other invokes fail.
func (m *Mocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	m.mu.Lock()
	m.calls = append(m.calls, args)
	m.mu.Unlock()
	switch args.Token {
	case tokenGetSSHKeys:
	case TokenGetLocations:
		return m.Catalogue.locations(), nil
	case TokenGetServerTypes:
		return m.Catalogue.serverTypes(), nil
	case tokenGetImage:
		return m.Catalogue.image(args.Args)
	case TokenGetImages:
		return m.Catalogue.images(args.Args), nil
	case TokenGetZone:
		return m.Catalogue.zone(args.Args)
	case TokenGetZones:
		return m.Catalogue.zones(), nil
	case TokenGetServers:
		return m.servers(args.Args), nil
	default:
		return nil, fmt.Errorf("mock: unexpected invoke %s", args.Token)
	}
	sel := ""
	if v := args.Args["withSelector"]; v.IsString() {
		sel = v.StringValue()
	}
	var keys []resource.PropertyValue
	for _, k := range m.SSHKeys[sel] {
		labels := resource.PropertyMap{}
		for lk, lv := range k.Labels {
			labels[resource.PropertyKey(lk)] = resource.NewStringProperty(lv)
		}
		keys = append(keys, resource.NewObjectProperty(resource.PropertyMap{
			"id":          resource.NewNumberProperty(float64(k.ID)),
			"name":        resource.NewStringProperty(k.Name),
			"fingerprint": resource.NewStringProperty(fmt.Sprintf("00:11:%02x", k.ID%256)),
			"publicKey":   resource.NewStringProperty(k.PublicKey()),
			"labels":      resource.NewObjectProperty(labels),
		}))
	}
	return resource.PropertyMap{
		"id":           resource.NewStringProperty("keys-" + sel),
		"withSelector": resource.NewStringProperty(sel),
		"sshKeys":      resource.NewArrayProperty(keys),
	}, nil
}

// Registrations returns every recorded registration, sorted by type and name.
func (m *Mocks) Registrations() []Registration {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.regs)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Calls returns the recorded invokes.
func (m *Mocks) Calls() []pulumi.MockCallArgs {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.calls)
}

// OfType returns the registrations of one resource type, sorted by name.
func (m *Mocks) OfType(typ string) []Registration {
	var out []Registration
	for _, r := range m.Registrations() {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// Resources returns the registrations of real resources: neither the
// default providers nor component resources.
func (m *Mocks) Resources() []Registration {
	var out []Registration
	for _, r := range m.Registrations() {
		if r.Custom && !isProvider(r.Type) {
			out = append(out, r)
		}
	}
	return out
}

func isProvider(typ string) bool {
	return len(typ) > len("pulumi:providers:") && typ[:len("pulumi:providers:")] == "pulumi:providers:"
}

// numericID derives a stable numeric ID from a resource's type and name,
// so two runs give the same IDs whatever order resources register in.
func numericID(key string) string {
	h := fnv.New32a()
	h.Write([]byte(key))
	return fmt.Sprint(1_000_000 + h.Sum32()%90_000_000)
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// password derives a random-looking alphanumeric string from the seed and
// the resource name.
func (m *Mocks) password(name string, length int) string {
	out := make([]byte, 0, length)
	for block := 0; len(out) < length; block++ {
		mac := hmac.New(sha256.New, []byte(m.Seed))
		fmt.Fprintf(mac, "%s/%d", name, block)
		for _, b := range mac.Sum(nil) {
			if len(out) == length {
				break
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
		}
	}
	return string(out)
}

// PublicKey is the key's authorized_keys line, derived from its name.
func (k ExistingSSHKey) PublicKey() string {
	_, public, err := ed25519Key("project-key/" + k.Name)
	if err != nil {
		panic(err)
	}
	return strings.TrimSpace(public) + " " + k.Name
}

// ed25519Key derives a deterministic ed25519 key pair from the seed and
// the resource name, as tls.PrivateKey's OpenSSH outputs: the private key
// in OpenSSH format, the public key as an authorized_keys line.
func (m *Mocks) ed25519Key(name string) (private, public string, err error) {
	return ed25519Key(m.Seed + "/" + name)
}

// keyCache keeps each derived private key's OpenSSH text: its format has
// random check bytes, and a key, like tls.PrivateKey's in the state, must
// read the same every time.
var keyCache sync.Map

func ed25519Key(seedText string) (private, public string, err error) {
	seed := sha256.Sum256([]byte(seedText))
	key := ed25519.NewKeyFromSeed(seed[:])
	pub, err := ssh.NewPublicKey(key.Public())
	if err != nil {
		return "", "", err
	}
	public = string(ssh.MarshalAuthorizedKey(pub))
	if v, ok := keyCache.Load(seedText); ok {
		return v.(string), public, nil
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		return "", "", err
	}
	v, _ := keyCache.LoadOrStore(seedText, string(pem.EncodeToMemory(block)))
	return v.(string), public, nil
}

// rsaKey is an RSA key pair as tls.PrivateKey's PEM outputs
// (cloudconfig.NewProxyToken makes them in the same forms). Go's key
// generation takes no seed, so the pair is generated once per name and
// process and kept.
func rsaKey(name string) (private, public string) {
	if v, ok := keyCache.Load("rsa/" + name); ok {
		t := v.(cloudconfig.ProxyToken)
		return t.PrivateKey, t.PublicKey
	}
	t, err := cloudconfig.NewProxyToken("mock")
	if err != nil {
		panic(err)
	}
	v, _ := keyCache.LoadOrStore("rsa/"+name, t)
	t = v.(cloudconfig.ProxyToken)
	return t.PrivateKey, t.PublicKey
}

// RunningServer is a server the stack created in an earlier update.
type RunningServer struct {
	Name, ServerType, Image string
	Labels                  map[string]string
}

// servers answers getServers (GetServersResult) for a label selector of
// k=v terms.
func (m *Mocks) servers(args resource.PropertyMap) resource.PropertyMap {
	sel := ""
	if v := args["withSelector"]; v.IsString() {
		sel = v.StringValue()
	}
	var list []resource.PropertyValue
	for i, srv := range m.Running {
		match := true
		for _, term := range strings.Split(sel, ",") {
			k, v, _ := strings.Cut(term, "=")
			if term != "" && srv.Labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		labels := resource.PropertyMap{}
		for k, v := range srv.Labels {
			labels[resource.PropertyKey(k)] = resource.NewStringProperty(v)
		}
		list = append(list, resource.NewObjectProperty(resource.PropertyMap{
			"id": resource.NewNumberProperty(float64(9000 + i)), "name": resource.NewStringProperty(srv.Name),
			"serverType": resource.NewStringProperty(srv.ServerType), "image": resource.NewStringProperty(srv.Image),
			"labels": resource.NewObjectProperty(labels), "status": resource.NewStringProperty("running"),
		}))
	}
	return resource.PropertyMap{"id": resource.NewStringProperty("servers"), "servers": resource.NewArrayProperty(list)}
}
