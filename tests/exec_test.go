package tests

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// command is a child process bounded by timeout; env replaces the
// environment entirely (nil: just PATH).
func command(t *testing.T, timeout time.Duration, env []string, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.WaitDelay = time.Second
	return cmd
}

// run runs a bounded command and returns its stdout and stderr.
func run(t *testing.T, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := command(t, 20*time.Second, env, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// readerCmd is this package's test binary, built without the race detector,
// run as a reader process (see readerMain) with env added to the reader
// settings.
func readerCmd(t *testing.T, timeout time.Duration, mode, mnt string, env ...string) *exec.Cmd {
	t.Helper()
	return command(t, timeout, append([]string{readerModeEnv + "=" + mode, mntEnv + "=" + mnt}, env...), readerBinary)
}

// cpusetV1 is the host's cgroup v1 cpuset hierarchy.
const cpusetV1 = "/sys/fs/cgroup/cpuset"

// cpusets creates one child cpuset per value under a test cgroup and
// returns their directories; they are removed when the test ends. It
// skips the test when the host has no cgroup v1 cpuset hierarchy.
func cpusets(t *testing.T, cpus ...string) []string {
	t.Helper()
	rootCpus, err := os.ReadFile(filepath.Join(cpusetV1, "cpuset.cpus"))
	if err != nil {
		t.Skipf("no cgroup v1 cpuset hierarchy at %s, so per-reader cpu values cannot be set up: %v", cpusetV1, err)
	}
	mems, err := os.ReadFile(filepath.Join(cpusetV1, "cpuset.mems"))
	if err != nil {
		t.Fatal(err)
	}
	parent := filepath.Join(cpusetV1, fmt.Sprintf("netutil-tests-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")))
	made := []string{parent}
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			// Tasks that have just exited may be counted for a moment.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				err := syscall.Rmdir(made[i])
				if err == nil || errors.Is(err, syscall.ENOENT) {
					break
				}
				if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
					t.Errorf("remove cgroup %s: %v", made[i], err)
					break
				}
			}
		}
	})
	mkdir := func(dir, cpus string) {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatalf("create cgroup (needs root): %v", err)
		}
		for file, value := range map[string]string{"cpuset.cpus": cpus, "cpuset.mems": strings.TrimSpace(string(mems))} {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
				t.Fatalf("write %s/%s: %v", dir, file, err)
			}
		}
	}
	mkdir(parent, strings.TrimSpace(string(rootCpus)))
	var dirs []string
	for i, c := range cpus {
		dir := filepath.Join(parent, fmt.Sprintf("c%d", i))
		made = append(made, dir)
		mkdir(dir, c)
		dirs = append(dirs, dir)
	}
	return dirs
}

// hostCPU is what cpu holds for a process in the root cpuset (this test's).
func hostCPU(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cpusetV1, "cpuset.cpus"))
	if err != nil {
		t.Skipf("no cgroup v1 cpuset hierarchy at %s: %v", cpusetV1, err)
	}
	return strings.TrimSpace(string(data)) + "\n"
}
