// Package sidecartest runs the built netutil-fs binary as a real process for
// tests: started on a mount point, waited for until it serves, and stopped,
// its mount detached, when the test ends.
package sidecartest

import (
	"bytes"
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
)

// LogBuffer collects a process's output while tests read it.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Sidecar is a running netutil-fs.
type Sidecar struct {
	Mnt  string
	Cmd  *exec.Cmd
	Log  *LogBuffer
	Done chan struct{} // closed when it has exited
}

// Start runs cmd, the sidecar serving mnt, and waits until mnt's
// networks/0/name reads wantName and the log says Serving. When the test
// ends it stops the sidecar with SIGTERM (SIGQUIT, for the goroutines, after
// 5 s; SIGKILL 2 s later, failing the test) and detaches any mount left.
func Start(tb testing.TB, cmd *exec.Cmd, mnt, wantName string) *Sidecar {
	tb.Helper()
	fstest.RequireFuse(tb)
	s := &Sidecar{Mnt: mnt, Cmd: cmd, Log: &LogBuffer{}, Done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { cmd.Wait(); close(s.Done) }()
	tb.Cleanup(func() {
		select {
		case <-s.Done:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.Done:
			case <-time.After(5 * time.Second):
				cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-s.Done:
				case <-time.After(2 * time.Second):
					cmd.Process.Kill()
					<-s.Done
				}
				tb.Errorf("sidecar still running 5 s after SIGTERM; sent SIGQUIT for its goroutines")
			}
		}
		if fstest.IsMounted(tb, mnt) {
			syscall.Unmount(mnt, syscall.MNT_DETACH)
		}
		if tb.Failed() {
			tb.Logf("sidecar log:\n%s", s.Log)
		}
	})
	s.waitServing(tb, wantName)
	return s
}

// waitServing polls until networks/0/name reads want and the log says
// Serving: reads may answer a moment before the line is written.
func (s *Sidecar) waitServing(tb testing.TB, want string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := ReadFileBounded(filepath.Join(s.Mnt, "networks", "0", "name"))
		if err == nil && got == want && strings.Contains(s.Log.String(), `"Serving"`) {
			return
		}
		select {
		case <-s.Done:
			tb.Fatalf("sidecar exited before serving: %v\n%s", s.Cmd.ProcessState, s.Log)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("sidecar not serving %s after 10 s (last read %q, %v):\n%s", s.Mnt, got, err, s.Log)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Wait returns the exit code, failing the test if the sidecar is still
// running after within.
func (s *Sidecar) Wait(tb testing.TB, within time.Duration) int {
	tb.Helper()
	select {
	case <-s.Done:
		return s.Cmd.ProcessState.ExitCode()
	case <-time.After(within):
		tb.Fatalf("sidecar still running %v after the signal:\n%s", within, s.Log)
		return -1
	}
}

// ReadFileBounded reads a file in a goroutine, so a read stuck on a dead
// connection cannot hang the caller: it gives up after 5 s.
func ReadFileBounded(path string) (string, error) {
	type result struct {
		data []byte
		err  error
	}
	ch := make(chan result, 1)
	go func() { data, err := os.ReadFile(path); ch <- result{data, err} }()
	select {
	case r := <-ch:
		return string(r.data), r.err
	case <-time.After(5 * time.Second):
		return "", fmt.Errorf("read %s: no answer within 5 s", path)
	}
}
