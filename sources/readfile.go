package sources

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

var (
	// ErrTooLarge means a file holds more than what is read of its kind:
	// MaxPodinfoSize for a podinfo file, 8 MiB for an environment. It is
	// EFBIG ("file too large"), the errno a reader of such a file sees.
	ErrTooLarge error = unix.EFBIG
	// ErrNotRegular means the file is a directory, a FIFO, a device or
	// anything else that is not a regular file.
	ErrNotRegular = errors.New("not a regular file")
)

// readRegularFile reads a whole regular file of at most limit bytes, with
// open, fstat, read and close alone: it runs for every per-reader lookup,
// where os.ReadFile's poller registration more than doubled the cost.
//
// Every file it reads may be replaced by someone else: the kubelet's
// podinfo volume, a reader's own view of cgroupfs under /proc/<pid>/root,
// an environment a process pointed at any memory. So it opens with
// O_NONBLOCK, which does not change how a regular file reads but keeps a
// FIFO from blocking the open until a writer comes; refuses, by fstat of
// what it opened, anything but a regular file (/proc and cgroupfs files
// are regular); and fails rather than read past limit, so /dev/zero or a
// huge file cannot grow the sidecar.
func readRegularFile(path string, limit int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, &os.PathError{Op: "fstat", Path: path, Err: err})
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("read %s: it is %s: %w", path, fileKind(st.Mode), ErrNotRegular)
	}
	buf := make([]byte, 0, min(4096, limit+1))
	for len(buf) <= limit {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):min(cap(buf), limit+1)])
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", path, &os.PathError{Op: "read", Path: path, Err: err})
		case n == 0:
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
	return nil, fmt.Errorf("read %s: over %d bytes: %w", path, limit, ErrTooLarge)
}

// fileKind names what a file that is not a regular file is, for errors.
func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return fmt.Sprintf("not a regular file (mode %#o)", mode)
}
