package sources

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// CgroupMount is where a cgroup hierarchy is mounted and which cgroup its
// mount point shows: "/" for a whole hierarchy, the container's own cgroup
// for a namespaced or bind-mounted one.
type CgroupMount struct {
	Dir  string
	Root string
	// NoCpuset is set when the hierarchy's root does not offer the
	// cpuset controller, so none of its cgroups has a cpuset.
	NoCpuset bool
}

// CgroupMounts are the hierarchies that can hold a cpuset.
type CgroupMounts struct {
	V2       CgroupMount
	CpusetV1 CgroupMount
}

// FindCgroupMounts reads <procRoot>/self/mountinfo for the cgroup v2 mount
// and the cgroup v1 mount carrying the cpuset controller. A v2 mount whose
// root does not offer the cpuset controller, as on a hybrid host where v1
// holds it, is marked NoCpuset, so that no lookup tries files that cannot
// exist.
func FindCgroupMounts(procRoot string) (CgroupMounts, error) {
	mountinfo := path.Join(procRoot, "self", "mountinfo")
	data, err := os.ReadFile(mountinfo)
	if err != nil {
		return CgroupMounts{}, fmt.Errorf("read %s: %w", mountinfo, err)
	}
	mounts := ParseMountinfo(data)
	if mounts.V2.Dir != "" {
		controllers, err := os.ReadFile(path.Join(mounts.V2.Dir, "cgroup.controllers"))
		mounts.V2.NoCpuset = err == nil && !slices.Contains(strings.Fields(string(controllers)), "cpuset")
	}
	return mounts, nil
}

// ParseMountinfo picks the cgroup mounts out of a mountinfo file
// (proc_pid_mountinfo(5)); the first mount of each kind wins.
func ParseMountinfo(data []byte) CgroupMounts {
	var mounts CgroupMounts
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
		before, after, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		fields, tail := strings.Fields(before), strings.Fields(after)
		if len(fields) < 5 || len(tail) < 3 {
			continue
		}
		mount := CgroupMount{Dir: unescapeMountinfo(fields[4]), Root: unescapeMountinfo(fields[3])}
		switch {
		case tail[0] == "cgroup2" && mounts.V2.Dir == "":
			mounts.V2 = mount
		case tail[0] == "cgroup" && hasController(tail[2], "cpuset") && mounts.CpusetV1.Dir == "":
			mounts.CpusetV1 = mount
		}
	}
	return mounts
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) the kernel
// writes for white space and backslashes in paths.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// relative returns cgroup relative to the mount's root, if it lies below it.
// Paths from another cgroup namespace ("/../../kubepods/…") never do.
func (m CgroupMount) relative(cgroup string) (string, bool) {
	if m.Dir == "" || !strings.HasPrefix(cgroup, "/") || strings.Contains(cgroup, "/..") {
		return "", false
	}
	root := strings.TrimSuffix(m.Root, "/")
	if cgroup != root && !strings.HasPrefix(cgroup, root+"/") {
		return "", false
	}
	return strings.TrimPrefix(cgroup, root), true
}
