package tests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The test binary re-executed with readerModeEnv set is a reader process:
// per-reader files mean something only across processes. Its settings come
// from the environment, which is also what it reads back through env/.
const (
	readerModeEnv = "NETUTIL_TESTS_READER" // "load" or "fault"
	mntEnv        = "NETUTIL_TESTS_MNT"
	readsEnv      = "NETUTIL_TESTS_READS"   // load: how many reads
	cpusetEnv     = "NETUTIL_TESTS_CPUSET"  // optional: cgroup v1 cpuset dir to join first
	wantCPUEnv    = "NETUTIL_TESTS_WANTCPU" // the cpu file the reader must see
	varEnv        = "NETUTIL_TESTS_VAR"     // name of a variable whose env/ file is checked
	absentEnv     = "NETUTIL_TESTS_ABSENT"  // name another reader has and this one lacks
)

func readerMain(mode string) int {
	mnt := os.Getenv(mntEnv)
	if dir := os.Getenv(cpusetEnv); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "join cpuset %s: %v\n", dir, err)
			return 2
		}
	}
	r := &reader{mnt: mnt, wantCPU: os.Getenv(wantCPUEnv), name: os.Getenv(varEnv), absent: os.Getenv(absentEnv)}
	r.value = os.Getenv(r.name)
	switch mode {
	case "load":
		reads, err := strconv.Atoi(os.Getenv(readsEnv))
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", readsEnv, err)
			return 2
		}
		for i := range reads {
			if err := r.step(i); err != nil {
				fmt.Fprintf(os.Stderr, "read %d: %v\n", i, err)
				return 1
			}
		}
		fmt.Printf("%d reads\n", reads)
		return 0
	case "fault":
		// Read cpu, env/<var> and networks/0/ips in turn until one
		// fails; say which and with what errno.
		paths := []string{"cpu", "env/" + r.name, "networks/0/ips"}
		wants := []string{r.wantCPU, r.value + "\n", wantIPs(0)}
		for i := 0; ; i++ {
			k := i % len(paths)
			data, err := os.ReadFile(filepath.Join(mnt, paths[k]))
			if err != nil {
				fmt.Printf("error %s %s\n", paths[k], errnoOf(err))
				return 0
			}
			if string(data) != wants[k] {
				fmt.Printf("mismatch %s %q, want %q\n", paths[k], data, wants[k])
				return 1
			}
			if i == 3*len(paths) {
				fmt.Println("ready")
			}
		}
	}
	fmt.Fprintf(os.Stderr, "unknown reader mode %q\n", mode)
	return 2
}

// reader checks that every file it reads holds what it must for this
// process.
type reader struct {
	mnt, wantCPU, name, value, absent string
}

func (r *reader) path(elem ...string) string {
	return filepath.Join(append([]string{r.mnt}, elem...)...)
}

// step does the i-th read: it cycles through every file kind.
func (r *reader) step(i int) error {
	n := (i / 6) % len(fixture)
	switch i % 6 {
	case 0:
		return r.expect(r.path("cpu"), r.wantCPU)
	case 1:
		return r.expect(r.path("env", r.name), r.value+"\n")
	case 2:
		return r.expect(r.path("networks", strconv.Itoa(n), "ips"), wantIPs(n))
	case 3:
		return r.expect(r.path("networks", strconv.Itoa(n), "pci"), wantPCI(n))
	case 4:
		return r.listEnv()
	default:
		fi, err := os.Stat(r.path("env", r.name))
		if err != nil {
			return err
		}
		if fi.Size() != int64(len(r.value)+1) {
			return fmt.Errorf("stat env/%s: size %d, want %d", r.name, fi.Size(), len(r.value)+1)
		}
		if r.absent != "" {
			if _, err := os.Stat(r.path("env", r.absent)); !errors.Is(err, syscall.ENOENT) {
				return fmt.Errorf("stat env/%s, a name only another reader has: %v, want ENOENT", r.absent, err)
			}
		}
		return nil
	}
}

// expect reads path and compares; want "" means the file must not exist.
func (r *reader) expect(path, want string) error {
	data, err := os.ReadFile(path)
	if want == "" {
		if !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("%s: %q, %v; want ENOENT", path, data, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if string(data) != want {
		return fmt.Errorf("%s: %q, want %q", path, data, want)
	}
	return nil
}

// listEnv checks that ls env/ lists exactly this process's variables.
func (r *reader) listEnv() error {
	entries, err := os.ReadDir(r.path("env"))
	if err != nil {
		return err
	}
	got := make([]string, 0, len(entries))
	for _, e := range entries {
		got = append(got, e.Name())
	}
	var want []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name == "" || name == "." || name == ".." || strings.Contains(name, "/") || slices.Contains(want, name) {
			continue
		}
		want = append(want, name)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("ls env: %q, want %q", got, want)
	}
	return nil
}
