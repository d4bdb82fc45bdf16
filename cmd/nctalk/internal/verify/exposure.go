package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/nctalk/nctalk/schema"
)

// internalPorts are the loopback-only ports of the stack (from cloudconfig)
// plus Janus' ports that Debian's and upstream's defaults open.
func internalPorts() []Port {
	return []Port{
		{"signaling HTTP", schema.PortSignalingHTTP},
		{"Janus WebSocket", schema.PortJanusWS},
		{"NATS", schema.PortNATS},
		{"Janus admin HTTP", schema.PortJanusAdminHTTP},
		{"Janus admin WebSocket", schema.PortJanusAdminWS},
		{"Janus HTTP", schema.PortJanusHTTP},
	}
}

// publicAddrs are the addresses the exposure check probes: the stack's
// public addresses, or when the outputs name none, what the domain resolves
// to. IPv4 loopback addresses are left out: the internal services listen
// there by design, so they prove nothing (on a test stack ::1 still counts,
// since the internal services bind 127.0.0.1 only).
func (e *env) publicAddrs(ctx context.Context) (probe []net.IP, skipped []net.IP, err error) {
	v4, v6 := expectedAddrs(e.opts.Outputs.IPv4, e.opts.Outputs.IPv6)
	var cands []net.IP
	for _, ip := range []net.IP{v4, v6} {
		if ip != nil {
			cands = append(cands, ip)
		}
	}
	if len(cands) == 0 {
		if cands, _, err = e.lookup(ctx, e.opts.Outputs.Domain); err != nil {
			return nil, nil, err
		}
	}
	for _, ip := range cands {
		if ip.To4() != nil && ip.IsLoopback() {
			skipped = append(skipped, ip)
			continue
		}
		probe = append(probe, ip)
	}
	return probe, skipped, nil
}

// checkExposure connects to every internal port on every public address.
// A completed TCP handshake is a FAIL; refused or filtered (timeout) is
// what the firewall and the loopback binds should give.
func checkExposure(ctx context.Context, e *env) Result {
	addrs, skipped, err := e.publicAddrs(ctx)
	if err != nil {
		return fail("no public address to probe: "+shortErr(err), "the outputs need ipv4/ipv6, or the domain must resolve")
	}
	var notes []string
	if len(skipped) > 0 {
		notes = append(notes, fmt.Sprintf("%s not probed: IPv4 loopback, where the internal services listen by design", joinIPs(skipped)))
	}
	if len(addrs) == 0 {
		return fail("no public address to probe (only loopback)", "run verify with the stack's real outputs")
	}
	type hit struct{ addr, name string }
	var (
		mu          sync.Mutex
		open        []hit
		unreachable = map[string]bool{}
		wg          sync.WaitGroup
	)
	for _, ip := range addrs {
		for _, p := range e.opts.InternalPorts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				target := net.JoinHostPort(ip.String(), strconv.Itoa(p.Port))
				d := net.Dialer{Timeout: dialTimeout}
				c, err := d.DialContext(ctx, "tcp", target)
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					c.Close()
					open = append(open, hit{target, p.Name})
					return
				}
				if errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EHOSTUNREACH) {
					unreachable[ip.String()] = true
				}
			}()
		}
	}
	wg.Wait()
	var probed []net.IP
	for _, ip := range addrs {
		if unreachable[ip.String()] {
			notes = append(notes, fmt.Sprintf("%s is not reachable from this machine (no route): not probed", ip))
			continue
		}
		probed = append(probed, ip)
	}
	sort.Strings(notes)
	if len(probed) == 0 {
		r := fail("no public address is reachable from this machine, so nothing was probed", "run verify from a machine with a route to the server")
		r.Warnings = notes
		return r
	}
	if len(open) > 0 {
		sort.Slice(open, func(i, j int) bool { return open[i].addr < open[j].addr })
		parts := make([]string, len(open))
		for i, h := range open {
			parts[i] = fmt.Sprintf("%s (%s)", h.addr, h.name)
		}
		r := fail("internal ports answer on a public address: "+strings.Join(parts, ", "),
			"bind these services to 127.0.0.1 and keep the ports out of the firewall; check the compose file's ports and each service's listen setting")
		r.Warnings = notes
		return r
	}
	ports := make([]string, len(e.opts.InternalPorts))
	for i, p := range e.opts.InternalPorts {
		ports[i] = strconv.Itoa(p.Port)
	}
	r := ok(fmt.Sprintf("ports %s closed on %s", strings.Join(ports, ", "), joinIPs(probed)))
	r.Warnings = notes
	return r
}
