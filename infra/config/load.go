package config

import (
	"errors"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pconfig "github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/nctalk/nctalk/cloudconfig"
	"github.com/nctalk/nctalk/schema"
)

// Load reads every `nctalk:` key, applies the defaults of the keys that are
// not set and validates the result. It registers nothing; every error
// names its key as `nctalk:<key>` and says what would be valid.
func Load(ctx *pulumi.Context) (Config, error) {
	c, err := read(ctx)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// reader reads keys of one context and collects the errors.
type reader struct {
	ctx  *pulumi.Context
	errs []error
}

func (r *reader) isSet(key string) bool {
	_, ok := r.ctx.GetConfig(Namespace + ":" + key)
	return ok
}

func (r *reader) str(key string, dst *string) {
	if !r.isSet(key) {
		return
	}
	v, err := pconfig.Try(r.ctx, key)
	if err != nil {
		r.errs = append(r.errs, keyErr(key, "cannot be read: %v", err))
		return
	}
	*dst = v
}

func (r *reader) integer(key string, dst *int) {
	if !r.isSet(key) {
		return
	}
	v, err := pconfig.TryInt(r.ctx, key)
	if err != nil {
		raw, _ := r.ctx.GetConfig(Namespace + ":" + key)
		r.errs = append(r.errs, keyErr(key, "%q is not a whole number", raw))
		return
	}
	*dst = v
}

func (r *reader) boolean(key string, dst *bool) {
	if !r.isSet(key) {
		return
	}
	v, err := pconfig.TryBool(r.ctx, key)
	if err != nil {
		raw, _ := r.ctx.GetConfig(Namespace + ":" + key)
		r.errs = append(r.errs, keyErr(key, "%q is not true or false", raw))
		return
	}
	*dst = v
}

// object reads a list or map; example shows how to set it.
func (r *reader) object(key string, dst any, example string) {
	if !r.isSet(key) {
		return
	}
	if err := pconfig.TryObject(r.ctx, key, dst); err != nil {
		r.errs = append(r.errs, keyErr(key, "is not a %s (%v); set it e.g. with %s", kindOf(dst), err, example))
	}
}

func kindOf(dst any) string {
	if _, ok := dst.(*map[string]string); ok {
		return "map of strings"
	}
	return "list of strings"
}

func (r *reader) portRange(key string, dst *schema.PortRange) {
	var s string
	r.str(key, &s)
	if !r.isSet(key) {
		return
	}
	pr, err := schema.ParsePortRange(s)
	if err != nil {
		r.errs = append(r.errs, keyErr(key, "%v", err))
		return
	}
	*dst = pr
}

// secret reads an optional secret; it must be stored encrypted.
func (r *reader) secret(key string, dst *Secret) {
	if !r.isSet(key) {
		return
	}
	v, err := pconfig.Try(r.ctx, key)
	if err != nil {
		r.errs = append(r.errs, keyErr(key, "cannot be read: %v", err))
		return
	}
	if v != "" && !r.ctx.IsConfigSecret(Namespace+":"+key) {
		r.errs = append(r.errs, keyErr(key, "is stored in plain text; set it with `pulumi config set --secret %s <value>`", key))
		return
	}
	*dst = Secret(v)
}

// read loads every key over the defaults, without validating values.
func read(ctx *pulumi.Context) (Config, error) {
	c := Default()
	s := &c.Settings
	r := &reader{ctx: ctx}

	r.str(cloudconfig.KeyDomain, &s.Domain)
	r.object(cloudconfig.KeyNextcloudURLs, &s.NextcloudURLs, "`pulumi config set --path 'nextcloudUrls[0]' https://cloud.example.com`")
	r.str(cloudconfig.KeyACMEEmail, &s.ACMEEmail)
	r.boolean(cloudconfig.KeyACMEStaging, &s.ACMEStaging)
	r.str(cloudconfig.KeyACMEServer, &s.ACMEServer)
	r.str(cloudconfig.KeyRegistryMirror, &s.RegistryMirror)
	r.str(KeyLocation, &c.Location)
	r.str(KeyServerType, &c.ServerType)
	r.str(KeyImage, &c.Image)
	r.object(cloudconfig.KeySSHPublicKeys, &s.SSHAuthorizedKeys, "`pulumi config set --path 'sshPublicKeys[0]' \"$(cat ~/.ssh/id_ed25519.pub)\"`")
	r.str(KeySSHKeySelector, &c.SSHKeySelector)
	r.object(cloudconfig.KeySSHAllowedCIDRs, &s.SSHAllowedCIDRs, "`pulumi config set --path 'sshAllowedCidrs[0]' 203.0.113.0/24`")
	r.integer(cloudconfig.KeySSHPort, &s.SSHPort)
	r.str(KeyDNSZone, &c.DNSZone)
	r.integer(KeyVolumeSize, &c.VolumeSize)
	r.boolean(KeyKeepOnTeardown, &c.KeepOnTeardown)
	r.secret(cloudconfig.KeySignalingSecret, &c.SignalingSecret)
	r.secret(cloudconfig.KeyTURNSecret, &c.TURNSecret)
	r.portRange(cloudconfig.KeyJanusRTPPorts, &s.JanusRTPPorts)
	r.portRange(cloudconfig.KeyTURNRelayPorts, &s.TURNRelayPorts)
	turnOn443 := true
	r.boolean(cloudconfig.KeyTURNOn443, &turnOn443)
	s.TURN443Disabled = !turnOn443
	r.str(cloudconfig.KeyTURNDomain, &s.TURNDomain)
	r.object(cloudconfig.KeyImages, &s.Images, "`pulumi config set --path 'images.janus' <image:tag>`")

	if len(r.errs) > 0 {
		return Config{}, fmt.Errorf("stack configuration: %w", errors.Join(r.errs...))
	}
	return c, nil
}
