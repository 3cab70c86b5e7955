// Package examples holds the example readers in shell, Python and C, and
// this test, which runs each of them against the real sidecar mounted over
// the shipped sample podinfo.
package examples

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mountSample builds netutil-fs, mounts it over podinfo/ and returns the
// mount point; the sidecar is stopped with SIGTERM at cleanup.
func mountSample(t *testing.T) string {
	t.Helper()
	if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err != nil {
		t.Skipf("cannot open /dev/fuse, so nothing can be mounted here: %v", err)
	} else {
		f.Close()
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "netutil-fs")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/netutil-fs").CombinedOutput(); err != nil {
		t.Fatalf("build netutil-fs: %v\n%s", err, out)
	}
	mnt := filepath.Join(dir, "mnt")
	sidecar := exec.Command(bin, "--mountpoint="+mnt, "--podinfo-dir=podinfo")
	var log strings.Builder
	sidecar.Stdout, sidecar.Stderr = &log, &log
	if err := sidecar.Start(); err != nil {
		t.Fatalf("start netutil-fs: %v", err)
	}
	t.Cleanup(func() {
		sidecar.Process.Signal(os.Interrupt)
		if err := sidecar.Wait(); err != nil {
			t.Errorf("netutil-fs exited with %v; log:\n%s", err, log.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(mnt, "networks", "0")); err == nil {
			return mnt
		}
		if time.Now().After(deadline) {
			t.Fatalf("mount not ready after 10 s; log:\n%s", log.String())
		}
	}
}

func TestExamples(t *testing.T) {
	mnt := mountSample(t)
	eal := filepath.Join(t.TempDir(), "eal_args")
	if out, err := exec.Command("cc", "-O2", "-Wall", "-Werror", "-o", eal, "c/eal_args.c").CombinedOutput(); err != nil {
		t.Fatalf("compile c/eal_args.c: %v\n%s", err, out)
	}
	cpus, err := os.ReadFile(filepath.Join(mnt, "cpu"))
	if err != nil {
		t.Fatal(err)
	}
	cpu := strings.TrimSpace(string(cpus))
	networks := `network 0: name=cbr0 interface=eth0 ips=10.244.1.17 mac=0a:58:0a:f4:01:11 pci=-
network 1: name=dataplane/sriov-left interface=net1 ips=192.168.10.4 mac=7e:12:9c:40:aa:01 pci=0000:3b:02.1
network 2: name=dataplane/sriov-right interface=net2 ips=- mac=- pci=0000:3b:0a.3
`
	tests := []struct {
		name string
		cmd  []string
		want string
	}{
		{"shell", []string{"sh", "shell/netinfo.sh", mnt}, "cpuset: " + cpu + "\n" + networks},
		{"python", []string{"python3", "python/netinfo.py", mnt}, "cpuset: " + cpu + "\nHOME: /example-home\n" + networks},
		{"c", []string{eal, mnt}, "-l " + cpu + " -a 0000:3b:02.1 -a 0000:3b:0a.3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, tt.cmd[0], tt.cmd[1:]...)
			cmd.Env = append(os.Environ(), "HOME=/example-home")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %v\n%s", tt.cmd, err, out)
			}
			if string(out) != tt.want {
				t.Errorf("%v printed\n%s\nwant\n%s", tt.cmd, out, tt.want)
			}
		})
	}
}
