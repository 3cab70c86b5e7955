package fs_test

import (
	"errors"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	nadv1 "github.com/k8snetworkplumbingwg/network-attachment-definition-client/pkg/apis/k8s.cni.cncf.io/v1"
	"golang.org/x/sys/unix"

	"github.com/netutil-fs/netutil-fs/snapshot"
	"github.com/netutil-fs/netutil-fs/sources"
)

// sampleNetworks is the FORMATS.md pod: a default network and two SR-IOV
// VFs, one dual-stack.
func sampleNetworks() *snapshot.Dir {
	return sources.NetworksDir([]nadv1.NetworkStatus{
		{Name: "cbr0", Interface: "eth0", IPs: []string{"10.244.1.17"}, Mac: "0a:58:0a:f4:01:11", Default: true},
		{
			Name: "dataplane/sriov-left", Interface: "net1", IPs: []string{"192.168.10.4", "fd00:10::4"}, Mac: "7e:12:9c:40:aa:01",
			DeviceInfo: &nadv1.DeviceInfo{Type: "pci", Version: "1.1.0", Pci: &nadv1.PciDevice{PciAddress: "0000:3b:02.1"}},
		},
		{
			Name: "dataplane/sriov-right", Interface: "net2",
			DeviceInfo: &nadv1.DeviceInfo{Type: "pci", Version: "1.1.0", Pci: &nadv1.PciDevice{PciAddress: "0000:3b:0a.3", PfPciAddress: "0000:3b:00.0"}},
		},
	}, nil)
}

// readerEnv is the environment of the reader processes: this one's, with
// NETUTIL_X set to value.
func readerEnv(value string) []string {
	env := []string{"NETUTIL_X=" + value}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NETUTIL_X=") {
			env = append(env, kv)
		}
	}
	return env
}

// The ways users read a file, each a separate process.
var readers = []struct {
	name string
	cmd  func(path string) []string
	env  []string // extra environment
}{
	{name: "cat", cmd: func(p string) []string { return []string{"cat", p} }},
	{name: "bash read -r", cmd: func(p string) []string {
		return []string{"bash", "-c", `while IFS= read -r line; do printf '%s\n' "$line"; done < "$1"`, "bash", p}
	}},
	{name: "dd bs=1", cmd: func(p string) []string { return []string{"dd", "if=" + p, "bs=1", "status=none"} }},
	{name: "python3", cmd: func(p string) []string {
		return []string{"python3", "-c", "import sys; sys.stdout.write(open(sys.argv[1]).read())", p}
	}},
	{name: "go os.ReadFile", cmd: func(p string) []string { return []string{os.Args[0]} }, env: []string{goReaderEnv + "="}},
}

func TestReaders(t *testing.T) {
	t.Parallel()
	mnt, _ := mountNetworks(t, sampleNetworks())
	// A value with what shells and line readers trip on.
	const value = "a=b  two spaces\tand a tab $HOME \\n not a newline é"
	cpu, err := hostProcfs(t).CPUSet(uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	files := []struct {
		path, want string
	}{
		{"env/NETUTIL_X", value + "\n"},
		{"cpu", cpu},
		{"networks/0/name", "cbr0\n"},
		{"networks/0/default", "true\n"},
		{"networks/1/name", "dataplane/sriov-left\n"},
		{"networks/1/ips", "192.168.10.4\nfd00:10::4\n"},
		{"networks/1/pci", "0000:3b:02.1\n"},
		{"networks/2/pci", "0000:3b:0a.3\n"},
		{"networks/2/device-info/pf-pci-address", "0000:3b:00.0\n"},
	}
	for _, r := range readers {
		for _, f := range files {
			t.Run(r.name+"/"+f.path, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(mnt, f.path)
				args := r.cmd(path)
				cmd := exec.Command(args[0], args[1:]...)
				cmd.Env = readerEnv(value)
				if r.env != nil {
					cmd.Env = append(cmd.Env, goReaderEnv+"="+path)
				}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("%s: %v: %s", r.name, err, stderr.String())
				}
				if string(out) != f.want {
					t.Errorf("%s %s = %q, want %q", r.name, f.path, out, f.want)
				}
			})
		}
	}
}

