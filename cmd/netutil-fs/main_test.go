package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netutil-fs/netutil-fs/internal/fstest"
	"github.com/netutil-fs/netutil-fs/internal/kubelettest"
	"github.com/netutil-fs/netutil-fs/internal/sidecartest"
)

// parseArgs sets klog's global flags, so these rows run one after another.
func TestParseArgs(t *testing.T) {
	defaults := config{mountpoint: "/etc/netutil/fs", podinfoDir: "/etc/podinfo", procRoot: "/proc", sysRoot: "/sys", pollInterval: time.Second}
	tests := []struct {
		name    string
		args    []string
		want    config
		wantErr string // substring; "" for none
	}{
		{name: "defaults", args: nil, want: defaults},
		{name: "every flag", args: []string{"--mountpoint=/mnt/x", "--podinfo-dir", "/pi", "--proc-root=/host/proc", "--sys-root=/host/sys", "--poll-interval=250ms"},
			want: config{mountpoint: "/mnt/x", podinfoDir: "/pi", procRoot: "/host/proc", sysRoot: "/host/sys", pollInterval: 250 * time.Millisecond}},
		{name: "klog -v", args: []string{"-v=4", "--mountpoint=/m"}, want: config{mountpoint: "/m", podinfoDir: "/etc/podinfo", procRoot: "/proc", sysRoot: "/sys", pollInterval: time.Second}},
		{name: "klog -v=0 and --logtostderr", args: []string{"-v", "0", "--logtostderr=true"}, want: defaults},
		{name: "version", args: []string{"--version"}, want: config{mountpoint: "/etc/netutil/fs", podinfoDir: "/etc/podinfo", procRoot: "/proc", sysRoot: "/sys", pollInterval: time.Second, showVersion: true}},
		{name: "bad flag", args: []string{"--mount-point=/x"}, wantErr: "flag provided but not defined: -mount-point"},
		{name: "bad -v", args: []string{"-v=loud"}, wantErr: `invalid value "loud" for flag -v`},
		{name: "empty mountpoint", args: []string{"--mountpoint="}, wantErr: "--mountpoint must not be empty"},
		{name: "empty podinfo-dir", args: []string{"--podinfo-dir="}, wantErr: "--podinfo-dir must not be empty"},
		{name: "empty proc-root", args: []string{"--proc-root="}, wantErr: "--proc-root must not be empty"},
		{name: "zero poll interval", args: []string{"--poll-interval=0s"}, wantErr: "--poll-interval must be positive"},
		{name: "negative poll interval", args: []string{"--poll-interval=-1s"}, wantErr: "--poll-interval must be positive"},
		{name: "bad duration", args: []string{"--poll-interval=soon"}, wantErr: `invalid value "soon"`},
		{name: "stray argument", args: []string{"--mountpoint=/m", "extra"}, wantErr: `unexpected arguments ["extra"]`},
		{name: "stray argument after --", args: []string{"--", "--mountpoint=/m"}, wantErr: `unexpected arguments ["--mountpoint=/m"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := parseArgs(tt.args, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseArgs(%q) error = %v, want one containing %q", tt.args, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error %q is more than one line", err)
				}
				if out.Len() != 0 {
					t.Errorf("parseArgs printed %q on error; main prints the one line", out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("parseArgs(%q): %v", tt.args, err)
			}
			if got != tt.want {
				t.Errorf("parseArgs(%q) = %+v, want %+v", tt.args, got, tt.want)
			}
		})
	}
	t.Run("help", func(t *testing.T) {
		var out bytes.Buffer
		if _, err := parseArgs([]string{"-h"}, &out); !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("parseArgs(-h) error = %v, want flag.ErrHelp", err)
		}
		for _, want := range []string{"-mountpoint", "-podinfo-dir", "-v value"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("usage lacks %q:\n%s", want, out.String())
			}
		}
	})
	// Leave klog as the other tests expect it.
	if _, err := parseArgs([]string{"-v=0"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// buildBinary builds the sidecar once for all tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "netutil-fs-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "netutil-fs")
		if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// podinfoDir writes a one-network annotations file as the kubelet would.
func podinfoDir(t *testing.T) string {
	dir := t.TempDir()
	content := kubelettest.FormatMap(map[string]string{
		"k8s.v1.cni.cncf.io/network-status": `[{"name": "cbr0", "interface": "eth0", "default": true}]`,
		"kubernetes.io/config.source":       "api",
	})
	if err := os.WriteFile(filepath.Join(dir, "annotations"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startSidecar runs the binary on mnt and waits until it serves.
func startSidecar(t *testing.T, mnt, podinfo string) *sidecartest.Sidecar {
	t.Helper()
	return sidecartest.Start(t, exec.Command(buildBinary(t), "--mountpoint="+mnt, "--podinfo-dir="+podinfo), mnt, "cbr0\n")
}

// errorLines returns klog's error lines and main's one-line errors.
func errorLines(log string) []string {
	var lines []string
	for line := range strings.SplitSeq(log, "\n") {
		if strings.HasPrefix(line, "E") || strings.HasPrefix(line, "netutil-fs:") {
			lines = append(lines, line)
		}
	}
	return lines
}

func TestBinaryFails(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	file := filepath.Join(t.TempDir(), "regular-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantLine string
	}{
		{"mount point is a regular file", []string{"--mountpoint=" + file, "--podinfo-dir=" + t.TempDir()}, 1, "not a directory"},
		{"mount point below a regular file", []string{"--mountpoint=" + file + "/mnt", "--podinfo-dir=" + t.TempDir()}, 1, "not a directory"},
		{"bad flag", []string{"--mountpoint=/x", "--frobnicate"}, 2, "netutil-fs: flag provided but not defined: -frobnicate"},
		{"stray argument", []string{"now"}, 2, `netutil-fs: unexpected arguments ["now"]`},
		{"empty value", []string{"--podinfo-dir="}, 2, "netutil-fs: --podinfo-dir must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(bin, tt.args...).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != tt.wantCode {
				t.Fatalf("exit: %v, want code %d\n%s", err, tt.wantCode, out)
			}
			lines := errorLines(string(out))
			if len(lines) != 1 || !strings.Contains(lines[0], tt.wantLine) {
				t.Errorf("error lines %q, want one containing %q; output:\n%s", lines, tt.wantLine, out)
			}
			if tt.wantCode == 2 && strings.Count(string(out), "\n") != 1 {
				t.Errorf("bad usage printed more than one line:\n%s", out)
			}
		})
	}
}

// TestBinaryNoFuseDevice runs the sidecar in a mount namespace where
// /dev/fuse is missing, or is not the FUSE device.
func TestBinaryNoFuseDevice(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	for _, tt := range []struct {
		name, setup, want string
	}{
		{"missing", "mount -t tmpfs none /dev", "/dev/fuse: no such file or directory (the sidecar needs the FUSE device"},
		{"not the device", "mount --bind /dev/null /dev/fuse", "/dev/fuse is not the FUSE device"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mnt := filepath.Join(t.TempDir(), "mnt")
			script := tt.setup + ` || exit 99; exec "$0" --mountpoint="$1" --podinfo-dir=/nonexistent`
			out, err := exec.Command("unshare", "--mount", "sh", "-c", script, bin, mnt).CombinedOutput()
			var exit *exec.ExitError
			if errors.As(err, &exit) && exit.ExitCode() == 99 {
				t.Skipf("cannot set up a mount namespace here: %s", out)
			}
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want code 1\n%s", err, out)
			}
			if lines := errorLines(string(out)); len(lines) != 1 || !strings.Contains(lines[0], tt.want) {
				t.Errorf("error lines %q, want one containing %q", lines, tt.want)
			}
		})
	}
}

func TestBinarySIGTERM(t *testing.T) {
	t.Parallel()
	fstest.RequireFuse(t)
	mnt := filepath.Join(t.TempDir(), "a", "mnt") // created by the sidecar
	s := startSidecar(t, mnt, podinfoDir(t))
	if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.Wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, s.Log)
	}
	if fstest.IsMounted(t, mnt) {
		t.Errorf("%s still mounted after SIGTERM", mnt)
	}
	if !strings.Contains(s.Log.String(), `"Stopped"`) {
		t.Errorf("log lacks the Stopped line:\n%s", s.Log)
	}
}

// A reader holding a file open makes the clean unmount fail with EBUSY:
// the sidecar detaches lazily and still exits 0 in time.
func TestBinarySIGTERMBusy(t *testing.T) {
	t.Parallel()
	fstest.RequireFuse(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	s := startSidecar(t, mnt, podinfoDir(t))
	f, err := os.Open(filepath.Join(mnt, "networks", "0", "name"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reader := exec.Command("sleep", "60")
	reader.Dir = filepath.Join(mnt, "networks")
	if err := reader.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { reader.Process.Kill(); reader.Wait() }()
	if err := s.Cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := s.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGINT with the mount busy, want 0:\n%s", code, s.Log)
	}
	if fstest.IsMounted(t, mnt) {
		t.Errorf("%s still mounted after SIGINT", mnt)
	}
}

// A sidecar killed with SIGKILL leaves a dead mount behind; the next one
// clears it and serves on the same mount point.
func TestBinaryStaleMount(t *testing.T) {
	t.Parallel()
	fstest.RequireFuse(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	podinfo := podinfoDir(t)
	first := startSidecar(t, mnt, podinfo)
	if err := first.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait(t, 5*time.Second)
	// stat(2) may be answered from the kernel's attribute cache; statfs
	// and GNU stat's statx reach the dead connection.
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(mnt, &sfs); !errors.Is(err, syscall.ENOTCONN) {
		t.Fatalf("statfs of the dead mount: %v, want ENOTCONN", err)
	}
	out, _ := exec.Command("stat", mnt).CombinedOutput()
	if !strings.Contains(string(out), "Transport endpoint is not connected") {
		t.Errorf("stat %s printed %q, want Transport endpoint is not connected", mnt, out)
	}

	second := startSidecar(t, mnt, podinfo)
	if !strings.Contains(second.Log.String(), "Clearing stale mount") {
		t.Errorf("second sidecar's log does not say it cleared the stale mount:\n%s", second.Log)
	}
	if err := second.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := second.Wait(t, 5*time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0:\n%s", code, second.Log)
	}
	if fstest.IsMounted(t, mnt) {
		t.Errorf("%s still mounted after the second sidecar stopped", mnt)
	}
}
