package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Filesystem magic numbers from statfs(2).
const (
	fuseMagic  = 0x65735546
	tmpfsMagic = 0x01021994
)

// fsType returns the statfs magic number of the filesystem holding path.
func fsType(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	return int64(st.Type), nil
}

// requireFSType fails unless path is on the filesystem with that magic.
func requireFSType(path string, magic int64, name string) error {
	got, err := fsType(path)
	if err != nil {
		return err
	}
	if got != magic {
		return fmt.Errorf("%s is not on %s (statfs type %#x)", path, name, got)
	}
	return nil
}

// sidecar is one running netutil-fs process.
type sidecar struct {
	cmd    *exec.Cmd
	mnt    string
	log    string
	exited chan struct{}
	err    error // set before exited is closed
}

// startSidecar execs the binary over mnt and podinfo. Its output goes to log.
// The returned time is taken just before the exec.
func startSidecar(bin, mnt, podinfo, log string, extra []string) (*sidecar, time.Time, error) {
	lf, err := os.Create(log)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("create sidecar log: %w", err)
	}
	args := append([]string{"--mountpoint=" + mnt, "--podinfo-dir=" + podinfo}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	s := &sidecar{cmd: cmd, mnt: mnt, log: log, exited: make(chan struct{})}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, t0, fmt.Errorf("exec %s: %w", bin, err)
	}
	go func() {
		s.err = cmd.Wait()
		lf.Close()
		close(s.exited)
	}()
	return s, t0, nil
}

func (s *sidecar) pid() int { return s.cmd.Process.Pid }

// logTail returns the last lines of the sidecar's log, for error messages.
func (s *sidecar) logTail() string {
	b, err := os.ReadFile(s.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	return strings.Join(lines, "\n")
}

// waitReady polls, every 50µs, until the mountpoint is a FUSE filesystem and
// probe (a path inside it) reads without error. It returns when that was
// first seen.
func (s *sidecar) waitReady(probe string, timeout time.Duration) (time.Time, error) {
	p, err := newCPath(probe)
	if err != nil {
		return time.Time{}, err
	}
	r := newReader()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		select {
		case <-s.exited:
			return time.Time{}, fmt.Errorf("sidecar exited before serving (%v); log:\n%s", s.err, s.logTail())
		default:
		}
		if t, err := fsType(s.mnt); err == nil && t == fuseMagic {
			_, err := r.readOnce(p)
			if err == nil {
				return time.Now(), nil
			}
			lastErr = err
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not serving after %s (last error: %v); log:\n%s", timeout, lastErr, s.logTail())
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// stop sends SIGTERM, waits for the process to exit and for the mount to be
// gone; a sidecar that does not comply is killed and its mount detached, and
// that is reported as an error.
func (s *sidecar) stop() error {
	var errs []error
	select {
	case <-s.exited:
	default:
		if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			errs = append(errs, fmt.Errorf("signal sidecar: %w", err))
		}
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			errs = append(errs, errors.New("sidecar still running 10s after SIGTERM; killed it"))
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.err != nil {
		errs = append(errs, fmt.Errorf("sidecar exit after SIGTERM: %w; log:\n%s", s.err, s.logTail()))
	}
	if t, err := fsType(s.mnt); err == nil && t == fuseMagic {
		errs = append(errs, errors.New("sidecar exited but left its mount; detached it"))
		if err := syscall.Unmount(s.mnt, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("detach %s: %w", s.mnt, err))
		}
	}
	return errors.Join(errs...)
}

// measureReady starts the sidecar readyRuns times and times exec to the first
// successful read of the first file. The last sidecar keeps running.
func (b *bench) measureReady(ctx context.Context) error {
	probe := filepath.Join(b.mnt, b.c.files[0])
	var samples []int64
	b.logf("starting %s %d times to time exec to first read of %s", b.c.bin, b.c.readyRuns, b.c.files[0])
	for i := range b.c.readyRuns {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		logDir := b.c.work
		if b.c.logDir != "" {
			logDir = b.c.logDir
			if err := os.MkdirAll(logDir, 0o755); err != nil {
				return fmt.Errorf("create log dir: %w", err)
			}
		}
		log := filepath.Join(logDir, fmt.Sprintf("sidecar-%d.log", i))
		b.logs = append(b.logs, log)
		car, t0, err := startSidecar(b.c.bin, b.mnt, b.podinfo.dir, log, b.c.sidecarArgs)
		if err != nil {
			b.report.ready(samples, err)
			return err
		}
		b.car = car
		t1, err := car.waitReady(probe, b.c.readyTimeout)
		if err != nil {
			err = errors.Join(err, car.stop())
			b.car = nil
			b.report.ready(samples, err)
			return err
		}
		samples = append(samples, t1.Sub(t0).Nanoseconds())
		if i == b.c.readyRuns-1 {
			break
		}
		err = car.stop()
		b.car = nil
		if err != nil {
			b.report.ready(samples, err)
			return err
		}
	}
	slices.Sort(samples)
	b.report.ready(samples, nil)
	return nil
}
