package schema

// Stack output names.
const (
	OutputDomain            = "domain"
	OutputSignalingURL      = "signalingUrl"
	OutputSignalingSecret   = "signalingSecret"
	OutputTURNSecret        = "turnSecret"
	OutputTURNServers       = "turnServers"
	OutputSTUNServers       = "stunServers"
	OutputTURNRelayPorts    = "turnRelayPorts"
	OutputJanusRTPPorts     = "janusRtpPorts"
	OutputIPv4              = "ipv4"
	OutputIPv6              = "ipv6"
	OutputServerName        = "serverName"
	OutputSSHCommand        = "sshCommand"
	OutputCloudConfigDigest = "cloudConfigDigest"
)

// Output declares one stack output, once.
type Output struct {
	// Name is the output's key in `pulumi stack output`.
	Name string
	// Secret outputs are Pulumi secrets: `pulumi stack output` shows them
	// only with --show-secrets.
	Secret bool
	// Doc says what the output holds.
	Doc string
}

// Outputs declares every stack output, in the order of
// docs/configuration.md's outputs table.
var Outputs = []Output{
	{Name: OutputDomain, Doc: "the backend's FQDN"},
	{Name: OutputSignalingURL, Doc: "https://<domain>/standalone-signaling, for talk:signaling:add"},
	{Name: OutputSignalingSecret, Secret: true, Doc: "the signaling secret shared with Nextcloud"},
	{Name: OutputTURNSecret, Secret: true, Doc: "the TURN secret shared with Nextcloud"},
	{Name: OutputTURNServers, Doc: "[{schemes, server, protocols}] as occ talk:turn:add takes them"},
	{Name: OutputSTUNServers, Doc: "[\"<domain>:3478\"], for talk:stun:add"},
	{Name: OutputTURNRelayPorts, Doc: "coturn's relay range"},
	{Name: OutputJanusRTPPorts, Doc: "Janus' RTP range"},
	{Name: OutputIPv4, Doc: "the primary IPv4 address (the A record)"},
	{Name: OutputIPv6, Doc: "the server's IPv6 address, the …::1 host of the primary /64"},
	{Name: OutputServerName, Doc: "the Hetzner server's name (= domain)"},
	{Name: OutputSSHCommand, Doc: "how to log in, e.g. ssh root@203.0.113.10"},
	{Name: OutputCloudConfigDigest, Doc: "sha256 of the redacted cloud-config: it changes exactly when the VM's document does"},
}

// OutputNames lists the names of Outputs, in order.
func OutputNames() []string {
	names := make([]string, len(Outputs))
	for i, o := range Outputs {
		names[i] = o.Name
	}
	return names
}
