#!/usr/bin/env bash
# make e2e: the netutil-fs sidecar on a real single-node Kubernetes.
#
# Builds the binaries and images with the project's own `make build` and
# `make image`, brings up etcd + kube-apiserver + containerd + kubelet on this
# machine (e2e/lib/cluster.sh; the Kubernetes binaries are built once from the
# Go module proxy and cached, e2e/lib/kubebins.sh), applies deploy/pod.yaml
# through the kustomize overlay e2e/overlay, runs the six checks of issue 3
# and tears everything down again, also when a step fails.
# Needs root, /dev/fuse and apt (it installs what is missing).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
# shellcheck source=e2e/lib/cluster.sh
. "$repo/e2e/lib/cluster.sh"

POD=netutil-demo
NS_ANN=k8s.v1.cni.cncf.io/network-status
FS=/etc/netutil/fs
CHECKS=(start-order values dynamic-attachments bad-annotation sidecar-crash deletion)
declare -A RESULT=()
T0=$(date +%s%N)

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
elapsed() { local s=$(( ($(date +%s%N) - T0) / 1000000000 )); printf '%d:%02d' $((s / 60)) $((s % 60)); }
step() { printf '\n==> [%s] %s\n' "$(elapsed)" "$*"; }
pass() { RESULT[$1]=pass; printf 'PASS %s: %s\n' "$1" "$2"; }
fail() { RESULT[$1]=fail; printf 'FAIL %s: %s\n' "$1" "$2"; }

finish() {
  local rc=$? passed=0 failed=0 c
  trap - EXIT INT TERM
  for c in "${CHECKS[@]}"; do
    if [ "${RESULT[$c]:-}" = fail ] && [ -n "${KUBE_BIN:-}" ] && k get pod "$POD" >/dev/null 2>&1; then
      step "diagnostics (a check failed)"
      k get pod "$POD" -o wide
      k logs "$POD" -c netutil-fs --previous --tail=15 2>/dev/null | sed 's/^/    sidecar (previous): /'
      k logs "$POD" -c netutil-fs --tail=25 2>&1 | sed 's/^/    sidecar: /'
      k logs "$POD" -c app --tail=15 2>&1 | sed 's/^/    app: /'
      break
    fi
  done
  step "tear down the cluster"
  if [ "${E2E_KEEP:-0}" = 1 ]; then
    log "E2E_KEEP=1: leaving the cluster up; KUBECONFIG=$KUBECONFIG_ADMIN; tear down with: bash e2e/run.sh --down"
  else
    cluster_down || log "teardown incomplete (see above)"
  fi
  echo
  for c in "${CHECKS[@]}"; do
    case "${RESULT[$c]:-}" in
      pass) passed=$((passed + 1)); printf '  ok    %s\n' "$c" ;;
      fail) failed=$((failed + 1)); printf '  FAIL  %s\n' "$c" ;;
      *)    failed=$((failed + 1)); printf '  FAIL  %s (not run: setup failed or interrupted)\n' "$c" ;;
    esac
  done
  echo "e2e took $(elapsed); logs in $E2E_LOGS"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
  exit 1
}

# setup_failed MESSAGE: print why and what the components said, then finish.
setup_failed() {
  printf 'SETUP FAILED: %s\n' "$1"
  dump_logs
  if [ -n "${KUBE_BIN:-}" ] && k get pod "$POD" >/dev/null 2>&1; then
    k describe pod "$POD" | tail -30
    k logs "$POD" -c netutil-fs --tail=20 2>&1 | sed 's/^/    sidecar: /'
  fi
  exit 1
}

if [ "${1:-}" = --down ]; then
  KUBE_BIN=$(bash "$repo/e2e/lib/kubebins.sh" 2>/dev/null) || KUBE_BIN=
  cluster_down; exit $?
fi

[ "$(id -u)" = 0 ] || { echo "e2e: run as root (containerd, kubelet and FUSE mounts)"; echo "0 passed, ${#CHECKS[@]} failed"; exit 1; }
trap finish EXIT
trap 'exit 130' INT TERM

