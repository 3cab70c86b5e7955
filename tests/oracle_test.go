package tests

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIsolationNoInodeOracle: a process must not be able to confirm a guess
// of another process's environment variable. Were equal bytes to share an
// inode number across readers, a process B could set NETUTIL_SECRET to a
// guess, stat env/NETUTIL_SECRET, and see A's inode number (and read A's
// warm page cache) exactly when the guess is right: one guess per exec, no
// privilege needed. So while A holds its env/NETUTIL_SECRET open, B's
// lookups of the same name with the same bytes must give another inode
// number. What caching needs still holds: one process reading the same
// content again keeps its number, and cpu (no secret: any process may read
// another's Cpus_allowed_list) and networks/ files have one number for
// every reader with the same bytes.
func TestIsolationNoInodeOracle(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{})
	secret := fmt.Sprintf("hunter2-%d", time.Now().UnixNano())
	envFile := filepath.Join(s.Mnt, "env", "NETUTIL_SECRET")
	cpuFile := filepath.Join(s.Mnt, "cpu")

	// A opens both files, prints their inode numbers as fstat sees them
	// through /proc/<pid>/fd, and holds them open until its stdin closes.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := exec.CommandContext(ctx, "bash", "-c", `
exec 3<"$1" 4<"$2" || exit 1
stat -L -c %i /proc/$$/fd/3 /proc/$$/fd/4 || exit 1
IFS= read -r v <&3; echo "$v"
read -r _
`, "holder", envFile, cpuFile)
	a.Env = append(os.Environ(), "NETUTIL_SECRET="+secret)
	var aErr strings.Builder
	a.Stderr = &aErr
	stdin, err := a.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := a.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); a.Wait() }()
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 3 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 3 {
		stdin.Close()
		a.Wait()
		t.Fatalf("holder printed %q: %s", lines, aErr.String())
	}
	if lines[2] != secret {
		t.Fatalf("holder read %q from env/NETUTIL_SECRET, want %q", lines[2], secret)
	}
	aEnv, aCPU := lines[0], lines[1]

	// B and C, each its own process with the same bytes, look up the same
	// names while A holds A's inodes.
	guess := append(os.Environ(), "NETUTIL_SECRET="+secret)
	for _, who := range []string{"B", "C"} {
		cmd := exec.CommandContext(ctx, "stat", "-c", "%i", envFile, cpuFile)
		cmd.Env = guess
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: stat: %v", who, err)
		}
		got := strings.Fields(string(out))
		if len(got) != 2 {
			t.Fatalf("%s: stat printed %q", who, out)
		}
		if got[0] == aEnv {
			t.Errorf("%s's env/NETUTIL_SECRET holding the same value has A's inode number %s: a right guess of another process's variable is visible", who, aEnv)
		}
		// A cpuset is no secret: equal ones may share a number.
		if got[1] != aCPU {
			t.Errorf("%s's cpu has inode number %s, A's %s: equal cpusets should share one", who, got[1], aCPU)
		}
	}

	// One process reading its own content again keeps one number, so its
	// warm reads come from the page cache.
	// The kernel names the reading thread, so stay on one.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var first, second syscall.Stat_t
	if err := syscall.Stat(envFile, &first); err == nil {
		t.Fatalf("the test process has NETUTIL_SECRET in its environment; want it absent")
	}
	path := filepath.Join(s.Mnt, "env", "PATH")
	if err := syscall.Stat(path, &first); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(path, &second); err != nil {
		t.Fatal(err)
	}
	if first.Ino != second.Ino {
		t.Errorf("two lookups of env/PATH by one thread gave inode numbers %d and %d; want one", first.Ino, second.Ino)
	}

	// Shared files: one number for all readers.
	name := filepath.Join(s.Mnt, "networks", "0", "name")
	var inos []string
	for range 2 {
		out, err := exec.CommandContext(ctx, "stat", "-c", "%i", name).Output()
		if err != nil {
			t.Fatal(err)
		}
		inos = append(inos, strings.TrimSpace(string(out)))
	}
	if _, err := strconv.Atoi(inos[0]); err != nil || inos[0] != inos[1] {
		t.Errorf("networks/0/name has inode numbers %q for two readers; want one shared number", inos)
	}
}
