package cloudconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nctalk/nctalk/internal/testenv"
)

// TestSetupFailsClosed runs steps of the rendered setup script in bash with
// stubbed system tools: the state volume is formatted only when it is blank
// AND the Hetzner volume path, a volume without a file system UUID is not
// mounted, and a failing `sshd -t` stops the setup before sshd restarts.
// Each refusal is an `nctalk-setup: FAILED …` line and a non-zero exit.
func TestSetupFailsClosed(t *testing.T) {
	bash := testenv.Tool(t, "bash", "apt-get install bash")
	tests := []struct {
		name, device, blkidExit, uuid string
		wantFormat                    bool
		wantLog                       string
	}{
		{"blank disk that is not a Hetzner volume", "/dev/sdb", "2", "", false, "FAILED: /dev/sdb is blank and not a Hetzner volume"},
		{"blank Hetzner volume without a UUID after mkfs", "/dev/disk/by-id/scsi-0HC_Volume_123456", "2", "", true, "has no file system UUID: not mounting it"},
		{"blkid fails", "/dev/disk/by-id/scsi-0HC_Volume_123456", "4", "", false, "FAILED: blkid /dev/disk/by-id/scsi-0HC_Volume_123456: exit 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := referenceSettings()
			s.StateDevice = tt.device
			defs := setupDefinitions(t, s)
			bin, calls := stubDir(t)
			stubTool(t, bin, "blkid", `echo "blkid $*" >>"$CALLS"; case "$1" in -p) exit "$BLKID_EXIT";; -s) echo "$UUID";; esac`)
			stubTool(t, bin, "mkfs.ext4", `echo "mkfs.ext4 $*" >>"$CALLS"`)
			stubTool(t, bin, "mountpoint", `exit 1`)
			stubTool(t, bin, "mount", `echo "mount $*" >>"$CALLS"`)
			stubTool(t, bin, "sleep", `exit 0`)
			// Only the device counts as a block device; the state mount
			// point lives in a temp dir.
			script := defs + "\n" + `[() { if [[ "$1" = -b ]]; then [[ "$2" = "$dev" ]]; return; fi; builtin [ "$@"; }
state=$STATE; le=$STATE/le
mount_state`
			cmd := exec.Command(bash, "-c", script)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CALLS="+calls,
				"BLKID_EXIT="+tt.blkidExit, "UUID="+tt.uuid, "STATE="+t.TempDir())
			out, err := cmd.CombinedOutput()
			log, _ := os.ReadFile(calls)
			if err == nil {
				t.Fatalf("mount_state succeeded; want it to stop\n%s", out)
			}
			if !strings.Contains(string(out), tt.wantLog) {
				t.Errorf("output does not say %q:\n%s", tt.wantLog, out)
			}
			if formatted := strings.Contains(string(log), "mkfs.ext4"); formatted != tt.wantFormat {
				t.Errorf("mkfs.ext4 ran = %v, want %v; calls:\n%s", formatted, tt.wantFormat, log)
			}
			if strings.Contains(string(log), "mount ") {
				t.Errorf("mounted anyway; calls:\n%s", log)
			}
		})
	}

	t.Run("sshd -t fails", func(t *testing.T) {
		script := string(mustFiles(t, referenceSettings())[SetupScript].Content)
		i := strings.Index(script, "\nsshd -t ")
		if i < 0 {
			t.Fatal("the setup script does not check the SSH configuration with sshd -t")
		}
		rest := script[i+1:]
		steps := strings.SplitN(rest, "\n", 3) // the check and the restart after it
		bin, calls := stubDir(t)
		stubTool(t, bin, "sshd", `echo "sshd $*" >>"$CALLS"; exit 255`)
		stubTool(t, bin, "systemctl", `echo "systemctl $*" >>"$CALLS"`)
		cmd := exec.Command(bash, "-c", setupDefinitions(t, referenceSettings())+"\n"+steps[0]+"\n"+steps[1])
		cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "CALLS="+calls)
		out, err := cmd.CombinedOutput()
		log, _ := os.ReadFile(calls)
		if err == nil || !strings.Contains(string(out), "nctalk-setup: FAILED: sshd -t rejects the SSH configuration") {
			t.Errorf("a failing sshd -t: err %v, output:\n%s", err, out)
		}
		if strings.Contains(string(log), "systemctl restart ssh") {
			t.Errorf("sshd was restarted with a configuration sshd -t rejects; calls:\n%s", log)
		}
	})
}

// setupDefinitions is the rendered setup script up to its main section:
// its variables and functions, nothing run.
func setupDefinitions(t *testing.T, s Settings) string {
	t.Helper()
	script := string(mustFiles(t, s)[SetupScript].Content)
	main := strings.Index(script, "\nrm -f ")
	if main < 0 {
		t.Fatal("cannot find the main section of the setup script")
	}
	return script[:main]
}

// stubDir is a directory for stub tools and the file they log calls to.
func stubDir(t *testing.T) (bin, calls string) {
	t.Helper()
	bin = t.TempDir()
	return bin, filepath.Join(bin, "calls.log")
}

// stubTool writes an executable shell stub.
func stubTool(t *testing.T, bin, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/bash\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}
