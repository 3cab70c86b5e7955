package fs

import (
	"context"
	"errors"
	iofs "io/fs"
	"syscall"
)

// toErrno maps an error from a source to the errno a reader sees.
func toErrno(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, iofs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, iofs.ErrPermission):
		return syscall.EACCES
	default:
		return syscall.EIO
	}
}
