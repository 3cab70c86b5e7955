package sources

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/klog/v2"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

// ErrNoCPUSet means neither a cgroup nor the affinity mask named the CPUs.
// It wraps fs.ErrNotExist: a value that is not known is a file that is not.
var ErrNoCPUSet = fmt.Errorf("no cpuset found: %w", fs.ErrNotExist)

// Procfs answers questions about one process from /proc and cgroupfs: its
// environment and the CPUs its container may run on.
type Procfs struct {
	root    string
	cgroups CgroupMounts
}

// NewProcfs reads processes under procRoot (normally "/proc") and their
// cpusets under the cgroup mounts the sidecar sees.
func NewProcfs(procRoot string, cgroups CgroupMounts) *Procfs {
	return &Procfs{root: procRoot, cgroups: cgroups}
}

// Env returns the process's environment as it was at exec, one file per
// variable holding the value and a newline.
func (p *Procfs) Env(pid uint32) (*snapshot.Dir, error) {
	data, err := p.read(pid, "environ")
	if err != nil {
		return nil, err
	}
	return ParseEnviron(data), nil
}

// ParseEnviron turns the NUL-separated content of /proc/<pid>/environ into
// files. A value may hold "=", so entries split at the first one. Names that
// cannot be file names ("", ".", "..", or holding "/") are left out, and the
// first of duplicate names wins, as getenv(3) does.
func ParseEnviron(data []byte) *snapshot.Dir {
	var entries []snapshot.Entry
	eachEnv(data, func(name, value []byte) bool {
		entries = append(entries, snapshot.File(string(name), string(value)+"\n"))
		return true
	})
	return snapshot.NewDir(entries)
}

// EnvVar returns one variable of the process's environment as its file
// holds it, "value\n", and whether the process has it. It answers a lookup
// without building the whole directory, by ParseEnviron's rules.
func (p *Procfs) EnvVar(pid uint32, name string) (string, bool, error) {
	data, err := p.read(pid, "environ")
	if err != nil {
		return "", false, err
	}
	var content string
	var found bool
	eachEnv(data, func(n, value []byte) bool {
		if string(n) == name {
			content, found = string(value)+"\n", true
		}
		return !found
	})
	return content, found, nil
}

// eachEnv calls fn for each variable whose name can be a file name, in
// order, until fn returns false.
func eachEnv(data []byte, fn func(name, value []byte) bool) {
	for kv := range bytes.SplitSeq(data, []byte{0}) {
		name, value, ok := bytes.Cut(kv, []byte("="))
		if ok && validFileName(name) && !fn(name, value) {
			return
		}
	}
}

func validFileName(name []byte) bool {
	return len(name) > 0 && !bytes.Equal(name, []byte(".")) && !bytes.Equal(name, []byte("..")) &&
		bytes.IndexByte(name, '/') < 0
}

// StartTime returns when the process started, in clock ticks since boot
// (field 22 of /proc/<pid>/stat). With the pid it names one process: a
// later process given the same pid starts in a later tick, unless pids were
// steered to come round within one.
func (p *Procfs) StartTime(pid uint32) (uint64, error) {
	data, err := p.read(pid, "stat")
	if err != nil {
		return 0, err
	}
	start, err := ParseStatStartTime(data)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", p.procPath(pid, "stat"), err)
	}
	return start, nil
}

// ParseStatStartTime returns the start time field of /proc/<pid>/stat. The
// command name before it, in parentheses, may hold spaces and ")", so the
// fields are counted from its last ")".
func ParseStatStartTime(data []byte) (uint64, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in %q", data)
	}
	// After the name: state (field 3) … starttime (field 22).
	fields := strings.Fields(string(data[end+1:]))
	const startTimeIndex = 22 - 3
	if len(fields) <= startTimeIndex {
		return 0, fmt.Errorf("%d fields after the command name, want over %d", len(fields), startTimeIndex)
	}
	start, err := strconv.ParseUint(fields[startTimeIndex], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("start time: %w", err)
	}
	return start, nil
}

