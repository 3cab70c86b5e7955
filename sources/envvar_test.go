package sources_test

import (
	"path/filepath"
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
