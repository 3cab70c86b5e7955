#!/usr/bin/env bash
# Build the sidecar image (Dockerfile) and the example-app image
# (deploy/app.Dockerfile) from the static binaries in bin/ (`make build`).
#   usage: bash hack/image.sh CONTAINER_TOOL IMAGE APP_IMAGE
# Works with Debian's podman (no Docker engine, no registry: both images are
# FROM scratch) and with docker. Installs podman, runc and busybox-static with
# apt-get when they are missing and apt-get is there.
set -euo pipefail
tool=${1:-podman}
image=${2:-localhost/netutil-fs:dev}
app_image=${3:-localhost/netutil-app:dev}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

for b in bin/netutil-fs bin/netutil-client; do
  [ -x "$b" ] || { echo "image: $b missing: run 'make build' first" >&2; exit 1; }
done

# What is missing, installed with apt-get where there is one. The app image
# needs a static busybox: the image has no libc.
static() { [ -x "$1" ] && ! ldd "$1" >/dev/null 2>&1; }
need=()
if [ "$tool" = podman ]; then
  command -v podman >/dev/null 2>&1 || need+=(podman)
  command -v runc >/dev/null 2>&1 || need+=(runc)
fi
static /bin/busybox || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || { echo "image: need ${need[*]} and there is no apt-get" >&2; exit 1; }
  echo "image: apt-get install ${need[*]}"
  { apt-get install -y "${need[@]}" || { apt-get update && apt-get install -y "${need[@]}"; }; } >/dev/null
fi
busybox=/bin/busybox
static "$busybox" || { echo "image: $busybox is not a static binary (install busybox-static)" >&2; exit 1; }

if [ "$tool" = podman ] && [ -z "${CONTAINERS_CONF:-}" ]; then
  export CONTAINERS_CONF="$repo/hack/containers.conf"
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin" "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp bin/netutil-fs bin/netutil-client "$ctx/bin/"
cp "$busybox" "$ctx/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$ctx/rootfs/bin/$applet"
done

build() { # IMAGE DOCKERFILE
  local ref=$1 file=$2 latest="${1%:*}:latest"
  echo "image: $tool build -t $ref -f $file"
  "$tool" build --quiet -t "$ref" -f "$file" "$ctx" >/dev/null
  # deploy/pod.yaml names the :latest tags; e2e pins its own tag with kustomize.
  [ "$ref" = "$latest" ] || "$tool" tag "$ref" "$latest"
}
build "$image" "$repo/Dockerfile"
build "$app_image" "$repo/deploy/app.Dockerfile"
echo "image: built $image and $app_image"
