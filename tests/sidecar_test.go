package tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/netutil-fs/netutil-fs/internal/kubelettest"
	"github.com/netutil-fs/netutil-fs/internal/sidecartest"
)

// binary is the sidecar and readerBinary this package's test binary built
// without the race detector, both built once by TestMain. Readers run
// readerBinary so that a load of 64 of them measures the sidecar rather than
// 64 race detectors; the sidecar is tested for races in-process by ../fs.
var binary, readerBinary string

func TestMain(m *testing.M) {
	if mode := os.Getenv(readerModeEnv); mode != "" {
		os.Exit(readerMain(mode))
	}
	dir, err := os.MkdirTemp("", "netutil-fs-tests-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "netutil-fs")
	readerBinary = filepath.Join(dir, "readers.test")
	for _, build := range [][]string{
		{"go", "build", "-o", binary, "../cmd/netutil-fs"},
		{"go", "test", "-c", "-o", readerBinary, "."},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		out, err := exec.CommandContext(ctx, build[0], build[1:]...).CombinedOutput()
		cancel()
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n%s", strings.Join(build, " "), err, out)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// network is one entry of the fixture's network-status annotation, and
// what its files must hold.
type network struct {
	Name       string   `json:"name"`
	Interface  string   `json:"interface"`
	IPs        []string `json:"ips"`
	Mac        string   `json:"mac"`
	Default    bool     `json:"default"`
	DeviceInfo *struct {
		Type    string `json:"type"`
		Version string `json:"version"`
		PCI     struct {
			Address string `json:"pci-address"`
		} `json:"pci"`
	} `json:"device-info,omitempty"`
}

// fixture is the pod's network-status: networks/0 has no pci file,
// networks/1 and /2 have one each.
var fixture = func() []network {
	var nets []network
	data := `[
 {"name": "cbr0", "interface": "eth0", "ips": ["10.244.0.7", "fd00:10:244::7"], "mac": "0a:58:0a:f4:00:07", "default": true},
 {"name": "dataplane/sriov-left", "interface": "net1", "ips": ["192.168.10.5"], "mac": "7e:12:9c:40:aa:01",
  "device-info": {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:3b:02.1"}}},
 {"name": "dataplane/sriov-right", "interface": "net2", "ips": ["192.168.20.5", "2001:db8::5"], "mac": "7e:12:9c:40:aa:02",
  "device-info": {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:3b:0a.3"}}}
]`
	if err := json.Unmarshal([]byte(data), &nets); err != nil {
		panic(err)
	}
	return nets
}()

// wantIPs and wantPCI are the contents of networks/<n>/ips and /pci; ""
// for a pci file that must not exist.
func wantIPs(n int) string { return strings.Join(fixture[n].IPs, "\n") + "\n" }
func wantPCI(n int) string {
	if fixture[n].DeviceInfo == nil {
		return ""
	}
	return fixture[n].DeviceInfo.PCI.Address + "\n"
}

// writePodinfo writes the fixture as the kubelet's Downward API volume.
func writePodinfo(t *testing.T) string {
	t.Helper()
	status, err := json.Marshal(fixture)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "podinfo")
	kubelettest.Write(t, dir, map[string]string{"annotations": kubelettest.FormatMap(map[string]string{
		"k8s.v1.cni.cncf.io/network-status": string(status),
		"kubernetes.io/config.source":       "api",
	})})
	return dir
}

// sidecar is a running netutil-fs serving the fixture or a given podinfo.
type sidecar struct {
	*sidecartest.Sidecar
	podinfo string
}

type sidecarOptions struct {
	mnt     string // "" for a fresh one
	podinfo string // "" for a fresh fixture
	// ownPIDNamespace runs the sidecar as pid 1 of a new PID namespace,
	// as in a pod without shareProcessNamespace: every reader of this
	// test is outside it and arrives as pid 0.
	ownPIDNamespace bool
}

// startSidecar runs the sidecar and waits until it serves; see
// sidecartest.Start for how it is stopped.
func startSidecar(t *testing.T, opts sidecarOptions) *sidecar {
	t.Helper()
	s := &sidecar{podinfo: opts.podinfo}
	mnt := opts.mnt
	if mnt == "" {
		mnt = filepath.Join(t.TempDir(), "mnt")
	}
	if s.podinfo == "" {
		s.podinfo = writePodinfo(t)
	}
	// Bounds the sidecar should a test lose track of it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, binary, "--mountpoint="+mnt, "--podinfo-dir="+s.podinfo)
	if opts.ownPIDNamespace {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}
	s.Sidecar = sidecartest.Start(t, cmd, mnt, fixture[0].Name+"\n")
	return s
}

// usage is what the sidecar holds: open fds, OS threads and resident memory.
type usage struct {
	fds, threads int
	rssKiB       int
	fdTargets    string // what the fds are, for a message when they grow
}

func (u usage) String() string {
	return fmt.Sprintf("fds %d, threads %d, RSS %.1f MiB", u.fds, u.threads, float64(u.rssKiB)/1024)
}

func (s *sidecar) usage(t *testing.T) usage {
	t.Helper()
	pid := s.Cmd.Process.Pid
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	u := usage{fds: len(entries)}
	for _, e := range entries {
		target, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		u.fdTargets += e.Name() + "->" + target + " "
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		key, value, _ := strings.Cut(line, ":")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "Threads":
			u.threads, _ = strconv.Atoi(fields[0])
		case "VmRSS":
			u.rssKiB, _ = strconv.Atoi(fields[0])
		}
	}
	if u.threads == 0 || u.rssKiB == 0 {
		t.Fatalf("no Threads or VmRSS in /proc/%d/status:\n%s", pid, status)
	}
	return u
}

// mountCount returns how many mounts /proc/self/mountinfo has at dir.
func mountCount(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && fields[4] == dir {
			n++
		}
	}
	return n
}

// errnoOf names the errno inside err, or describes err when there is none.
func errnoOf(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errnoName(errno)
	}
	return err.Error()
}

func errnoName(errno syscall.Errno) string {
	names := map[syscall.Errno]string{
		syscall.ENOTCONN: "ENOTCONN", syscall.ECONNABORTED: "ECONNABORTED", syscall.EIO: "EIO",
		syscall.ENOENT: "ENOENT", syscall.ESRCH: "ESRCH", syscall.EROFS: "EROFS", syscall.ENODEV: "ENODEV",
		syscall.EINTR: "EINTR", syscall.ENXIO: "ENXIO", syscall.ESTALE: "ESTALE", syscall.EBADF: "EBADF",
	}
	if name, ok := names[errno]; ok {
		return name
	}
	return fmt.Sprintf("errno %d (%v)", int(errno), errno)
}
