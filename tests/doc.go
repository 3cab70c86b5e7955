// Package tests holds the reliability and security tests of the built
// sidecar (issue 5): isolation between readers, the read-only mount through
// the real binary, faults (SIGKILL, restart, SIGTERM while busy) and load.
// Each test runs bin/netutil-fs as a real process on a temporary mount
// point; the package has no code outside its tests.
package tests
