package harness

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Socket is one line of /proc/net/{tcp,tcp6,udp,udp6}.
type Socket struct {
	Proto  string // tcp, tcp6, udp, udp6
	Local  netip.AddrPort
	Remote netip.AddrPort
	State  int // TCP state; tcpListen or TCPEstablished; UDP: 7 (unconnected)
	Inode  uint64
}

// TCP states as /proc/net/tcp writes them.
const (
	TCPEstablished = 0x01
	tcpListen      = 0x0A
	udpUnconnected = 0x07
)

// Listening reports whether the socket accepts traffic from anyone: a
// listening TCP socket, or an unconnected UDP socket.
func (s Socket) Listening() bool {
	if strings.HasPrefix(s.Proto, "tcp") {
		return s.State == tcpListen
	}
	return s.State == udpUnconnected
}

func (s Socket) String() string {
	return fmt.Sprintf("%s %s", s.Proto, s.Local)
}

// readSockets reads every socket of this goroutine's network namespace
// from /proc/thread-self/net. Not /proc/net: that is the main thread's
// namespace, and a test that once entered another namespace on the main
// thread leaves it there (Go parks the main thread rather than end it).
func readSockets() ([]Socket, error) {
	var all []Socket
	for _, proto := range []string{"tcp", "tcp6", "udp", "udp6"} {
		f, err := os.Open("/proc/thread-self/net/" + proto)
		if err != nil {
			return nil, fmt.Errorf("read sockets: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			sock, err := parseProcNetLine(proto, sc.Text())
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("/proc/net/%s: %w", proto, err)
			}
			all = append(all, sock)
		}
		f.Close()
	}
	return all, nil
}

// parseProcNetLine parses "  0: 0100007F:1F90 00000000:0000 0A ... inode ...".
func parseProcNetLine(proto, line string) (Socket, error) {
	fields := strings.Fields(line)
	if len(fields) < 10 {
		return Socket{}, fmt.Errorf("short line %q", line)
	}
	local, err := parseHexAddrPort(fields[1])
	if err != nil {
		return Socket{}, err
	}
	remote, err := parseHexAddrPort(fields[2])
	if err != nil {
		return Socket{}, err
	}
	state, err := strconv.ParseUint(fields[3], 16, 8)
	if err != nil {
		return Socket{}, fmt.Errorf("state %q: %w", fields[3], err)
	}
	inode, err := strconv.ParseUint(fields[9], 10, 64)
	if err != nil {
		return Socket{}, fmt.Errorf("inode %q: %w", fields[9], err)
	}
	return Socket{Proto: proto, Local: local, Remote: remote, State: int(state), Inode: inode}, nil
}

// parseHexAddrPort parses the kernel's hex form: the address as 32-bit
// words in host (little-endian) order, the port big-endian.
func parseHexAddrPort(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", p, err)
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// Processes returns the host PIDs of every process of the named daemon:
// the daemon and every process in its PID namespace (nginx workers...).
func (s *Stack) Processes(name string) []int {
	pid := s.PID(name)
	if pid == 0 {
		return nil
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return []int{pid}
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if other, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p)); err == nil && other == ns {
			pids = append(pids, p)
		}
	}
	return pids
}

// ServiceSockets returns the sockets the named daemon's processes hold.
func (s *Stack) ServiceSockets(name string) ([]Socket, error) {
	inodes := map[uint64]bool{}
	for _, pid := range s.Processes(name) {
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			link, err := os.Readlink(fd)
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64); err == nil {
				inodes[n] = true
			}
		}
	}
	all, err := readSockets()
	if err != nil {
		return nil, err
	}
	var mine []Socket
	for _, sock := range all {
		if inodes[sock.Inode] {
			mine = append(mine, sock)
			delete(inodes, sock.Inode) // a socket shared by several fds counts once
		}
	}
	return mine, nil
}
