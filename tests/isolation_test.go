package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A name only another process has is ENOENT for this one through stat,
// readdir and read, even right after the other read it.
func TestIsolationNameOnlyAnotherHas(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{})
	name := fmt.Sprintf("NETUTIL_ISO_%d", os.Getpid())
	if _, ok := os.LookupEnv(name); ok {
		t.Fatalf("this test process must not have %s", name)
	}
	file := filepath.Join(s.Mnt, "env", name)
	for round := range 20 {
		out, stderr, err := run(t, []string{name + "=a"}, "sh", "-c", `cat "$1" && stat -c %s "$1" && ls "$2"`, "sh", file, filepath.Dir(file))
		if err != nil {
			t.Fatalf("round %d: reader with %s=a: %v: %s", round, name, err, stderr)
		}
		if lines := strings.Split(out, "\n"); lines[0] != "a" || lines[1] != "2" || !strings.Contains(out, "\n"+name+"\n") {
			t.Fatalf("round %d: reader with %s=a got %q, want its value a, size 2 and the name listed", round, name, out)
		}
		// Right after, a process without the name.
		out, stderr, err = run(t, nil, "stat", file)
		if err == nil || !strings.Contains(stderr, "No such file or directory") {
			t.Fatalf("round %d: stat %s by a process without it: %v %q %q, want No such file or directory", round, file, err, out, stderr)
		}
		out, stderr, err = run(t, nil, "ls", "-a", filepath.Dir(file))
		if err != nil || strings.Contains(out, name) {
			t.Fatalf("round %d: ls env by a process without %s: %v %q %q", round, name, err, out, stderr)
		}
		out, stderr, err = run(t, nil, "cat", file)
		if err == nil || !strings.Contains(stderr, "No such file or directory") {
			t.Fatalf("round %d: cat by a process without %s: %v %q %q", round, name, err, out, stderr)
		}
		// This process too: stat, lstat, open.
		if _, err := os.Stat(file); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("round %d: os.Stat by the test process: %v, want ENOENT", round, err)
		}
		if _, err := os.ReadFile(file); !errors.Is(err, syscall.ENOENT) {
			t.Fatalf("round %d: os.ReadFile by the test process: %v, want ENOENT", round, err)
		}
	}
}

// Readers with FOO=a and FOO=b, in cpusets 0 and 1, take turns and run
// at once; each always sees its own value and cpuset.
func TestIsolationTwoReaders(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{})
	sets := cpusets(t, "0", "1")
	file := filepath.Join(s.Mnt, "env", "FOO")
	cpu := filepath.Join(s.Mnt, "cpu")
	// Taking turns: each a new process whose pid is close to the last.
	for i := range 100 {
		value := []string{"a", "b"}[i%2]
		out, stderr, err := run(t, []string{"FOO=" + value, "CG=" + sets[i%2]}, "sh", "-c", `echo $$ > "$CG/cgroup.procs" && cat "$1" "$2"`, "sh", file, cpu)
		if want := fmt.Sprintf("%s\n%d\n", value, i%2); err != nil || out != want {
			t.Fatalf("turn %d: FOO=%s in cpuset %d read %q (%v %s), want %q", i, value, i%2, out, err, stderr, want)
		}
	}
	// At once: two reader processes, each checking every read.
	var wg sync.WaitGroup
	for i, value := range []string{"a", "b"} {
		wg.Go(func() {
			cmd := readerCmd(t, 60*time.Second, "load", s.Mnt, readsEnv+"=3000", cpusetEnv+"="+sets[i],
				wantCPUEnv+"="+strconv.Itoa(i)+"\n", varEnv+"=FOO", "FOO="+value,
				absentEnv+"="+[]string{"ONLY_B", "ONLY_A"}[i], []string{"ONLY_A=1", "ONLY_B=1"}[i])
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("reader FOO=%s: %v\n%s", value, err, out)
			}
		})
	}
	wg.Wait()
}

// Many short-lived processes, pids handed out again and again: each sees
// its own value, because the reader is named at every lookup.
func TestIsolationShortLivedProcesses(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{})
	file := filepath.Join(s.Mnt, "env", "V")
	const n = 300
	for i := range n {
		out, stderr, err := run(t, []string{"V=" + strconv.Itoa(i)}, "sh", "-c", `cat "$1"`, "sh", file)
		if want := strconv.Itoa(i) + "\n"; err != nil || out != want {
			t.Fatalf("process %d of %d read %q (%v %s), want %q", i, n, out, err, stderr, want)
		}
	}
}

// A pod without shareProcessNamespace: the sidecar has its own PID
// namespace, every reader arrives as pid 0 and gets ESRCH for cpu and
// env/, networks/ still works, and the hint is logged once.
//
// (A reader in a PID namespace nested inside the sidecar's is not hidden:
// the kernel names it by its pid in the sidecar's namespace, and it gets
// its own values; TestIsolationNestedPIDNamespace checks that.)
func TestIsolationOutsidePIDNamespace(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{ownPIDNamespace: true})
	for i := range 5 {
		for _, name := range []string{"cpu", "env/PATH", "env/X"} {
			_, err := os.ReadFile(filepath.Join(s.Mnt, name))
			if !errors.Is(err, syscall.ESRCH) {
				t.Errorf("read %s from outside the sidecar's PID namespace: %v, want ESRCH", name, err)
			}
			if i == 0 {
				_, stderr, err := run(t, []string{"X=1"}, "cat", filepath.Join(s.Mnt, name))
				if err == nil || !strings.Contains(stderr, "No such process") {
					t.Errorf("cat %s: %v %q, want No such process", name, err, stderr)
				}
			}
		}
		if _, err := os.ReadDir(filepath.Join(s.Mnt, "env")); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("ls env from outside the sidecar's PID namespace: %v, want ESRCH", err)
		}
		if got, err := os.ReadFile(filepath.Join(s.Mnt, "networks", "0", "name")); err != nil || string(got) != fixture[0].Name+"\n" {
			t.Errorf("networks/0/name from outside the PID namespace: %q, %v", got, err)
		}
	}
	const hint = "set shareProcessNamespace: true"
	// The hint is written when the first such request is answered; wait
	// for it, then count.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.Log.String(), hint); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no shareProcessNamespace hint in the log after 5 s:\n%s", s.Log)
		}
	}
	if n := strings.Count(s.Log.String(), hint); n != 1 {
		t.Errorf("hint logged %d times after many hidden reads, want once:\n%s", n, s.Log)
	}
}

// A reader in a new PID namespace (unshare --pid --fork) nested in the
// sidecar's is still visible to it, and reads its own values.
func TestIsolationNestedPIDNamespace(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{})
	cmd := command(t, 20*time.Second, []string{"X=nested"}, "unshare", "--pid", "--fork", "sh", "-c", `echo $$; cat "$1/env/X" "$1/cpu"`, "sh", s.Mnt)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, os.ErrNotExist) || (err != nil && strings.Contains(string(out), "unshare failed")) {
		t.Skipf("cannot create a PID namespace here: %v %s", err, out)
	}
	if want := "1\nnested\n" + hostCPU(t); err != nil || string(out) != want {
		t.Fatalf("reader in a nested PID namespace: %q (%v), want %q", out, err, want)
	}
	if strings.Contains(s.Log.String(), "shareProcessNamespace") {
		t.Errorf("a visible reader made the sidecar log the shareProcessNamespace hint:\n%s", s.Log)
	}
}
