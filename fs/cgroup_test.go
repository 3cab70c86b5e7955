package fs_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netutil-fs/netutil-fs/internal/fstest"
)

// cpusetV1 is this host's cgroup v1 cpuset hierarchy. Its cgroup v2 mount
// (/sys/fs/cgroup/unified) has no cpuset controller, so v2 cpusets are
// covered only by the temp-tree test in sources (TestProcfsCPUSet).
const cpusetV1 = "/sys/fs/cgroup/cpuset"

// makeCpusets creates a test cgroup with one child per cpus value and
// returns their directories; all are removed when the test ends.
func makeCpusets(t *testing.T, cpus ...string) []string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(cpusetV1, "cpuset.cpus")); err != nil {
		t.Skipf("no cgroup v1 cpuset hierarchy at %s: %v", cpusetV1, err)
	}
	parent := filepath.Join(cpusetV1, fmt.Sprintf("netutil-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-")))
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatalf("create cgroup (needs root): %v", err)
	}
	dirs := []string{}
	t.Cleanup(func() {
		for _, dir := range append(dirs, parent) {
			// A task that has just exited may still be counted for a moment.
			deadline := time.Now().Add(5 * time.Second)
			for {
				err := syscall.Rmdir(dir)
				if err == nil || errors.Is(err, syscall.ENOENT) {
					break
				}
				if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
					t.Errorf("remove cgroup %s: %v", dir, err)
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	})
	write := func(dir, file, value string) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0o644); err != nil {
			t.Fatalf("write %s/%s: %v", dir, file, err)
		}
	}
	mems, err := os.ReadFile(filepath.Join(cpusetV1, "cpuset.mems"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := os.ReadFile(filepath.Join(cpusetV1, "cpuset.cpus"))
	if err != nil {
		t.Fatal(err)
	}
	write(parent, "cpuset.cpus", strings.TrimSpace(string(all)))
	write(parent, "cpuset.mems", strings.TrimSpace(string(mems)))
	for i, c := range cpus {
		dir := filepath.Join(parent, fmt.Sprintf("c%d", i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		dirs = append([]string{dir}, dirs...)
		write(dir, "cpuset.cpus", c)
		write(dir, "cpuset.mems", strings.TrimSpace(string(mems)))
	}
	return dirs
}

// readerScript joins the cgroup $CG, says ready, waits for a line on stdin,
// then reads cpu and env/NETUTIL_ME $N times through the mount $M, with bash
// read -r and with cat, printing what it saw.
const readerScript = `
echo $$ > "$CG/tasks" || exit 1
echo ready
read -r _
for ((i = 0; i < N; i++)); do
	read -r cpu < "$M/cpu" || exit 1
	read -r me < "$M/env/NETUTIL_ME" || exit 1
	echo "$cpu $me"
	if ((i % 10 == 0)); then
		echo "$(cat "$M/cpu") $(cat "$M/env/NETUTIL_ME")"
	fi
done
`

// TestCpusetsPerReader runs two processes in two cpuset cgroups, with
// different environments, reading cpu and env at the same time: each must
// only ever see its own.
func TestCpusetsPerReader(t *testing.T) {
	t.Parallel()
	fstest.RequireFuse(t)
	cgroups := makeCpusets(t, "0", "1")
	mnt, _ := mountNetworks(t, nil)

	const reads = 200
	type reader struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		stdout *bufio.Scanner
		want   string
		stderr strings.Builder
	}
	var rs []*reader
	for i, want := range []string{"0 alpha", "1 beta"} {
		r := &reader{want: want}
		r.cmd = exec.Command("bash", "-c", readerScript)
		r.cmd.Env = append(os.Environ(), "CG="+cgroups[len(cgroups)-1-i], "M="+mnt, fmt.Sprintf("N=%d", reads),
			"NETUTIL_ME="+strings.Fields(want)[1])
		r.cmd.Stderr = &r.stderr
		var err error
		if r.stdin, err = r.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := r.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		r.stdout = bufio.NewScanner(out)
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.cmd.Process.Kill(); r.cmd.Wait() })
		rs = append(rs, r)
	}
	// Both are in their cgroups before either reads.
	for _, r := range rs {
		if !r.stdout.Scan() || r.stdout.Text() != "ready" {
			r.cmd.Wait()
			t.Fatalf("reader for %q did not start: %q %s", r.want, r.stdout.Text(), r.stderr.String())
		}
	}
	for _, r := range rs {
		r.stdin.Close()
	}
	var wg sync.WaitGroup
	results := make([]map[string]int, len(rs))
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen := map[string]int{}
			for r.stdout.Scan() {
				seen[r.stdout.Text()]++
			}
			results[i] = seen
		}()
	}
	wg.Wait()
	for i, r := range rs {
		if err := r.cmd.Wait(); err != nil {
			t.Errorf("reader %q: %v: %s", r.want, err, r.stderr.String())
		}
		wantCount := reads + (reads+9)/10
		if len(results[i]) != 1 || results[i][r.want] != wantCount {
			t.Errorf("reader in cpuset %q saw %v, want only %q, %d times", r.want, results[i], r.want, wantCount)
		}
	}
}
