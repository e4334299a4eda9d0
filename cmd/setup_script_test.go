package cmd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make run's setup leaves a running system pcscd alone: on a real station
// it serves the readers. The script runs with dpkg-query and systemctl
// replaced by stubs that report everything installed and pcscd active,
// and record what they were asked.
func TestSetupLeavesSystemPcscdAlone(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, _ := filepath.Abs(filepath.Join("..", "scripts", "setup.sh"))
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\necho \""+name+" $*\" >> "+calls+"\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	stub("dpkg-query", "printf 'install ok installed'\n")
	stub("systemctl", "exit 0\n")
	stub("apt-get", "exit 1\n")
	cmd := exec.Command(bash, script)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(calls)
	if !strings.Contains(string(b), "dpkg-query") {
		t.Fatalf("the stubs were not used:\n%s", b)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "systemctl") && !strings.Contains(l, "is-active") || strings.HasPrefix(l, "apt-get") {
			t.Errorf("setup.sh ran %q", l)
		}
	}
}
