package fs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	fusefs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// unmountDeadline bounds shutdown, counted from the start of the unmount
// (the clean attempts included): after it the process exits anyway, which
// closes /dev/fuse and fails any reader still inside the mount rather than
// leaving it to hang. It leaves room under the 2 s the README promises from
// SIGTERM to exit.
const unmountDeadline = 1500 * time.Millisecond

// Serve mounts root read-only at mountpoint and serves it until ctx is done
// or the mount is removed from outside, then unmounts. It calls ready once
// the mount answers. It creates the mount point, and clears a mount a crashed
// predecessor left there, so a restarted sidecar can take over.
func Serve(ctx context.Context, mountpoint string, root *Root, ready func()) error {
	if err := checkFuseDevice(fuseDevice); err != nil {
		return err
	}
	if err := prepareMountpoint(mountpoint); err != nil {
		return err
	}
	server, err := fusefs.Mount(mountpoint, root, mountOptions())
	if err != nil {
		return fmt.Errorf("mount FUSE at %s: %w", mountpoint, err)
	}
	ready()

	served := make(chan struct{})
	go func() {
		server.Wait()
		close(served)
	}()
	select {
	case <-served:
		klog.InfoS("Mount was removed from outside", "mountpoint", mountpoint)
		return nil
	case <-ctx.Done():
	}
	return unmount(server, mountpoint, served)
}

func mountOptions() *fusefs.Options {
	return &fusefs.Options{
		// go-fuse reports the root as inode 0 unless told.
		RootStableAttr: &fusefs.StableAttr{Ino: 1},
		MountOptions: fuse.MountOptions{
			FsName:     "netutil-fs",
			Name:       "netutil",
			AllowOther: true,
			// As root the kernel is asked directly, and the image
			// carries no fusermount to fall back on.
			DirectMount:       true,
			DirectMountStrict: true,
			DirectMountFlags:  syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV | syscall.MS_NOEXEC,
			Options:           []string{"default_permissions"},
			// ENOSYS for xattrs is remembered by the kernel; ls -l
			// would otherwise ask for ACLs on every file.
			DisableXAttrs: true,
			// Per-reader directories must not be looked up in bulk.
			DisableReadDirPlus: true,
			// Every reply is a few bytes from memory. go-fuse would
			// splice each READ reply through a pipe pair from a pool
			// that grows with peak concurrency and is never shrunk:
			// two fds kept per concurrent reader of a burst, and three
			// syscalls per reply instead of one writev.
			DisableSplice: true,
			Logger:        klog.NewStandardLogger("WARNING"),
			Debug:         klog.V(6).Enabled(),
		},
	}
}

// fuseDevice is the kernel's FUSE device, character device 10:229.
const fuseDevice = "/dev/fuse"

// checkFuseDevice turns the mount's bare EINVAL or ENOENT, when the
// container was not given the FUSE device, into an error that says so.
func checkFuseDevice(path string) error {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Errorf("%s: %w (the sidecar needs the FUSE device: run it privileged or with /dev/fuse)", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 10 || unix.Minor(st.Rdev) != 229 {
		return fmt.Errorf("%s is not the FUSE device (character device 10:229)", path)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w (the sidecar needs the FUSE device: run it privileged or with /dev/fuse)", path, err)
	}
	return f.Close()
}

// staleMountLimit bounds how many dead mounts, stacked by earlier crashes,
// are cleared from one mount point.
const staleMountLimit = 16

// prepareMountpoint makes sure mountpoint is a directory to mount on, with
// no dead FUSE mount left on it.
func prepareMountpoint(mountpoint string) error {
	if err := clearStaleMounts(mountpoint); err != nil {
		return err
	}
	if err := os.MkdirAll(mountpoint, 0o755); err != nil {
		return fmt.Errorf("create mount point: %w", err)
	}
	st, err := os.Stat(mountpoint)
	if err != nil {
		return fmt.Errorf("mount point: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("mount point %s is not a directory", mountpoint)
	}
	return nil
}

// clearStaleMounts detaches the mounts whose FUSE daemon died ("transport
// endpoint is not connected"), topmost first. It asks with statfs, which
// always reaches the daemon: stat of a mount root is answered from the
// kernel's cache even after the daemon is gone.
func clearStaleMounts(mountpoint string) error {
	for range staleMountLimit {
		var st unix.Statfs_t
		err := unix.Statfs(mountpoint, &st)
		if !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.ECONNABORTED) {
			return nil
		}
		klog.InfoS("Clearing stale mount", "mountpoint", mountpoint, "err", err)
		if err := unix.Unmount(mountpoint, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("clear stale mount at %s: %w", mountpoint, err)
		}
	}
	return fmt.Errorf("%s still has a dead mount after clearing %d", mountpoint, staleMountLimit)
}

// unmount tries a clean unmount, which go-fuse gives up on after a few
// EBUSY answers while a reader holds a file or a working directory inside,
// then detaches lazily; either way it waits at most unmountDeadline.
//
// go-fuse's Unmount, once the kernel has let go of the mount, also waits
// for every request being served to finish, so a request stuck in a
// system call (a read of /proc or cgroupfs that blocks) would hold it, and
// the process, for ever. It therefore runs in its own goroutine, and past
// the deadline the mount is detached and the process exits anyway, which
// ends the stuck request's reader with an error.
func unmount(server *fuse.Server, mountpoint string, served <-chan struct{}) error {
	deadline := time.After(unmountDeadline)
	unmounted := make(chan error, 1)
	go func() { unmounted <- server.Unmount() }()
	select {
	case err := <-unmounted:
		if err != nil {
			klog.InfoS("Mount is busy, detaching it lazily", "mountpoint", mountpoint, "err", err)
			if err := unix.Unmount(mountpoint, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("detach %s: %w", mountpoint, err)
			}
		}
	case <-deadline:
		klog.InfoS("Unmount is waiting for a request that does not finish; detaching and exiting anyway", "mountpoint", mountpoint)
		// EINVAL: the kernel had already let go of the mount.
		if err := unix.Unmount(mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("detach %s: %w", mountpoint, err)
		}
		return nil
	}
	select {
	case <-served:
	case <-deadline:
		klog.InfoS("Readers still hold the detached mount; exiting anyway", "mountpoint", mountpoint)
	}
	return nil
}
