package cloudconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// TestSetupWaitsForOwnAddressInDNS runs the setup script's DNS check with
// stubbed `ip` and `dig`: the certificate request must wait until every
// A/AAAA record of the domain is an address of this host, as a public
// resolver sees it. The stub answers a query without @server the way the
// machine's own resolver does on a cloud image (manage_etc_hosts maps the
// FQDN to 127.0.1.1), so a check that asks the local resolver never passes.
func TestSetupWaitsForOwnAddressInDNS(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	defs := setupDefinitions(t, referenceSettings())

	const ipOutput = `2: eth0    inet 198.51.100.10/32 scope global dynamic eth0
2: eth0    inet6 2001:db8:1::1/64 scope global`
	tests := []struct {
		name, a, aaaa string
		want          bool
		down          string // a resolver that does not answer
	}{
		{"first resolver down", "198.51.100.10", "", true, PublicResolvers[0]},
		{"own v4 and v6", "198.51.100.10", "2001:db8:1::1", true, ""},
		{"own v4 only", "198.51.100.10", "", true, ""},
		{"cname then own address", "face.be.\n198.51.100.10", "", true, ""},
		{"no records yet", "", "", false, ""},
		{"old address", "203.0.113.5", "", false, ""},
		{"v6 points elsewhere", "198.51.100.10", "2001:db8:2::1", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			stub := func(name, body string) {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			stub("ip", "cat <<'EOF'\n"+ipOutput+"\nEOF\n")
			stub("dig", `case " $* " in *" @$STUB_DOWN "*) echo ';; communications error'; exit 9;; *" @"*) ;; *) echo 127.0.1.1; exit 0;; esac
case " $* " in *" A "*) printf '%s' "$STUB_A";; *" AAAA "*) printf '%s' "$STUB_AAAA";; esac; echo`+"\n")
			cmd := exec.Command(bash, "-c", defs+"\ndns_points_here talk.example.com")
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_A="+tt.a, "STUB_AAAA="+tt.aaaa, "STUB_DOWN="+tt.down)
			err := cmd.Run()
			if got := err == nil; got != tt.want {
				t.Errorf("dns_points_here = %v (%v), want %v", got, err, tt.want)
			}
		})
	}
}

// TestSetupCertificateNames runs the setup script's certificate step with
// stubbed `ip`, `dig`, `sleep` and `certbot`: with turnOn443 the request
// waits until the domain AND the TURN name point here and asks for both
// names in one certificate; without it, for the domain alone.
func TestSetupCertificateNames(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	tests := []struct {
		name     string
		settings func(*Settings)
		resolves string // names whose A record is this host
		want     string // certbot's -d arguments; "" means certbot must not run
	}{
		{"both names resolve", func(*Settings) {}, "talk.example.com turn.talk.example.com",
			"-d talk.example.com -d turn.talk.example.com"},
		{"turn name not yet in DNS", func(*Settings) {}, "talk.example.com", ""},
		{"custom turn name", func(s *Settings) { s.TURNDomain = "relay.example.net" }, "talk.example.com relay.example.net",
			"-d talk.example.com -d relay.example.net"},
		{"turnOn443 false", func(s *Settings) { s.TURNOn443 = false }, "talk.example.com", "-d talk.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := referenceSettings()
			tt.settings(&s)
			defs := setupDefinitions(t, s)
			bin, _ := stubDir(t)
			dir := t.TempDir()
			stub := func(name, body string) { stubTool(t, bin, name, body) }
			stub("ip", "echo '2: eth0    inet 198.51.100.10/32 scope global eth0'\n")
			// dig [options] @resolver A name: the name after "A".
			stub("dig", `prev=; for a; do [ "$prev" = A ] && case " $STUB_OK " in *" $a "*) echo 198.51.100.10;; esac; prev=$a; done; exit 0`+"\n")
			stub("sleep", "exit 0\n")
			args := filepath.Join(dir, "certbot-args")
			stub("certbot", `echo "$@" >"$CERTBOT_ARGS"`+"\n")
			cmd := exec.Command(bash, "-c", defs+"\nle="+ShellQuote(dir)+"\ncertificate")
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "STUB_OK="+tt.resolves, "CERTBOT_ARGS="+args)
			out, err := cmd.CombinedOutput()
			got, _ := os.ReadFile(args)
			if tt.want == "" {
				if err == nil || len(got) > 0 {
					t.Fatalf("certificate ran certbot (%q) or succeeded (%v) before every name resolved here\n%s", got, err, out)
				}
				if !strings.Contains(string(out), "DNS of turn.talk.example.com is not this host") {
					t.Errorf("the log does not name the unresolved TURN name:\n%s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("certificate: %v\n%s", err, out)
			}
			ds := regexp.MustCompile(`(?:-d \S+ ?)+`).FindString(string(got))
			if strings.TrimSpace(ds) != tt.want {
				t.Errorf("certbot got %q, want the names %q", got, tt.want)
			}
		})
	}
}

