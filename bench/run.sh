#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs after `make build`. It prepares the
# yardsticks of issue 4 and lets bench/readbench measure and print the table:
#   - lxcfs (Debian's package, installed when missing) on a private mountpoint,
#     whose proc/uptime is the per-reader yardstick;
#   - a private tmpfs that holds the kubelet-style podinfo volume, the tmpfs
#     copies of the measured files (the shared yardstick) and the mountpoint.
# Extra arguments, and the words of $BENCH_ARGS, go to readbench, e.g.
#   bash bench/run.sh -sidecar-args=-v=4 -log-dir=/tmp/sidecar-logs
#   bash bench/run.sh -bin=          # tmpfs and lxcfs only, no sidecar
# Needs root. Exits non-zero only when something could not be measured.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "bench/run.sh: $*" >&2; }

if [[ $EUID -ne 0 ]]; then
	log "needs root: it mounts FUSE filesystems and a tmpfs"
	exit 1
fi
export HOME="${HOME:-/root}" # env/HOME is one of the measured files

work="$(mktemp -d /tmp/netutil-bench.XXXXXX)"
lxcfs_pid=""
readbench_pid=""
cleanup() {
	local rc=$?
	set +e
	# readbench stops its sidecar itself when told to (SIGTERM), and its
	# sidecar gets SIGTERM too should readbench die (PR_SET_PDEATHSIG).
	if [[ -n "$readbench_pid" ]] && kill -0 "$readbench_pid" 2>/dev/null; then
		kill -TERM "$readbench_pid"
		wait "$readbench_pid"
	fi
	# Detach whatever an interrupt left.
	if mountpoint -q "$work/tmpfs/mnt" 2>/dev/null; then
		umount -l "$work/tmpfs/mnt"
	fi
	if [[ -n "$lxcfs_pid" ]] && kill -0 "$lxcfs_pid" 2>/dev/null; then
		kill -TERM "$lxcfs_pid"
		for _ in $(seq 50); do kill -0 "$lxcfs_pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$lxcfs_pid" 2>/dev/null && kill -KILL "$lxcfs_pid"
	fi
	if mountpoint -q "$work/lxcfs" 2>/dev/null; then
		umount -l "$work/lxcfs"
	fi
	if mountpoint -q "$work/tmpfs" 2>/dev/null; then
		umount -l "$work/tmpfs"
	fi
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# lxcfs: install once, run in the foreground on a private mountpoint with its
# own pidfile (so it does not collide with a system lxcfs).
if ! command -v lxcfs >/dev/null; then
	log "installing Debian's lxcfs"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lxcfs >/dev/null
fi
mkdir -p "$work/lxcfs"
lxcfs -f -p "$work/lxcfs.pid" "$work/lxcfs" >"$work/lxcfs.log" 2>&1 &
lxcfs_pid=$!
for _ in $(seq 200); do
	if cat "$work/lxcfs/proc/uptime" >/dev/null 2>&1; then break; fi
	if ! kill -0 "$lxcfs_pid" 2>/dev/null; then
		log "lxcfs exited:"; cat "$work/lxcfs.log" >&2; exit 1
	fi
	sleep 0.05
done
if ! cat "$work/lxcfs/proc/uptime" >/dev/null 2>&1; then
	log "lxcfs did not serve proc/uptime within 10s:"; cat "$work/lxcfs.log" >&2; exit 1
fi

# A private tmpfs: the kubelet keeps Downward API volumes on tmpfs too.
mkdir -p "$work/tmpfs"
mount -t tmpfs -o size=64m,mode=0755 netutil-bench "$work/tmpfs"

# The sample podinfo: the project's shipped sample when it is a kubelet-format
# annotations file with an SR-IOV network (so networks/1/pci exists), else
# the bench's own copy of the same shape.
annotations=bench/testdata/annotations
for f in examples/podinfo/annotations sources/testdata/annotations; do
	if [[ -f "$f" ]] && grep -q 'pci-address' "$f"; then annotations="$f"; break; fi
done

go build -o "$work/readbench" ./bench/readbench
log "lxcfs $(lxcfs --version 2>&1 | head -1), sample $annotations"
# In the background and waited for, so that a signal to this script runs the
# cleanup at once rather than after readbench is done.
# shellcheck disable=SC2086 # BENCH_ARGS is a list of words on purpose
"$work/readbench" -bin=bin/netutil-fs -annotations="$annotations" \
	-work="$work/tmpfs" -lxcfs="$work/lxcfs" ${BENCH_ARGS:-} "$@" &
readbench_pid=$!
rc=0
wait "$readbench_pid" || rc=$?
readbench_pid=""
exit "$rc"
