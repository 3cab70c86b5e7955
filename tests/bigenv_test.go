package tests

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// maxArgStrlen is the kernel's MAX_ARG_STRLEN: execve(2) refuses with E2BIG
// any one "NAME=value" string longer than 32 pages, NUL included.
const maxArgStrlen = 32 * 4096

// A reader with more than 1 MiB of environment, each variable of the
// largest size execve passes, reads every one whole with cat, one byte at a
// time with dd, and lists them all.
func TestLargeEnvironment(t *testing.T) {
	t.Parallel()
	s := startSidecar(t, sidecarOptions{})
	var env, names []string
	values := map[string]string{}
	for i := range 9 {
		name := fmt.Sprintf("BIG%d", i)
		values[name] = strings.Repeat(string(rune('a'+i)), maxArgStrlen-len(name)-2)
		env = append(env, name+"="+values[name])
		names = append(names, name)
	}
	total := 0
	for _, kv := range env {
		total += len(kv) + 1
	}
	if total <= 1<<20 {
		t.Fatalf("environment of %d bytes, want over 1 MiB", total)
	}
	for _, name := range names {
		out, stderr, err := run(t, env, "cat", filepath.Join(s.Mnt, "env", name))
		if err != nil || out != values[name]+"\n" {
			t.Errorf("cat env/%s: %d bytes, %v %s; want %d bytes", name, len(out), err, stderr, len(values[name])+1)
		}
	}
	out, stderr, err := run(t, env, "dd", "bs=1", "status=none", "if="+filepath.Join(s.Mnt, "env", "BIG8"))
	if err != nil || out != values["BIG8"]+"\n" {
		t.Errorf("dd bs=1 env/BIG8: %d bytes, %v %s", len(out), err, stderr)
	}
	out, stderr, err = run(t, env, "ls", filepath.Join(s.Mnt, "env"))
	if want := "BIG0\nBIG1\nBIG2\nBIG3\nBIG4\nBIG5\nBIG6\nBIG7\nBIG8\nPATH\n"; err != nil || out != want {
		t.Errorf("ls env: %q, %v %s; want %q", out, err, stderr, want)
	}
	// The premise of the 128 KiB: one byte more and exec refuses, so no
	// process started by exec has a larger variable.
	if _, _, err := run(t, []string{"BIG=" + strings.Repeat("x", maxArgStrlen-4)}, "true"); !errors.Is(err, syscall.E2BIG) {
		t.Errorf("exec with a %d-byte variable: %v, want E2BIG", maxArgStrlen+1, err)
	}
}
