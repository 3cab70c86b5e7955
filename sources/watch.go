package sources

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"

	"github.com/netutil-fs/netutil-fs/snapshot"
)

// Update is what a Watcher reports when the podinfo changes. Exactly one of
// Networks and Err is set; on an error the consumer keeps what it has, so a
// bad or half-written annotation never replaces good networks.
type Update struct {
	Networks *snapshot.Dir
	Err      error
}

// Watcher follows a podinfo directory. The kubelet replaces the annotations
// file by renaming a new ..data symlink over the old one, which kills an
// inotify watch on the file itself, so the directory is watched, and polled
// as well in case events are lost or the directory is not there yet.
type Watcher struct {
	podinfo  *Podinfo
	interval time.Duration

	lastPath string
	lastData []byte
	lastErr  string
}

// NewWatcher watches podinfo, re-reading it at least every interval.
func NewWatcher(podinfo *Podinfo, interval time.Duration) *Watcher {
	return &Watcher{podinfo: podinfo, interval: interval}
}

// Poll reads the podinfo once and reports whether it differs from what the
// previous Poll saw: new content, a new error, or recovery from an error.
func (w *Watcher) Poll() (Update, bool) {
	path, data, err := w.podinfo.read()
	if err == nil && path == w.lastPath && bytes.Equal(data, w.lastData) && w.lastErr == "" {
		return Update{}, false
	}
	var networks *snapshot.Dir
	if err == nil {
		networks, err = w.podinfo.parse(path, data)
	}
	if err != nil {
		if err.Error() == w.lastErr {
			return Update{}, false
		}
		w.lastErr = err.Error()
		return Update{Err: err}, true
	}
	w.lastPath, w.lastData, w.lastErr = path, data, ""
	return Update{Networks: networks}, true
}

// Run reports each change to onChange until ctx is done. Changes are
// reported in order from a single goroutine.
func (w *Watcher) Run(ctx context.Context, onChange func(Update)) {
	events := make(chan struct{}, 1)
	go w.notifyOnEvents(ctx, events)
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-events:
		case <-ticker.C:
		}
		if update, changed := w.Poll(); changed {
			onChange(update)
		}
	}
}

// notifyOnEvents signals events for every inotify event in the podinfo
// directory, re-arming the watch when the directory comes or goes.
func (w *Watcher) notifyOnEvents(ctx context.Context, events chan<- struct{}) {
	for ctx.Err() == nil {
		if err := w.watchDir(ctx, events); err != nil {
			klog.V(4).InfoS("Podinfo directory not watchable, polling", "dir", w.podinfo.Dir(), "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(w.interval):
		}
	}
}

// watchDir returns when the watch ends: ctx done, or the directory gone.
func (w *Watcher) watchDir(ctx context.Context, events chan<- struct{}) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify_init1: %w", err)
	}
	// A non-blocking fd joins Go's poller, so Close wakes the Read below.
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	const mask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_CLOSE_WRITE |
		unix.IN_DELETE | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, w.podinfo.Dir(), mask); err != nil {
		return fmt.Errorf("watch %s: %w", w.podinfo.Dir(), err)
	}
	// The directory may have changed before the watch was armed.
	signal(events)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()

	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read inotify events: %w", err)
		}
		signal(events)
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			event := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			if event.Mask&(unix.IN_IGNORED|unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 {
				return fmt.Errorf("%s: %w", w.podinfo.Dir(), os.ErrNotExist)
			}
			off += unix.SizeofInotifyEvent + int(event.Len)
		}
	}
}

// signal wakes the poll loop without blocking; one pending wake-up is enough.
func signal(events chan<- struct{}) {
	select {
	case events <- struct{}{}:
	default:
	}
}
