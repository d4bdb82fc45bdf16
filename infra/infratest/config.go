package infratest

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// StackConfig sets a program's config the way the Pulumi CLI passes it:
// keys `<namespace>:<key>`, lists and maps as JSON strings, secrets
// decrypted and listed as secret keys.
func StackConfig(namespace string, cfg map[string]string, secretKeys ...string) pulumi.RunOption {
	return func(info *pulumi.RunInfo) {
		info.Config = map[string]string{}
		for k, v := range cfg {
			info.Config[namespace+":"+k] = v
		}
		for _, k := range secretKeys {
			info.ConfigSecretKeys = append(info.ConfigSecretKeys, namespace+":"+k)
		}
	}
}
