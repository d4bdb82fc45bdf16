package cloudconfig

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeployHookReloadsInPlace runs the reload part of the certificate
// deploy hook against a stub docker that records its arguments: nginx
// reloads through `docker exec`, coturn gets SIGUSR2 as PID 1 of its
// container, and nothing goes through `docker kill` (which marks a
// `restart: unless-stopped` container as stopped by hand) or `docker
// restart` (which drops every TURN session).
func TestDeployHookReloadsInPlace(t *testing.T) {
	bash := requireTool(t, "bash", "apt-get install bash")
	hook := string(mustFiles(t, referenceSettings())[CertDeployHook].Content)
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
		if err := json.Unmarshal(mustFiles(t, s)[DockerDaemonConfig].Content, &got); err != nil {
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
		{"default", func(*Settings) {}, LetsEncryptDirectory},
		{"staging", func(s *Settings) { s.ACMEStaging = true }, LetsEncryptStagingDirectory},
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