// CPUSet returns the CPUs of the process's container as a Linux cpulist and
// a newline, "1-5\n". It reads, in order: the cgroup v2 cpuset.cpus.effective
// and the cgroup v1 cpuset.cpus of the process's cgroup as the sidecar sees
// it; the same files in the process's own view of cgroupfs, when its cgroup
// is outside the sidecar's cgroup namespace; and Cpus_allowed_list.
func (p *Procfs) CPUSet(pid uint32) (string, error) {
	data, err := p.read(pid, "cgroup")
	if err != nil {
		return "", err
	}
	v2, v1 := ParseProcCgroup(data)
	candidates := []string{
		p.cgroupFile(pid, p.cgroups.V2, v2, "", "cpuset.cpus.effective"),
		p.cgroupFile(pid, p.cgroups.CpusetV1, v1, "cpuset", "cpuset.cpus"),
	}
	for _, path := range candidates {
		if path == "" {
			continue
		}
		klog.V(5).InfoS("Reading", "path", path)
		data, err := readRegularFile(path, maxProcFile)
		if err != nil {
			continue
		}
		if cpus := strings.TrimSpace(string(data)); isCPUList(cpus) {
			return cpus + "\n", nil
		}
	}
	return p.allowedCPUs(pid)
}

// allowedCPUs reads the affinity mask, the answer when no cpuset cgroup is
// reachable.
func (p *Procfs) allowedCPUs(pid uint32) (string, error) {
	data, err := p.read(pid, "status")
	if err != nil {
		return "", err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), "Cpus_allowed_list:"); ok {
			if cpus := strings.TrimSpace(value); isCPUList(cpus) {
				return cpus + "\n", nil
			}
		}
	}
	return "", fmt.Errorf("pid %d: %w", pid, ErrNoCPUSet)
}

// cpuList matches a non-empty Linux cpulist such as "0,2,4-7".
var cpuList = regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`)

func isCPUList(s string) bool { return cpuList.MatchString(s) }

// cgroupFile returns the path of file in a cgroup: through the sidecar's
// mount when the cgroup lies below that mount's root, else through the
// process's own view of cgroupfs, where a container sees its own cgroup at
// the top. It returns "" when the process is in no cgroup of the hierarchy
// or the hierarchy holds no cpuset.
func (p *Procfs) cgroupFile(pid uint32, mount CgroupMount, cgroup, subdir, file string) string {
	if cgroup == "" || mount.NoCpuset {
		return ""
	}
	if rel, ok := mount.relative(cgroup); ok {
		return filepath.Join(mount.Dir, rel, file)
	}
	return p.procPath(pid, "root", "sys", "fs", "cgroup", subdir, file)
}

// ParseProcCgroup returns the cgroup v2 path ("0::/path") and the cgroup v1
// cpuset path ("N:cpuset,…:/path") from /proc/<pid>/cgroup; either may be "".
func ParseProcCgroup(data []byte) (v2, cpusetV1 string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		id, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		controllers, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && controllers == "":
			v2 = path
		case hasController(controllers, "cpuset"):
			cpusetV1 = path
		}
	}
	return v2, cpusetV1
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// Bounds on what is read of a reader's files. execve(2) passes at most
// 6 MiB of arguments and environment (3/4 of the kernel's 8 MiB _STK_LIM);
// only prctl(PR_SET_MM) can point a process's environ at more, and that is
// refused rather than read without end. A cgroup file or /proc status is a
// few KiB, a cpulist of every CPU of the largest machines among them.
const (
	maxEnviron  = 8 << 20
	maxProcFile = 64 << 10
)

// read reads /proc/<pid>/<name>. The pid is a thread id as FUSE reports it,
// which /proc resolves like a process id.
func (p *Procfs) read(pid uint32, name string) ([]byte, error) {
	path := p.procPath(pid, name)
	klog.V(5).InfoS("Reading", "path", path)
	limit := maxProcFile
	if name == "environ" {
		limit = maxEnviron
	}
	return readRegularFile(path, limit)
}

func (p *Procfs) procPath(pid uint32, elem ...string) string {
	return filepath.Join(append([]string{p.root, strconv.FormatUint(uint64(pid), 10)}, elem...)...)
}