# --- setup -------------------------------------------------------------------

step "clean up what an earlier run left"
mkdir -p "$E2E_STATE" "$E2E_LOGS"
KUBE_BIN=
cluster_down || setup_failed "cannot clean up an earlier run"
mkdir -p "$E2E_STATE" "$E2E_LOGS"
rm -f "$E2E_LOGS"/*.log

step "prerequisites (Debian packages, /dev/fuse, /etc/hosts)"
cluster_prereqs || setup_failed "prerequisites"

step "Kubernetes binaries (built once from the Go module proxy, then cached)"
KUBE_BIN=$(bash "$repo/e2e/lib/kubebins.sh") || setup_failed "building the Kubernetes binaries"
log "using $KUBE_BIN"

step "make build && make image"
make build >"$E2E_LOGS/make-build.log" 2>&1 || { tail -20 "$E2E_LOGS/make-build.log"; setup_failed "make build"; }
make image CONTAINER_TOOL=podman IMAGE=localhost/netutil-fs:e2e APP_IMAGE=localhost/netutil-app:e2e \
  >"$E2E_LOGS/make-image.log" 2>&1 || { tail -20 "$E2E_LOGS/make-image.log"; setup_failed "make image"; }
sed 's/^/    /' "$E2E_LOGS/make-image.log" | grep 'image:'

step "pause image (the pod sandbox; there is no registry to pull one from)"
export CONTAINERS_CONF=${CONTAINERS_CONF:-$repo/hack/containers.conf}
pausectx=$(mktemp -d)
( cd "$repo/e2e/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$pausectx/pause" . ) &&
  cp "$repo/e2e/pause/Containerfile" "$pausectx/" &&
  podman build --quiet -t "$E2E_PAUSE_IMAGE" "$pausectx" >/dev/null || setup_failed "pause image"
rm -rf "$pausectx"

step "start etcd, kube-apiserver and containerd"
cluster_up || setup_failed "cluster bring-up"

step "import the images into containerd (podman save | ctr import)"
for img in "$E2E_PAUSE_IMAGE" localhost/netutil-fs:e2e localhost/netutil-app:e2e; do
  tar=$E2E_STATE/image.tar
  rm -f "$tar"
  { podman save --format docker-archive -o "$tar" "$img" && ctr_ images import "$tar"; } \
    >>"$E2E_LOGS/import.log" 2>&1 || { tail -5 "$E2E_LOGS/import.log"; setup_failed "import $img"; }
  rm -f "$tar"
  log "$img"
done

step "start the kubelet (node $E2E_NODE, static CPU manager)"
kubelet_up || setup_failed "kubelet"

step "kubectl apply -k e2e/overlay (deploy/pod.yaml + test-only patch)"
k apply -k "$repo/e2e/overlay" || setup_failed "kubectl apply"
t=$(now_ms)
k wait --for=condition=Ready "pod/$POD" --timeout=120s >/dev/null || setup_failed "pod $POD did not become Ready"
log "pod Ready in $(( $(now_ms) - t )) ms"
k get pod "$POD" -o wide

# --- helpers for the checks ----------------------------------------------------

app() { k exec "$POD" -c app -- sh -c "$1"; }
pod_json() { k get pod "$POD" -o json; }
restarts() { # CONTAINER -> restartCount
  pod_json | jq -r --arg c "$1" '[(.status.containerStatuses // [])[], (.status.initContainerStatuses // [])[]] | map(select(.name == $c))[0].restartCount'
}
container_pid() { # CONTAINER -> host pid of its main process
  local id
  id=$(pod_json | jq -r --arg c "$1" '[(.status.containerStatuses // [])[], (.status.initContainerStatuses // [])[]] | map(select(.name == $c))[0].containerID' | sed 's|^containerd://||')
  ctr_ tasks ls | awk -v id="$id" '$1 == id { print $2 }'
}
sidecar_log() { k logs "$POD" -c netutil-fs "$@" 2>&1; }

# expected_networks JSON: one line per network file, "<n>/<file> <base64 of
# content>" or "<n>/<file> ABSENT", as the annotation says it must be served.
expected_networks() {
  jq -r 'to_entries[] | .key as $i | .value as $n
    | (["name", $n.name], ["interface", $n.interface],
       ["ips", (if (($n.ips // []) | length) > 0 then $n.ips | join("\n") else null end)],
       ["mac", $n.mac], ["pci", ($n["device-info"].pci["pci-address"]? // null)])
    | "\($i)/\(.[0]) " + (if .[1] == null or .[1] == "" then "ABSENT" else ((.[1] + "\n") | @base64) end)' <<<"$1"
}
# served_networks: the same lines, as the app container reads them.
served_networks() {
  app 'cd '"$FS"'/networks || exit 1
    for n in $(ls | sort -n); do
      for f in name interface ips mac pci; do
        if [ -e "$n/$f" ]; then printf "%s/%s %s\n" "$n" "$f" "$(base64 -w0 "$n/$f")"; else echo "$n/$f ABSENT"; fi
      done
    done'
}
# compare_networks JSON: 0 if the app sees exactly what JSON says; prints a diff.
compare_networks() {
  local want got
  want=$(expected_networks "$1") || return 1
  got=$(served_networks) || { echo "      reading networks/ in the app failed: $got"; return 1; }
  if [ "$want" != "$got" ]; then
    diff <(echo "$want") <(echo "$got") | sed 's/^/      /'
    return 1
  fi
}
annotation() { pod_json | jq -r --arg k "$NS_ANN" '.metadata.annotations[$k]'; }
annotate() { k annotate --overwrite pod "$POD" "$NS_ANN=$1" >/dev/null; }
# app_poll SECONDS SHELL-CONDITION: one exec that polls inside the app
# container every 0.1 s, so the time measured is the files', not kubectl's.
app_poll() {
  app "i=0; while [ \$i -lt $(( $1 * 10 )) ]; do if $2; then exit 0; fi; i=\$((i+1)); sleep 0.1; done; exit 1"
}

# --- the checks ----------------------------------------------------------------

step "check 3/6 start-order: the app's first read, in its own start command, succeeds"
first=$(k logs "$POD" -c app 2>&1 | head -1)
app_restarts=$(restarts app)
side_started=$(pod_json | jq -r '.status.initContainerStatuses[] | select(.name=="netutil-fs") | .state.running.startedAt')
app_started=$(pod_json | jq -r '.status.containerStatuses[] | select(.name=="app") | .state.running.startedAt')
log "app log line 1: $first"
log "sidecar started $side_started, app started $app_started, app restarts $app_restarts"
if [[ $first == "app: first read ok: cpu="?* ]] && [ "$app_restarts" = 0 ] && [[ ! $app_started < $side_started ]] &&
   sidecar_log | grep -q 'Serving'; then
  pass start-order "first read in the start command succeeded, app never restarted, started after the sidecar"
else
  fail start-order "first read line '$first', app restarts $app_restarts"
fi

step "check 1/6 values: cpu, env/<VAR> and networks/<n>/* in the app match the pod"
ok=1
ann=$(annotation)
if compare_networks "$ann"; then
  log "networks/: $(jq length <<<"$ann") networks match the annotation (name, interface, ips, mac, pci; absent where unknown)"
else ok=0; log "networks/ differ from the annotation (- expected, + served)"; fi
want_env=$(k get pod "$POD" -o json | jq -r '.spec.containers[] | select(.name=="app") | .env[] | select(.name=="NETUTIL_E2E_MARKER") | .value')
got_env=$(app "cat $FS/env/NETUTIL_E2E_MARKER; echo .") ; got_env=${got_env%.}
if [ "$got_env" = "$want_env"$'\n' ]; then log "env/NETUTIL_E2E_MARKER = pod spec value '$want_env'"
else ok=0; log "env/NETUTIL_E2E_MARKER: want '$want_env\\n', got '$got_env'"; fi
# ls env/ lists the reader's own variables: a reader exec'd by kubectl with
# the container's environment, and one exec'd by env -i with two variables.
# (/proc/<pid>/environ is what the process was exec'd with; busybox sh runs
# its applets without exec, so they are exec'd explicitly here.)
ls_env=$(k exec "$POD" -c app -- ls "$FS/env" | sort | tr '\n' ' ')
own_env=$(k exec "$POD" -c app -- env | cut -d= -f1 | sort | tr '\n' ' ')
if [ -n "$ls_env" ] && [ "$ls_env" = "$own_env" ]; then log "ls env/ = the reader's own $(wc -w <<<"$ls_env") variables"
else ok=0; log "ls env/ '$ls_env' differs from the reader's env '$own_env'"; fi
ls_env=$(app "env -i NETUTIL_A=1 'NETUTIL_B=x y' /bin/ls $FS/env | tr '\n' ' '; env -i 'NETUTIL_B=x y' /bin/cat $FS/env/NETUTIL_B")
if [ "$ls_env" = "NETUTIL_A NETUTIL_B x y" ]; then log "a reader exec'd with env -i NETUTIL_A=1 NETUTIL_B='x y' lists exactly those and reads its own value"
else ok=0; log "env -i reader saw '$ls_env'"; fi
if app "test ! -e $FS/env/NETUTIL_E2E_SIDECAR_ONLY"; then log "env/NETUTIL_E2E_SIDECAR_ONLY (set only in the sidecar) is absent for the app"
else ok=0; log "the app sees the sidecar's NETUTIL_E2E_SIDECAR_ONLY"; fi
side_env=$(k exec "$POD" -c netutil-fs -- /netutil-client --root="$FS" 2>&1)
if grep -q 'NETUTIL_E2E_SIDECAR_ONLY=the app must not see this' <<<"$side_env"; then log "the sidecar, reading for itself, sees its own NETUTIL_E2E_SIDECAR_ONLY"
else ok=0; log "sidecar's own netutil-client does not show NETUTIL_E2E_SIDECAR_ONLY"; fi
app_cpu=$(app "cat $FS/cpu")
app_affinity=$(app "grep Cpus_allowed_list /proc/self/status" | awk '{print $2}')
pid=$(container_pid app)
cg=$(awk -F: '$2 ~ /(^|,)cpuset(,|$)/ {print $3}' "/proc/$pid/cgroup" 2>/dev/null)
host_cpuset=$(cat "/sys/fs/cgroup/cpuset$cg/cpuset.cpus" 2>/dev/null)
side_cpu=$(grep '^cpuset:' <<<"$side_env" | awk '{print $2}')
log "app: cpu file '$app_cpu', own Cpus_allowed_list '$app_affinity', host cgroup cpuset.cpus '$host_cpuset' ($cg); sidecar's cpu file '$side_cpu'"
if [ -n "$app_cpu" ] && [ "$app_cpu" = "$host_cpuset" ] && [ "$app_cpu" = "$app_affinity" ]; then
  [ "$app_cpu" != "$side_cpu" ] && log "per-reader: the app's exclusive cpuset differs from the sidecar's"
else ok=0; log "cpu does not match the app container's cpuset"; fi
[ $ok = 1 ] && pass values "cpu, env and networks match the pod" || fail values "see above"

step "check 2/6 dynamic-attachments: kubectl annotate adds, then removes, a network; files follow within 5 s"
ok=1
base=$(annotation)
added=$(jq -c '. + [{"name": "dataplane/sriov-extra", "interface": "net3", "ips": ["192.168.30.7"],
  "mac": "7e:12:9c:40:aa:03", "dns": {}, "device-info": {"type": "pci", "version": "1.1.0",
  "pci": {"pci-address": "0000:5e:01.2"}}}]' <<<"$base")
t=$(now_ms); annotate "$added"
if app_poll 5 "[ \"\$(cat $FS/networks/3/name 2>/dev/null)\" = dataplane/sriov-extra ]"; then
  log "added network visible as networks/3 after $(( $(now_ms) - t )) ms"
else ok=0; log "networks/3 did not appear within 5 s"; fi
compare_networks "$added" && log "all 4 networks match" || { ok=0; log "networks differ after the add"; }
removed=$(jq -c 'map(select(.name != "dataplane/sriov-left"))' <<<"$added")
t=$(now_ms); annotate "$removed"
if app_poll 5 "[ ! -e $FS/networks/3 ] && [ \"\$(cat $FS/networks/1/name 2>/dev/null)\" = dataplane/sriov-right ]"; then
  log "removed network gone after $(( $(now_ms) - t )) ms (networks/3 absent, networks/1 is now sriov-right)"
else ok=0; log "the removal did not show within 5 s"; fi
compare_networks "$removed" && log "all 3 networks match" || { ok=0; log "networks differ after the removal"; }
r_app=$(restarts app); r_side=$(restarts netutil-fs)
[ "$r_app" = 0 ] && [ "$r_side" = 0 ] && log "restartCount: app 0, sidecar 0" || { ok=0; log "restartCount: app $r_app, sidecar $r_side"; }
[ $ok = 1 ] && pass dynamic-attachments "add and remove followed within 5 s, no restart" || fail dynamic-attachments "see above"

step "check 6/6 bad-annotation: malformed network-status keeps the last good networks, sidecar logs the parse error"
ok=1
good=$(annotation)
errs_before=$(sidecar_log | grep -ciE '^E.*(json|pars|unmarshal|unexpected|invalid|syntax)')
annotate '[{"name": "dataplane/broken", "interface": "net9", "ips": ["192.168.99.1"'
if wait_for 10 "the parse error in the sidecar log" \
     bash -c "[ \$(\"$KUBE_BIN/kubectl\" --kubeconfig '$KUBECONFIG_ADMIN' logs $POD -c netutil-fs 2>&1 | grep -ciE '^E.*(json|pars|unmarshal|unexpected|invalid|syntax)') -gt $errs_before ]"; then
  log "sidecar: $(sidecar_log | grep -iE '^E.*(json|pars|unmarshal|unexpected|invalid|syntax)' | tail -1 | cut -c1-220)"
else ok=0; log "no parse error in the sidecar log"; fi
sleep 1
compare_networks "$good" && log "networks/ still serve the last good $(jq length <<<"$good") networks" || { ok=0; log "networks changed after the malformed annotation"; }
if app "test ! -e $FS/networks/3 && ! grep -rq broken $FS/networks/*/name"; then :; else ok=0; log "the broken network leaked into networks/"; fi
t=$(now_ms); annotate "$base"
if app_poll 5 "[ \"\$(cat $FS/networks/2/name 2>/dev/null)\" = dataplane/sriov-right ]"; then
  log "a good annotation afterwards is served again after $(( $(now_ms) - t )) ms"
  compare_networks "$base" || { ok=0; log "networks differ from the good annotation"; }
