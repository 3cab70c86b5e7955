package sources_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netutil-fs/netutil-fs/sources"
)

// EnvVar answers lookups and ParseEnviron listings; they must agree on every
// name, valid or not, duplicated or not.
func TestEnvVarAgreesWithParseEnviron(t *testing.T) {
	t.Parallel()
	environ := "HOME=/home/app\x00X=a=b\x00..=no\x00X=second\x00a/b=no\x00=empty\x00NOVALUE\x00EMPTY=\x00"
	proc := t.TempDir()
	writeFiles(t, filepath.Join(proc, "4242"), map[string]string{"environ": environ})
	p := sources.NewProcfs(proc, sources.CgroupMounts{})
	listed := sources.ParseEnviron([]byte(environ))
	for _, name := range []string{"HOME", "X", "..", "a/b", "", "NOVALUE", "EMPTY", "MISSING", "HOM"} {
		got, ok, err := p.EnvVar(testPid, name)
		if err != nil {
			t.Fatalf("EnvVar(%q): %v", name, err)
		}
		want, wantOK := listed.Lookup(name)
		if ok != wantOK || got != want.Content {
			t.Errorf("EnvVar(%q) = %q, %v; ParseEnviron has %q, %v", name, got, ok, want.Content, wantOK)
		}
	}
	if got, _, _ := p.EnvVar(testPid, "X"); got != "a=b\n" {
		t.Errorf("EnvVar(X) = %q, want the first of duplicates, %q", got, "a=b\n")
	}
}

// A hierarchy without the cpuset controller is not asked, even when the
// process's cgroup in it has a file of that name.
func TestProcfsCPUSetSkipsHierarchyWithoutCpuset(t *testing.T) {
	t.Parallel()
	proc, cgroups := t.TempDir(), t.TempDir()
	writeFiles(t, filepath.Join(proc, "4242"), map[string]string{"cgroup": "0::/app\n5:cpuset:/app\n"})
	writeFiles(t, cgroups, map[string]string{"v2/app/cpuset.cpus.effective": "0-7\n", "v1/app/cpuset.cpus": "3\n"})
	mounts := sources.CgroupMounts{
		V2:       sources.CgroupMount{Dir: filepath.Join(cgroups, "v2"), Root: "/", NoCpuset: true},
		CpusetV1: sources.CgroupMount{Dir: filepath.Join(cgroups, "v1"), Root: "/"},
	}
	if got, err := sources.NewProcfs(proc, mounts).CPUSet(testPid); err != nil || got != "3\n" {
		t.Errorf("CPUSet() = %q, %v; want \"3\\n\" from cgroup v1", got, err)
	}
}

// An environment is served whole up to 8 MiB, beyond anything execve(2)
// passes (6 MiB), so a 1 MiB variable is a 1 MiB file; a larger one, which
// only prctl(PR_SET_MM) can make, is refused with EFBIG rather than read
// without end.
func TestProcfsEnvSize(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("v", 1<<20)
	for _, tc := range []struct {
		name    string
		environ string
		want    string // EnvVar("BIG"); "" when an error is wanted
	}{
		{"a 1 MiB variable", "A=1\x00BIG=" + big + "\x00", big + "\n"},
		{"a 1 MiB variable among 6 MiB of others", strings.Repeat("PAD="+big+"\x00", 6) + "BIG=" + big + "\x00", big + "\n"},
		{"environ over 8 MiB", "BIG=" + strings.Repeat("v", 8<<20), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			proc := t.TempDir()
			writeFiles(t, filepath.Join(proc, "4242"), map[string]string{"environ": tc.environ})
			p := sources.NewProcfs(proc, sources.CgroupMounts{})
			got, ok, err := p.EnvVar(testPid, "BIG")
			_, envErr := p.Env(testPid)
			if tc.want == "" {
				for _, err := range []error{err, envErr} {
					if !errors.Is(err, sources.ErrTooLarge) {
						t.Errorf("error %v, want one wrapping ErrTooLarge (EFBIG)", err)
					}
				}
				return
			}
			if err != nil || envErr != nil || !ok || got != tc.want {
				t.Errorf("EnvVar(BIG) = %d bytes, %v, %v; Env: %v; want %d bytes", len(got), ok, err, envErr, len(tc.want))
			}
		})
	}
}
