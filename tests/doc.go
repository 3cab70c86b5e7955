// Package tests holds the reliability and security tests of the built
// sidecar (issue 5): isolation between readers, the read-only mount through
// the real binary, faults (SIGKILL, restart over the stale mount, SIGTERM
// while busy, readers dying mid-request) and load. TestMain builds
// ../cmd/netutil-fs once; each test runs it as a real process on a
// temporary mount point over a kubelet-style podinfo volume. Reader
// processes are this package's test binary, built once more without the
// race detector (see readerMain).
//
// TestLoad's size: NETUTIL_LOAD_READERS (default 64) processes of
// NETUTIL_LOAD_READS (default 1,000; `make load`: 100,000) reads each. The package has no code
// outside its tests.
package tests
