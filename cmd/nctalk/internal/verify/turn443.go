package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/stun/v3"

	"github.com/nctalk/nctalk/schema"
	"github.com/nctalk/nctalk/talk"
)

// idTURN443 is TURN over TLS on port 443 (turnOn443): the entries of
// turnServers on 443, allocated through nginx's stream front.
const idTURN443 CheckID = "turn-443"

// turnProbesOn443 splits probes into those on port 443 (through nginx's
// stream front, checked by idTURN443) and the rest (coturn's own ports,
// checked by idTURN).
func turnProbesOn443(probes []turnProbe) (on443, rest []turnProbe) {
	for _, p := range probes {
		if _, port, err := net.SplitHostPort(p.server); err == nil && port == strconv.Itoa(schema.PortHTTPS) {
			on443 = append(on443, p)
		} else {
			rest = append(rest, p)
		}
	}
	return on443, rest
}

// checkTURN443 allocates a relay over TLS on 443 with the TURN name as SNI
// (nginx routes it to coturn by that name) and REST credentials made from
// the TURN secret, and checks the relayed port. The signaling WebSocket on
// the same port is the websocket check's.
func checkTURN443(ctx context.Context, e *env) Result {
	probes, _ := turnProbes(e.opts.Outputs.TURNServers)
	on443, _ := turnProbesOn443(probes)
	if len(on443) == 0 {
		return ok("off: turnServers has no turns entry on 443 (turnOn443 false)")
	}
	relay, err := relayRange(e)
	if err != nil {
		return fail("stack output turnRelayPorts: "+err.Error(), "fix the outputs")
	}
	user, pass := talk.TURNCredentials(e.opts.Outputs.TURNSecret, turnUser, e.opts.Now().Add(time.Hour))
	var okParts []string
	for _, p := range on443 {
		host, _, _ := net.SplitHostPort(p.server)
		addr, err := e.allocate(ctx, p, user, pass)
		var te *stun.TurnError
		switch {
		case err != nil && errors.As(err, &te) && (te.ErrorCodeAttr.Code == stun.CodeUnauthorized || te.ErrorCodeAttr.Code == stun.CodeBadRequest):
			return fail(fmt.Sprintf("%s: credentials refused (%d)", p, te.ErrorCodeAttr.Code),
				"coturn's static-auth-secret is not the stack's turnSecret: re-render with `pulumi up`, then run `nctalk occ`")
		case err != nil && strings.HasPrefix(err.Error(), "TLS:"):
			return fail(fmt.Sprintf("%s: %s", p, shortErr(err)),
				"the certificate must name "+host+" too: the setup asks for it once "+host+" resolves to the VM (`journalctl -u nctalk-setup` on the VM; `systemctl restart nctalk-setup` asks again at once)")
		case err != nil:
			return fail(fmt.Sprintf("%s: %s", p, shortErr(err)),
				"does "+host+" resolve to the VM (dns), and does nginx route it to coturn? (`docker compose logs nginx coturn`; nginx.conf stream map)")
		case !relay.Contains(addr.Port):
			return fail(fmt.Sprintf("%s: relay port %d outside turnRelayPorts %s", p, addr.Port, relay),
				"coturn's min-port/max-port must equal turnRelayPorts, which the firewall opens")
		}
		okParts = append(okParts, fmt.Sprintf("%s → relay port %d", p, addr.Port))
	}
	return ok(fmt.Sprintf("%s (through nginx's 443 front, SNI %s)", strings.Join(okParts, ", "), strings.Join(hostsOf(on443), ", ")))
}

func hostsOf(probes []turnProbe) []string {
	var hosts []string
	for _, p := range probes {
		h, _, _ := net.SplitHostPort(p.server)
		hosts = append(hosts, h)
	}
	return hosts
}