// TestSetupLoadsFirewallFirst: the host firewall is loaded before the
// setup waits for anything (the state volume may take minutes to appear);
// before, it came after mount_state.
func TestSetupLoadsFirewallFirst(t *testing.T) {
	script := string(mustFiles(t, referenceSettings())[SetupScript].Content)
	body := script[strings.Index(script, "\nlog \"start\"\n"):]
	fw, mount := strings.Index(body, "\nsystemctl restart nctalk-firewall\n"), strings.Index(body, "\nmount_state\n")
	if fw < 0 || mount < 0 || fw > mount {
		t.Errorf("the setup loads the firewall at %d, mounts the state volume at %d: the firewall must come first\n%s", fw, mount, body)
	}
}

// TestSetupStaysUnderACMEFailureLimit: Let's Encrypt allows 5 failed
// validations per account, name and hour. A validation that keeps failing
// (DNS points here but port 80 is blocked upstream, say) makes every
// certbot attempt fail; the setup retries within a run and systemd runs it
// again 60 s after each failure. Three failed runs, with time advanced by
// the stubs' sleep: no hour may hold more than acmeFailuresPerHour
// attempts. Before the budget a run tried 4 times in 3.5 minutes and the
// three runs made 12 attempts within 14 minutes.
func TestSetupStaysUnderACMEFailureLimit(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	defs := setupDefinitions(t, referenceSettings())
	bin, calls := stubDir(t)
	clock := filepath.Join(bin, "clock")
	if err := os.WriteFile(clock, []byte("1800000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stub := func(name, body string) { stubTool(t, bin, name, body) }
	stub("ip", "echo '2: eth0    inet 198.51.100.10/32 scope global eth0'\n")
	stub("dig", "echo 198.51.100.10\n")
	stub("date", `if [ "$1" = +%s ]; then cat "$CLOCK"; else /bin/date "$@"; fi`)
	stub("sleep", `echo $(( $(cat "$CLOCK") + ${1%s} )) >"$CLOCK"`)
	stub("certbot", `cat "$CLOCK" >>"$CALLS"; exit 1`)
	state := t.TempDir()
	for run := range 3 {
		script := defs + "\nle=" + ShellQuote(state) + "\nacme_failures=" + ShellQuote(filepath.Join(state, "acme-failed")) + "\ncertificate"
		cmd := exec.Command(bash, "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CLOCK="+clock, "CALLS="+calls)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Fatalf("run %d: certificate succeeded with a failing certbot\n%s", run, out)
		}
		// systemd: RestartSec=60
		if err := exec.Command(bash, "-c", `echo $(( $(cat "$1") + 60 )) >"$1"`, "sh", clock).Run(); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(calls)
	var times []int
	for _, f := range strings.Fields(string(raw)) {
		n, _ := strconv.Atoi(f)
		times = append(times, n)
	}
	if len(times) < acmeFailuresPerHour {
		t.Fatalf("certbot ran %d times in three runs, want at least %d", len(times), acmeFailuresPerHour)
	}
	for i := acmeFailuresPerHour; i < len(times); i++ {
		if times[i]-times[i-acmeFailuresPerHour] < 3600 {
			t.Errorf("attempts %d-%d within %d s (%v): over %d failed validations in an hour", i-acmeFailuresPerHour+1, i+1, times[i]-times[i-acmeFailuresPerHour], times, acmeFailuresPerHour)
			break
		}
	}
}