// TestAttributes checks what ls -l and stat show: read-only modes, true
// sizes, and a read-only mount.
func TestAttributes(t *testing.T) {
	t.Parallel()
	mnt, _ := mountNetworks(t, sampleNetworks())
	for _, tt := range []struct {
		path string
		mode iofs.FileMode
		size int64 // -1: not checked
	}{
		{"", iofs.ModeDir | 0o555, -1},
		{"env", iofs.ModeDir | 0o555, -1},
		{"networks", iofs.ModeDir | 0o555, -1},
		{"networks/1", iofs.ModeDir | 0o555, -1},
		{"networks/1/device-info", iofs.ModeDir | 0o555, -1},
		{"networks/1/ips", 0o444, int64(len("192.168.10.4\nfd00:10::4\n"))},
		{"networks/0/name", 0o444, 5},
		{"env/PATH", 0o444, int64(len(os.Getenv("PATH")) + 1)},
	} {
		st, err := os.Stat(filepath.Join(mnt, tt.path))
		if err != nil {
			t.Errorf("stat %s: %v", tt.path, err)
			continue
		}
		if st.Mode() != tt.mode {
			t.Errorf("%s mode = %v, want %v", tt.path, st.Mode(), tt.mode)
		}
		if tt.size >= 0 && st.Size() != tt.size {
			t.Errorf("%s size = %d, want %d", tt.path, st.Size(), tt.size)
		}
	}
	// Inode numbers: FUSE's root is 1, and no two directories share one,
	// which find -samefile, rsync and du rely on.
	inos := map[uint64]string{}
	for _, dir := range []string{"", "env", "networks", "networks/0", "networks/1", "networks/2", "networks/1/device-info"} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(mnt, dir), &st); err != nil {
			t.Fatal(err)
		}
		if other, dup := inos[st.Ino]; dup {
			t.Errorf("%q and %q share inode number %d", dir, other, st.Ino)
		}
		inos[st.Ino] = dir
		if dir == "" && st.Ino != 1 {
			t.Errorf("the mount root has inode number %d, want 1", st.Ino)
		}
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(mnt, &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Flags&unix.ST_RDONLY == 0 {
		t.Errorf("mount flags %#x lack ST_RDONLY", sfs.Flags)
	}
}

// lsOf runs ls -1 on path in a process with exactly env.
func lsOf(t *testing.T, path string, env []string) string {
	t.Helper()
	ls, err := exec.LookPath("ls")
	if err != nil {
		t.Fatal(err)
	}
	return runWithEnv(t, env, ls, "-1", path)
}

// runWithEnv runs a program with env as given, duplicates and odd names
// included (exec.Cmd would tidy them away), and returns its stdout.
func runWithEnv(t *testing.T, env []string, argv ...string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	proc, err := os.StartProcess(argv[0], argv, &os.ProcAttr{Env: env, Files: []*os.File{nil, w, os.Stderr}})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	st, err := proc.Wait()
	if err != nil || !st.Success() {
		t.Fatalf("%q: %v %v", argv, st, err)
	}
	return out.String()
}

func TestList(t *testing.T) {
	t.Parallel()
	mnt, root := mountNetworks(t, sampleNetworks())

	if got := lsOf(t, mnt, nil); got != "cpu\nenv\nnetworks\n" {
		t.Errorf("ls of the mount = %q", got)
	}
	if got := lsOf(t, filepath.Join(mnt, "networks"), nil); got != "0\n1\n2\n" {
		t.Errorf("ls networks = %q", got)
	}
	if got := lsOf(t, filepath.Join(mnt, "networks", "1"), nil); got != "default\ndevice-info\ninterface\nips\nmac\nname\npci\n" {
		t.Errorf("ls networks/1 = %q", got)
	}

	// env/ lists the reader's own variables: the first of duplicates,
	// none whose name cannot be a file name.
	env := []string{"B=2", "A=1", "X=first", "X=second", "a/b=slash", ".=dot", "..=dotdot", "=empty", "E="}
	if got := lsOf(t, filepath.Join(mnt, "env"), env); got != "A\nB\nE\nX\n" {
		t.Errorf("ls env = %q, want A B E X", got)
	}
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"X": "first\n", "E": "\n", "A": "1\n"} {
		if got := runWithEnv(t, env, cat, filepath.Join(mnt, "env", name)); got != want {
			t.Errorf("cat env/%s = %q, want %q", name, got, want)
		}
	}
	// A process with an empty environment has an empty env/.
	if got := lsOf(t, filepath.Join(mnt, "env"), []string{}); got != "" {
		t.Errorf("ls env with no environment = %q", got)
	}

	// readdir keeps network-status order: 0 1 2 … 10 11, not 0 1 10 11 2.
	var statuses []nadv1.NetworkStatus
	var want []string
	for i := range 12 {
		statuses = append(statuses, nadv1.NetworkStatus{Name: "n" + strconv.Itoa(i)})
		want = append(want, strconv.Itoa(i))
	}
	root.SetNetworks(sources.NetworksDir(statuses, nil))
	f, err := os.Open(filepath.Join(mnt, "networks"))
	if err != nil {
		t.Fatal(err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil || strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("readdir networks = %q, %v; want %q", names, err, want)
	}
}