else ok=0; log "did not recover within 5 s after a good annotation"; fi
[ $ok = 1 ] && pass bad-annotation "last good networks kept, parse error logged, recovered" || fail bad-annotation "see above"

step "check 4/6 sidecar-crash: kill -9 the sidecar; the kubelet restarts it; the app reads again within 10 s"
ok=1
pid=$(container_pid netutil-fs)
comm=$(cat "/proc/$pid/comm" 2>/dev/null)
if [ -z "$pid" ] || [ "$comm" != netutil-fs ]; then
  fail sidecar-crash "cannot find the sidecar process (pid '$pid', comm '$comm')"
else
  t=$(now_ms)
  kill -9 "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  log "killed pid $pid (netutil-fs) with SIGKILL"
  seen=$(app "i=0; while [ \$i -lt 150 ]; do
      if out=\$(cat $FS/cpu 2>&1) && ls $FS/networks/0 >/dev/null 2>&1; then echo READ-OK; exit 0; fi
      echo \"\$out\"; i=\$((i+1)); sleep 0.1; done; exit 1")
  took=$(( $(now_ms) - t ))
  log "errors the app saw while the sidecar was down: $(grep -v READ-OK <<<"$seen" | sort | uniq -c | sed 's/^ *//' | tr '\n' ';' | cut -c1-200)"
  if grep -q READ-OK <<<"$seen" && [ "$took" -le 10000 ]; then log "the app reads again $took ms after the kill"
  else ok=0; log "the app could not read again within 10 s ($took ms)"; fi
  wait_for 10 "sidecar restartCount 1" bash -c "[ \"\$(\"$KUBE_BIN/kubectl\" --kubeconfig '$KUBECONFIG_ADMIN' get pod $POD -o jsonpath='{.status.initContainerStatuses[0].restartCount}')\" = 1 ]" || ok=0
  r_app=$(restarts app); r_side=$(restarts netutil-fs)
  log "restartCount: sidecar $r_side (restarted by the kubelet), app $r_app"
  [ "$r_side" = 1 ] && [ "$r_app" = 0 ] || ok=0
  after=$(app "cat $FS/cpu; ls $FS/networks; cat $FS/networks/*/name; cat $FS/env/NETUTIL_E2E_MARKER; grep -c ' $FS ' /proc/self/mounts" 2>&1)
  if grep -qi 'not connected' <<<"$after"; then ok=0; log "still 'transport endpoint is not connected': $after"; fi
  compare_networks "$base" && log "networks/ served in full by the new sidecar" || { ok=0; log "networks differ after the restart"; }
  nmounts=$(tail -1 <<<"$after")
  if [ "$nmounts" = 1 ]; then log "exactly one mount at $FS in the app (the dead one was cleared)"
  else
    ok=0; log "$nmounts mounts at $FS in the app: the dead mount of the killed sidecar is still there, under the new one; on the host:"
    grep -F "$(k get pod "$POD" -o jsonpath='{.metadata.uid}')" /proc/self/mountinfo | grep ' - fuse' | awk '{print "      " $1, $2, $3, $5, $7}'
  fi
  log "new sidecar's log about the stale mount: $(sidecar_log | grep -iE -m1 'stale' | cut -c1-160 || true)"
  pid2=$(container_pid netutil-fs)
  [ -n "$pid2" ] && [ "$pid2" != "$pid" ] && log "new sidecar pid $pid2; its log: $(sidecar_log | grep -m1 -E 'Serving' | cut -c1-160)" || ok=0
  [ $ok = 1 ] && pass sidecar-crash "restarted by the kubelet, app reading again in $took ms, no stale mount" || fail sidecar-crash "see above"
fi

step "check 5/6 deletion: kubectl delete pod finishes within 15 s and leaves no FUSE mount"
uid=$(k get pod "$POD" -o jsonpath='{.metadata.uid}')
t=$(now_ms)
if k delete pod "$POD" --wait=true --timeout=20s >/dev/null; then
  took=$(( $(now_ms) - t ))
  left=$(grep -F "$uid" /proc/self/mountinfo | awk '{print $5, $(NF-2)}')
  fuse_left=$(grep -F "$uid" /proc/self/mountinfo | grep -c ' - fuse' || true)
  log "deleted in $took ms; mounts of pod $uid left on the host: ${left:-none}"
  if [ "$took" -le 15000 ] && [ "$fuse_left" = 0 ]; then pass deletion "deleted in $took ms, no FUSE mount left"
  else fail deletion "took $took ms, $fuse_left FUSE mounts left"; fi
else
  fail deletion "kubectl delete pod did not finish within 20 s"
  log "kubelet: $(grep -F "$uid" "$E2E_LOGS/kubelet.log" | grep -E 'TearDown failed|failed' | tail -1 | sed 's/.*) : //' | cut -c1-300)"
fi

exit 0
