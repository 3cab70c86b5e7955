#!/usr/bin/env bash
# hack/deps.sh: installs what the tests use and a fresh Debian machine may
# lack (only what is missing), and fetches the Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v cc >/dev/null || need+=(gcc libc6-dev)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
	if [[ $EUID -ne 0 ]]; then
		echo "deps: missing ${need[*]}; run as root to install them" >&2
		exit 1
	fi
	echo "deps: installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
go mod download