func TestNotKnownIsENOENT(t *testing.T) {
	t.Parallel()
	mnt, _ := mountNetworks(t, sampleNetworks())
	for _, p := range []string{
		"env/NETUTIL_NOT_SET", "networks/3", "networks/0/pci", "networks/2/ips", "networks/2/mac",
		"networks/0/device-info", "networks/0/gateway", "nothing", "env/a/b", "networks/-1",
	} {
		_, err := os.ReadFile(filepath.Join(mnt, p))
		if !errors.Is(err, syscall.ENOENT) {
			t.Errorf("read %s: %v, want ENOENT", p, err)
		}
	}
	out, err := exec.Command("cat", filepath.Join(mnt, "networks/0/pci")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "No such file or directory") {
		t.Errorf("cat networks/0/pci: %v %s; want No such file or directory", err, out)
	}
}

func TestWritesFailEROFS(t *testing.T) {
	t.Parallel()
	mnt, _ := mountNetworks(t, sampleNetworks())
	p := func(name string) string { return filepath.Join(mnt, name) }
	calls := []struct {
		name string
		call func() error
	}{
		{"open cpu O_WRONLY", func() error { return openClose(p("cpu"), os.O_WRONLY) }},
		{"open env/PATH O_RDWR", func() error { return openClose(p("env/PATH"), os.O_RDWR) }},
		{"open networks/0/name O_WRONLY|O_TRUNC", func() error { return openClose(p("networks/0/name"), os.O_WRONLY|os.O_TRUNC) }},
		{"open networks/0/name O_APPEND", func() error { return openClose(p("networks/0/name"), os.O_WRONLY|os.O_APPEND) }},
		{"create", func() error { return openClose(p("new"), os.O_WRONLY|os.O_CREATE) }},
		{"create in env", func() error { return openClose(p("env/NEW"), os.O_WRONLY|os.O_CREATE) }},
		{"mkdir", func() error { return os.Mkdir(p("networks/9"), 0o755) }},
		{"unlink", func() error { return syscall.Unlink(p("networks/0/name")) }},
		{"rmdir", func() error { return syscall.Rmdir(p("networks/0")) }},
		{"rename", func() error { return os.Rename(p("cpu"), p("cpu2")) }},
		{"chmod", func() error { return os.Chmod(p("cpu"), 0o666) }},
		{"chown", func() error { return os.Chown(p("networks/0/name"), 1, 1) }},
		{"truncate", func() error { return os.Truncate(p("networks/0/name"), 0) }},
		{"utimes", func() error { return unix.UtimesNano(p("cpu"), []unix.Timespec{{}, {}}) }},
		{"symlink", func() error { return os.Symlink("cpu", p("link")) }},
		{"link", func() error { return os.Link(p("networks/0/name"), p("hard")) }},
		{"setxattr", func() error { return unix.Setxattr(p("cpu"), "user.x", []byte("y"), 0) }},
		{"mknod", func() error { return unix.Mknod(p("fifo"), unix.S_IFIFO|0o644, 0) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s: %v, want EROFS", c.name, err)
		}
	}
	// And as users type them.
	for _, script := range []string{
		`echo x > "$M/cpu"`, `echo x >> "$M/env/PATH"`, `mkdir "$M/d"`, `rm -f "$M/networks/0/name"`, `rm -rf "$M/networks/0"`,
		`touch "$M/cpu"`, `touch "$M/new"`, `mv "$M/cpu" "$M/cpu2"`, `chmod 666 "$M/cpu"`,
		`ln -s x "$M/l"`, `ln "$M/cpu" "$M/h"`, `cp /etc/hostname "$M/networks/"`,
	} {
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = append(os.Environ(), "M="+mnt)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Read-only file system") {
			t.Errorf("%s: %v: %q; want a failure saying Read-only file system", script, err, out)
		}
	}
	// Nothing changed.
	if got, err := os.ReadFile(p("networks/0/name")); err != nil || string(got) != "cbr0\n" {
		t.Errorf("networks/0/name = %q, %v after the writes", got, err)
	}
}

func openClose(path string, flag int) error {
	f, err := os.OpenFile(path, flag, 0o644)
	if err == nil {
		f.Close()
	}
	return err
}
