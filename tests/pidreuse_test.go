package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// nsLastPid is the last pid the kernel handed out in this PID namespace;
// writing N to it makes N+1 the next pid, if free.
const nsLastPid = "/proc/sys/kernel/ns_last_pid"

// Pid reuse: process A reads env/X, exits, and a later process B is given
// A's pid (the kernel's pid_max is 32768 by default, so pids come round
// quickly) and the same X. B must get its own inode, not A's, which the
// kernel still caches: an inode number B could recognise would confirm that
// A's X held what B guessed. Not parallel: it steers the pid the kernel
// hands out next, which other tests' forks would take.
func TestIsolationPidReuse(t *testing.T) {
	if _, err := os.Stat(nsLastPid); err != nil {
		t.Skipf("cannot choose the next pid: %v", err)
	}
	s := startSidecar(t, sidecarOptions{})
	file := filepath.Join(s.Mnt, "env", "X")
	env := []string{"X=s3cret"}

	a := command(t, 10*time.Second, env, "stat", "-c", "%i", file)
	out, err := a.Output()
	if err != nil {
		t.Fatalf("A: stat env/X: %v", err)
	}
	inoA, pid := strings.TrimSpace(string(out)), a.Process.Pid
	// B starts at least one clock tick (10 ms) after A: what tells them
	// apart is the start time /proc/<pid>/stat gives in ticks. Only a
	// process that may steer pids, as this test does (CAP_SYS_ADMIN or
	// CAP_CHECKPOINT_RESTORE), could have A's pid reused within A's tick,
	// and such a process may read A's environ directly anyway.
	time.Sleep(30 * time.Millisecond)

	// B starts as a shell that checks it was given A's pid before it
	// touches the mount, and else exits 3 for another try: a lookup by a
	// process with another pid would make the kernel drop A's inode.
	for try := 0; ; try++ {
		if try == 50 {
			t.Skipf("could not get pid %d again in %d tries: other processes took it", pid, try)
		}
		if err := os.WriteFile(nsLastPid, []byte(strconv.Itoa(pid-1)), 0o644); err != nil {
			t.Skipf("cannot choose the next pid: %v", err)
		}
		b := command(t, 10*time.Second, env, "sh", "-c", `[ "$$" = "$1" ] || exit 3; exec stat -c %i "$2"`, "sh", strconv.Itoa(pid), file)
		out, err := b.Output()
		if b.ProcessState != nil && b.ProcessState.ExitCode() == 3 {
			continue
		}
		if err != nil {
			t.Fatalf("B: stat env/X as pid %d: %v", pid, err)
		}
		if inoB := strings.TrimSpace(string(out)); inoB == inoA {
			t.Errorf("B, given A's pid %d and A's value, got A's inode %s: a guess of A's environment could be confirmed", pid, inoA)
		}
		t.Logf("pid %d: A's inode %s, B's %s (after %d tries)", pid, inoA, strings.TrimSpace(string(out)), try+1)
		return
	}
}
