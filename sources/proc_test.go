package sources_test

import (
	"errors"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netutil-fs/netutil-fs/sources"
)

func TestParseEnviron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{name: "empty", in: "", want: map[string]string{}},
		{name: "simple", in: "HOME=/root\x00PATH=/bin:/usr/bin\x00", want: map[string]string{"HOME": "/root\n", "PATH": "/bin:/usr/bin\n"}},
		{name: "no trailing NUL", in: "A=1\x00B=2", want: map[string]string{"A": "1\n", "B": "2\n"}},
		{name: "value holding =", in: "OPTS=a=b=c\x00EQ==\x00", want: map[string]string{"OPTS": "a=b=c\n", "EQ": "=\n"}},
		{name: "empty value", in: "EMPTY=\x00", want: map[string]string{"EMPTY": "\n"}},
		{name: "value with spaces, tabs, newline and non-UTF-8", in: "V= a\tb\nc \xff\x00", want: map[string]string{"V": " a\tb\nc \xff\n"}},
		{
			name: "names that cannot be file names are skipped",
			in:   "=empty\x00.=dot\x00..=dotdot\x00a/b=slash\x00/=root\x00OK=1\x00",
			want: map[string]string{"OK": "1\n"},
		},
		{name: "names like dots are fine", in: "...=3\x00.a=x\x00a.=y\x00", want: map[string]string{"...": "3\n", ".a": "x\n", "a.": "y\n"}},
		{name: "duplicates: first wins", in: "X=first\x00Y=1\x00X=second\x00", want: map[string]string{"X": "first\n", "Y": "1\n"}},
		{name: "entries without = are skipped", in: "JUNK\x00\x00A=1\x00", want: map[string]string{"A": "1\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := sources.ParseEnviron([]byte(tt.in))
			files := map[string]string{}
			for _, e := range got.Entries() {
				if e.IsDir() {
					t.Errorf("%s is a directory", e.Name)
				}
				files[e.Name] = e.Content
			}
			diffFiles(t, files, tt.want)
		})
	}
	// The order of the environment is kept.
	got := entryNames(sources.ParseEnviron([]byte("Z=1\x00A=2\x00M=3\x00A=4")))
	if strings.Join(got, ",") != "Z,A,M" {
		t.Errorf("order = %q, want Z,A,M", got)
	}
}

func TestParseProcCgroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in       string
		wantV2, wantV1 string
	}{
		{name: "empty", in: ""},
		{
			name:   "hybrid, as on this kind of host",
			in:     "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/72ce\n3:cpuset:/kubepods/pod1/c1\n2:cpuacct:/\n1:cpu:/\n0::/user.slice\n",
			wantV2: "/user.slice", wantV1: "/kubepods/pod1/c1",
		},
		{name: "pure v2", in: "0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope\n", wantV2: "/kubepods.slice/kubepods-pod1.slice/cri-containerd-abc.scope"},
		{name: "v1 only, cpuset with other controllers", in: "5:cpu,cpuset,cpuacct:/docker/abc\n6:memory:/docker/abc", wantV1: "/docker/abc"},
		{name: "outside the cgroup namespace", in: "0::/../../kubepods/pod1\n3:cpuset:/../pod1\n", wantV2: "/../../kubepods/pod1", wantV1: "/../pod1"},
		{name: "path holding a colon", in: "3:cpuset:/a:b\n0::/c:d", wantV2: "/c:d", wantV1: "/a:b"},
		{name: "cpuset-like names do not count", in: "3:cpusetx:/a\n4:name=cpuset:/b\n", wantV1: ""},
		{name: "a named v1 hierarchy on id 0 is not v2", in: "0:name=x:/a\n", wantV2: ""},
		{name: "malformed lines ignored", in: "garbage\n3:cpuset\n0::/ok\n", wantV2: "/ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v2, v1 := sources.ParseProcCgroup([]byte(tt.in))
			if v2 != tt.wantV2 || v1 != tt.wantV1 {
				t.Errorf("ParseProcCgroup() = %q, %q; want %q, %q", v2, v1, tt.wantV2, tt.wantV1)
			}
		})
	}
}

func TestParseMountinfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want sources.CgroupMounts
	}{
		{name: "hybrid-v1", want: sources.CgroupMounts{
			V2:       sources.CgroupMount{Dir: "/sys/fs/cgroup/unified", Root: "/"},
			CpusetV1: sources.CgroupMount{Dir: "/sys/fs/cgroup/cpuset", Root: "/"},
		}},
		{name: "pure-v2", want: sources.CgroupMounts{V2: sources.CgroupMount{Dir: "/sys/fs/cgroup", Root: "/"}}},
		{name: "container-bind", want: sources.CgroupMounts{
			V2:       sources.CgroupMount{Dir: "/sys/fs/cgroup/unified", Root: "/kubepods.slice/kubepods-burstable.slice/cri-containerd-0b9e2a.scope"},
			CpusetV1: sources.CgroupMount{Dir: "/sys/fs/cgroup/cpuset", Root: "/kubepods/burstable/pod7c1f/0b9e2a"},
		}},
		// Octal escapes are undone; the first mount of each kind wins.
		{name: "escapes", want: sources.CgroupMounts{
			V2:       sources.CgroupMount{Dir: "/mnt/my cgroups/v2\\dir", Root: "/with space/and\ttab"},
			CpusetV1: sources.CgroupMount{Dir: "/mnt/cpuset v1", Root: "/a\nb"},
		}},
		{name: "no-cgroups", want: sources.CgroupMounts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", "mountinfo", tt.name))
			if err != nil {
				t.Fatal(err)
			}
			if got := sources.ParseMountinfo(data); got != tt.want {
				t.Errorf("ParseMountinfo() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFindCgroupMounts(t *testing.T) {
	t.Parallel()
	proc := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "mountinfo", "container-bind"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, proc, map[string]string{"self/mountinfo": string(data)})
	got, err := sources.FindCgroupMounts(proc)
	if err != nil {
		t.Fatal(err)
	}
	if got.CpusetV1.Dir != "/sys/fs/cgroup/cpuset" || got.V2.Dir != "/sys/fs/cgroup/unified" {
		t.Errorf("FindCgroupMounts() = %+v", got)
	}
	if _, err := sources.FindCgroupMounts(t.TempDir()); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("FindCgroupMounts(empty dir) error = %v, want ErrNotExist", err)
	}
}

// writeFiles creates path → content under root.
func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const testPid = 4242

// TestProcfsCPUSet reads a /proc-like tree and cgroupfs-like trees. The v2
// rows are the only cover cgroup v2 cpusets get: this host's v2 hierarchy
// has no cpuset controller, so the mount tests use v1 (see fs/cgroup_test.go).
func TestProcfsCPUSet(t *testing.T) {
	t.Parallel()
	const status = "Name:\tdpdk\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed_list:\t0\n"
	tests := []struct {
		name string
		// proc holds files under <proc>/4242; v2 and v1 files under
		// each hierarchy's mount directory.
		proc, v2, v1 map[string]string
		// Roots of the mounts; "" means "/".
		v2Root, v1Root string
		want           string
		wantErr        error
	}{
		{
			name: "v2 cpuset.cpus.effective",
			proc: map[string]string{"cgroup": "0::/kubepods/pod1/ctr\n", "status": status},
			v2:   map[string]string{"kubepods/pod1/ctr/cpuset.cpus.effective": "2-5\n", "kubepods/pod1/ctr/cpuset.cpus": "7\n"},
			want: "2-5\n",
		},
		{
			name:   "v2 mount of a sub-tree",
			proc:   map[string]string{"cgroup": "0::/kubepods/pod1/ctr\n"},
			v2:     map[string]string{"ctr/cpuset.cpus.effective": "3\n"},
			v2Root: "/kubepods/pod1",
			want:   "3\n",
		},
		{
			name: "v2 at the root",
			proc: map[string]string{"cgroup": "0::/\n"},
			v2:   map[string]string{"cpuset.cpus.effective": "0-63\n"},
			want: "0-63\n",
		},
		{
			name: "v1 cpuset.cpus, hybrid host with no v2 cpuset",
			proc: map[string]string{"cgroup": "3:cpuset:/kubepods/pod1/ctr\n0::/\n", "status": status},
			v2:   map[string]string{"cgroup.controllers": "\n"},
			v1:   map[string]string{"kubepods/pod1/ctr/cpuset.cpus": "0,2,4-7\n", "kubepods/pod1/ctr/cpuset.effective_cpus": "9\n"},
			want: "0,2,4-7\n",
		},
		{
			name:   "v1 mount of a sub-tree",
			proc:   map[string]string{"cgroup": "3:cpu,cpuset:/docker/abc\n"},
			v1:     map[string]string{"cpuset.cpus": "1\n"},
			v1Root: "/docker/abc",
			want:   "1\n",
		},
		{
			name: "v2 wins over v1",
			proc: map[string]string{"cgroup": "3:cpuset:/a\n0::/b\n"},
			v2:   map[string]string{"b/cpuset.cpus.effective": "4\n"},
			v1:   map[string]string{"a/cpuset.cpus": "5\n"},
			want: "4\n",
		},
		{
			name: "v2 cgroup outside the mount: the process's own view",
			proc: map[string]string{
				"cgroup": "0::/../../kubepods/pod1/ctr\n", "status": status,
				"root/sys/fs/cgroup/cpuset.cpus.effective": "6-7\n",
			},
			v2:   map[string]string{"kubepods/pod1/ctr/cpuset.cpus.effective": "9\n"},
			want: "6-7\n",
		},
		{
			name: "v1 cgroup outside the mount: the process's own view",
			proc: map[string]string{
				"cgroup": "3:cpuset:/../pod1/ctr\n0::/\n", "status": status,
				"root/sys/fs/cgroup/cpuset/cpuset.cpus": "3-4\n",
			},
			v1:   map[string]string{"pod1/ctr/cpuset.cpus": "9\n"},
			want: "3-4\n",
		},
		{
			name: "cgroup beside the mount's root: the process's own view",
			proc: map[string]string{
				"cgroup":                                "3:cpuset:/system.slice/x\n",
				"root/sys/fs/cgroup/cpuset/cpuset.cpus": "8\n",
			},
			v1:     map[string]string{"cpuset.cpus": "9\n"},
			v1Root: "/kubepods",
			want:   "8\n",
		},
		{
			name:   "prefix of the root is not below it",
			proc:   map[string]string{"cgroup": "3:cpuset:/kubepods-other/x\n", "status": status},
			v1:     map[string]string{"-other/x/cpuset.cpus": "9\n"},
			v1Root: "/kubepods",
			want:   "0-1\n",
		},
		{
			name: "empty v1 cpuset.cpus of a fresh cgroup: Cpus_allowed_list",
			proc: map[string]string{"cgroup": "3:cpuset:/new\n", "status": status},
			v1:   map[string]string{"new/cpuset.cpus": "\n"},
			want: "0-1\n",
		},
		{
			name: "no cgroup files: Cpus_allowed_list",
			proc: map[string]string{"cgroup": "3:cpuset:/gone\n0::/gone\n", "status": status},
			want: "0-1\n",
		},
		{
			name: "junk in cpuset file: Cpus_allowed_list",
			proc: map[string]string{"cgroup": "0::/a\n", "status": status},
			v2:   map[string]string{"a/cpuset.cpus.effective": "all of them\n"},
			want: "0-1\n",
		},
		{
			name:    "nothing known",
			proc:    map[string]string{"cgroup": "0::/a\n", "status": "Name:\tx\n"},
			wantErr: sources.ErrNoCPUSet,
		},
		{
			name:    "no such process",
			proc:    map[string]string{},
			wantErr: iofs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proc, v2, v1 := t.TempDir(), t.TempDir(), t.TempDir()
			if len(tt.proc) > 0 {
				writeFiles(t, filepath.Join(proc, "4242"), tt.proc)
			}
			writeFiles(t, v2, tt.v2)
			writeFiles(t, v1, tt.v1)
			root := func(r string) string {
				if r == "" {
					return "/"
				}
				return r
			}
			p := sources.NewProcfs(proc, sources.CgroupMounts{
				V2:       sources.CgroupMount{Dir: v2, Root: root(tt.v2Root)},
				CpusetV1: sources.CgroupMount{Dir: v1, Root: root(tt.v1Root)},
			})
			got, err := p.CPUSet(testPid)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || got != "" {
					t.Fatalf("CPUSet() = %q, %v; want \"\", %v", got, err, tt.wantErr)
				}
				if !errors.Is(err, iofs.ErrNotExist) {
					t.Errorf("CPUSet() error %v does not wrap ErrNotExist, so readers would not get ENOENT", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("CPUSet(): %v", err)
			}
			if got != tt.want {
				t.Errorf("CPUSet() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProcfsCPUSetNoMounts(t *testing.T) {
	t.Parallel()
	// With no mounts known, a process's own view of cgroupfs still counts.
	proc := t.TempDir()
	writeFiles(t, filepath.Join(proc, "4242"), map[string]string{
		"cgroup": "0::/\n", "root/sys/fs/cgroup/cpuset.cpus.effective": "1-3\n",
	})
	got, err := sources.NewProcfs(proc, sources.CgroupMounts{}).CPUSet(testPid)
	if err != nil || got != "1-3\n" {
		t.Errorf("CPUSet() = %q, %v; want \"1-3\\n\"", got, err)
	}
}

func TestProcfsEnv(t *testing.T) {
	t.Parallel()
	proc := t.TempDir()
	writeFiles(t, filepath.Join(proc, "4242"), map[string]string{"environ": "HOME=/home/app\x00X=a=b\x00..=no\x00X=second\x00"})
	p := sources.NewProcfs(proc, sources.CgroupMounts{})
	got, err := p.Env(testPid)
	if err != nil {
		t.Fatal(err)
	}
	diffFiles(t, snapshotFiles(t, got), map[string]string{"HOME": "/home/app\n", "X": "a=b\n"})

	if _, err := p.Env(1); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("Env(missing pid) error = %v, want ErrNotExist", err)
	}
	// A process with an empty environment has an empty env/.
	writeFiles(t, filepath.Join(proc, "7"), map[string]string{"environ": ""})
	if got, err := p.Env(7); err != nil || got.Len() != 0 {
		t.Errorf("Env(empty) = %v, %v; want empty", got, err)
	}
}

func TestProcfsRealProcess(t *testing.T) {
	t.Parallel()
	// This process's own environment, read back through /proc.
	cgroups, err := sources.FindCgroupMounts("/proc")
	if err != nil {
		t.Fatal(err)
	}
	p := sources.NewProcfs("/proc", cgroups)
	env, err := p.Env(uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		if e, ok := env.Lookup(name); ok && e.Content != value+"\n" && os.Getenv(name) == value {
			t.Errorf("env %s = %q, want %q", name, e.Content, value+"\n")
		}
	}
	cpus, err := p.CPUSet(uint32(os.Getpid()))
	if err != nil || !strings.HasSuffix(cpus, "\n") || len(cpus) < 2 {
		t.Errorf("CPUSet(self) = %q, %v", cpus, err)
	}
}

func TestParseStatStartTime(t *testing.T) {
	t.Parallel()
	// Field 22 of a real /proc/<pid>/stat is 113258.
	const rest = ` R 32110 32110 1059 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 113258 3133440 389 18446744073709551615 94510762946560 0`
	for _, tc := range []struct {
		name, stat string
		want       uint64 // 0: an error is wanted
	}{
		{"plain", "32112 (cat)" + rest, 113258},
		{"a name with spaces and parentheses", "32112 (a) b (c))" + rest, 113258},
		{"a name that looks like fields", "32112 (1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22)" + rest, 113258},
		{"no name", "32112 cat R 1 2", 0},
		{"cut short", "32112 (cat) R 32110 32110", 0},
		{"not a number", "32112 (cat)" + strings.Replace(rest, "113258", "x", 1), 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := sources.ParseStatStartTime([]byte(tc.stat))
			if tc.want == 0 {
				if err == nil {
					t.Errorf("ParseStatStartTime = %d, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseStatStartTime = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// The start time of real processes: a later process starts no earlier.
func TestProcfsStartTime(t *testing.T) {
	t.Parallel()
	p := sources.NewProcfs("/proc", sources.CgroupMounts{})
	self, err := p.StartTime(uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	child, err := p.StartTime(uint32(cmd.Process.Pid))
	if err != nil || child < self {
		t.Errorf("child's start time %d, %v; want no earlier than this process's, %d", child, err, self)
	}
	if _, err := p.StartTime(1 << 30); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("StartTime(no such pid) error %v, want ErrNotExist", err)
	}
}
