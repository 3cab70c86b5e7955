#!/usr/bin/env bash
# hack/demo.sh: what `make demo` runs after `make build`. Mounts netutil-fs
# over the shipped sample podinfo (examples/podinfo, an SR-IOV pod's
# annotations as the kubelet writes them), shows what it serves, and leaves
# it mounted so you can ls and cat it. Needs root and /dev/fuse.
#   DEMO_MNT   where to mount (default /tmp/netutil-demo)
#   make demo-stop, or: kill "$(cat "$DEMO_MNT.pid")"
set -euo pipefail
cd "$(dirname "$0")/.."
mnt=${DEMO_MNT:-/tmp/netutil-demo}

if [[ $EUID -ne 0 ]]; then
	echo "demo: needs root to mount FUSE (try: sudo make demo)" >&2
	exit 1
fi
if [[ -f "$mnt.pid" ]] && kill -0 "$(cat "$mnt.pid")" 2>/dev/null; then
	kill -TERM "$(cat "$mnt.pid")"
	while kill -0 "$(cat "$mnt.pid")" 2>/dev/null; do sleep 0.1; done
fi

# A podinfo volume laid out as the kubelet lays it out, so that editing
# $mnt.podinfo/..data/annotations shows up live in networks/.
podinfo="$mnt.podinfo"
rm -rf "$podinfo"
mkdir -p "$podinfo/..2026_11_23_00_00_00.0"
cp examples/podinfo/annotations "$podinfo/..2026_11_23_00_00_00.0/annotations"
ln -s ..2026_11_23_00_00_00.0 "$podinfo/..data"
ln -s ..data/annotations "$podinfo/annotations"

nohup bin/netutil-fs --mountpoint="$mnt" --podinfo-dir="$podinfo" >"$mnt.log" 2>&1 &
echo $! >"$mnt.pid"
for _ in $(seq 100); do
	[[ -e "$mnt/cpu" ]] && break
	sleep 0.05
done
if [[ ! -e "$mnt/cpu" ]]; then
	echo "demo: netutil-fs did not come up; its log:" >&2
	cat "$mnt.log" >&2
	exit 1
fi

cat <<MSG
netutil-fs is serving $mnt (log: $mnt.log, pid $(cat "$mnt.pid")).

\$ ls -R $mnt/networks | head
$(ls -R "$mnt/networks" | head)

\$ cat $mnt/cpu $mnt/env/HOME $mnt/networks/1/pci
$(cat "$mnt/cpu" "$mnt/env/HOME" "$mnt/networks/1/pci")

\$ bin/netutil-client --root=$mnt   (the example application)
$(bin/netutil-client --root="$mnt" | grep -v '^  [^ ]*=')

Try: ls -l $mnt/networks/2/device-info; X=42 cat $mnt/env/X
Edit $podinfo/..data/annotations and networks/ follows.
Stop: make demo-stop
MSG
