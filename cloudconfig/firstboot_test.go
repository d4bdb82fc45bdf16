package cloudconfig

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// TestDeployHookReloadsInPlace runs the reload part of the certificate
// deploy hook against a stub docker that records its arguments: nginx
// reloads through `docker exec`, coturn gets SIGUSR2 as PID 1 of its
// container, and nothing goes through `docker kill` (which marks a
// `restart: unless-stopped` container as stopped by hand) or `docker
// restart` (which drops every TURN session).
func TestDeployHookReloadsInPlace(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	hook := string(mustFiles(t, referenceSettings())[certDeployHook].Content)
	i := strings.Index(hook, "\ndone\n")
	if i < 0 {
		t.Fatal("cannot find the end of the copy loop in the deploy hook")
	}
	reload := hook[i+len("\ndone\n"):]
	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	stub := `#!/bin/sh
if [ "$1" = ps ]; then echo 0123456789ab; exit 0; fi
echo "$*" >>` + log + "\n"
	if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bash, "-c", "set -euo pipefail\n"+reload)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("reload part of the hook: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(log)
	got := strings.TrimSpace(string(b))
	want := "exec nctalk-nginx-1 nginx -c " + NginxConfig + " -s reload\nexec nctalk-coturn-1 sh -c kill -USR2 1"
	if got != want {
		t.Errorf("docker calls:\n%s\nwant:\n%s", got, want)
	}
}

// TestDockerDaemonConfig checks /etc/docker/daemon.json as dockerd reads it.
func TestDockerDaemonConfig(t *testing.T) {
	for _, mirror := range []string{"", "https://mirror.example.net:5000"} {
		s := referenceSettings()
		s.RegistryMirror = mirror
		var got struct {
			LiveRestore bool     `json:"live-restore"`
			Mirrors     []string `json:"registry-mirrors"`
		}
		if err := json.Unmarshal(mustFiles(t, s)[dockerDaemonFile].Content, &got); err != nil {
			t.Fatalf("daemon.json: %v", err)
		}
		if !got.LiveRestore {
			t.Errorf("mirror %q: live-restore is off", mirror)
		}
		if want := []string{mirror}; mirror != "" && (len(got.Mirrors) != 1 || got.Mirrors[0] != mirror) || mirror == "" && len(got.Mirrors) != 0 {
			t.Errorf("registry-mirrors = %q, want %q", got.Mirrors, want)
		}
	}
}

// TestSetupACMEServer checks which directory the setup gives certbot.
func TestSetupACMEServer(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Settings)
		wantDir string
	}{
		{"default", func(*Settings) {}, letsEncryptDirectory},
		{"staging", func(s *Settings) { s.ACMEStaging = true }, letsEncryptStagingDirectory},
		{"own CA", func(s *Settings) { s.ACMEServer = "https://10.0.2.2:14000/dir" }, "https://10.0.2.2:14000/dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := referenceSettings()
			s.ACMEStaging = false
			tt.mutate(&s)
			script := string(mustFiles(t, s)[SetupScript].Content)
			if !strings.Contains(script, "\nacme="+ShellQuote(tt.wantDir)+"\n") || !strings.Contains(script, `--server "$acme"`) {
				t.Errorf("setup script does not give certbot --server %s", tt.wantDir)
			}
		})
	}
}

// TestFirstBootWaitsThroughRetries runs the first-boot script (cloud-init's
// runcmd) against a stub systemctl whose start succeeds or fails, and a stub
// sleep that lets the ready marker appear after some rounds (a later run of
// the unit succeeded) or never: cloud-init must see success exactly when the
// backend got ready within the bound.
func TestFirstBootWaitsThroughRetries(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	script := string(mustFiles(t, referenceSettings())[firstBootScript].Content)
	quotedMarker := "marker=" + ShellQuote(ReadyMarker) + "\n"
	if !strings.Contains(script, quotedMarker) {
		t.Fatalf("the first-boot script does not set %q", quotedMarker)
	}
	rounds := firstBootWaitMinutes * 6
	for _, tc := range []struct {
		name        string
		startFails  bool
		readyAfter  int // sleeps until the marker appears; 0: never
		wantExit    int
		wantSleeps  int
		wantLogLine string
	}{
		{"first run succeeds", false, 0, 0, 0, ""},
		{"a retry succeeds", true, 7, 0, 7, "nctalk-first-boot: ready: a later run of the setup succeeded"},
		{"no run succeeds in time", true, 0, 1, rounds, "nctalk-first-boot: not ready after 30 min"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			marker := filepath.Join(dir, "ready")
			calls := filepath.Join(dir, "calls")
			startExit := "0"
			if tc.startFails {
				startExit = "1"
			}
			stubs := map[string]string{
				"systemctl": `echo "systemctl $*" >>` + calls + `; [ "$1" = start ] && exit ` + startExit + "; exit 0",
				"sleep": `echo sleep >>` + calls + `; n=$(grep -c '^sleep' ` + calls + `); ` +
					`[ ` + strconv.Itoa(tc.readyAfter) + ` -gt 0 ] && [ "$n" -ge ` + strconv.Itoa(tc.readyAfter) + ` ] && touch ` + marker + `; exit 0`,
			}
			for name, body := range stubs {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(bash, "-c", strings.Replace(script, quotedMarker, "marker="+ShellQuote(marker)+"\n", 1))
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(calls)
			log := string(b)
			if code != tc.wantExit {
				t.Errorf("exit %d, want %d\n%s", code, tc.wantExit, out)
			}
			if !strings.HasPrefix(log, "systemctl enable nctalk-setup.service\nsystemctl start nctalk-setup.service\n") {
				t.Errorf("systemctl calls:\n%s\nwant enable, then start of nctalk-setup.service", log)
			}
			if n := strings.Count(log, "sleep\n"); n != tc.wantSleeps {
				t.Errorf("%d rounds of waiting, want %d", n, tc.wantSleeps)
			}
			if tc.wantLogLine != "" && !strings.Contains(string(out), tc.wantLogLine) {
				t.Errorf("output lacks %q:\n%s", tc.wantLogLine, out)
			}
		})
	}
}
