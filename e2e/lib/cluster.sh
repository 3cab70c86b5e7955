# shellcheck shell=bash
# A throw-away single-node Kubernetes for the e2e test: etcd, kube-apiserver,
# containerd and a kubelet on this machine, no scheduler, no controller
# manager, no kube-proxy. Sourced by e2e/run.sh; every path, socket and port
# is its own, so it does not touch a containerd or kubelet of the host.
#
# Everything listens on 127.0.0.1 only. Pods get addresses from a CNI bridge
# with no gateway, no masquerade and no route off the bridge: nothing a pod
# sends can leave this machine.

E2E_STATE=${E2E_STATE:-/var/lib/netutil-e2e}   # data: wiped before each run
E2E_RUN=${E2E_RUN:-/run/netutil-e2e}            # sockets, containerd state
E2E_LOGS=$E2E_STATE/logs                        # kept after a run, for reading
E2E_NODE=${E2E_NODE:-netutil-e2e-node}
E2E_ETCD_PORT=${E2E_ETCD_PORT:-23790}
E2E_API_PORT=${E2E_API_PORT:-16443}
E2E_KUBELET_PORT=${E2E_KUBELET_PORT:-10450}
E2E_BRIDGE=nue2e0
E2E_POD_SUBNET=${E2E_POD_SUBNET:-10.213.0.0/24}
E2E_SERVICE_RANGE=${E2E_SERVICE_RANGE:-10.213.1.0/24}
E2E_PAUSE_IMAGE=localhost/netutil-e2e-pause:1
KUBECONFIG_ADMIN=$E2E_STATE/admin.kubeconfig
CTR_ADDRESS=$E2E_RUN/containerd.sock
PIDFILE=$E2E_STATE/pids

log() { printf '    %s\n' "$*"; }
die() { printf 'e2e: %s\n' "$*" >&2; return 1; }

k() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctr_() { ctr --address "$CTR_ADDRESS" --namespace k8s.io "$@"; }

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.2 s.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s%N) + limit * 1000000000 ))
  while ! "$@" >/dev/null 2>&1; do
    if [ "$(date +%s%N)" -ge "$deadline" ]; then
      die "timed out after ${limit}s waiting for $what"; return 1
    fi
    sleep 0.2
  done
}

# --- prerequisites -----------------------------------------------------------

cluster_prereqs() {
  local need=() p
  for p in etcd:etcd-server containerd:containerd runc:runc podman:podman \
           openssl:openssl jq:jq ip:iproute2 ctr:containerd; do
    command -v "${p%%:*}" >/dev/null 2>&1 || need+=("${p#*:}")
  done
  [ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
  { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need+=(busybox-static)
  if [ ${#need[@]} -gt 0 ]; then
    log "apt-get install ${need[*]}"
    { apt-get install -y "${need[@]}" || { apt-get update && apt-get install -y "${need[@]}"; }; } \
      >"$E2E_LOGS/apt.log" 2>&1 || { tail -5 "$E2E_LOGS/apt.log"; die "apt-get install failed"; return 1; }
  fi
  [ -c /dev/fuse ] || { die "/dev/fuse is missing"; return 1; }
  # The node name must resolve for kubectl logs/exec.
  grep -qE "^[^#]*[[:space:]]$E2E_NODE([[:space:]]|\$)" /etc/hosts || echo "127.0.0.1 $E2E_NODE" >>/etc/hosts
}

# --- processes ---------------------------------------------------------------

# start NAME CMD...: run CMD in the background in its own session (so that a
# signal to the test's process group, e.g. from timeout(1), leaves it to the
# teardown), log to $E2E_LOGS/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >"$E2E_LOGS/$name.log" 2>&1 </dev/null &
  echo "$! $name" >>"$PIDFILE"
}

# stop_all: SIGTERM, then SIGKILL, each process this script started (by pid,
# checked against the start time recorded by the kernel, so a recycled pid is
# never hit).
stop_all() {
  [ -f "$PIDFILE" ] || return 0
  local pid name i
  tac "$PIDFILE" | while read -r pid name; do
    kill -0 "$pid" 2>/dev/null || continue
    case "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" in
      *kubelet*|*kube-apiserver*|*etcd*|*containerd*) ;;
      *) continue ;;
    esac
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -f "$PIDFILE"
}

# --- certificates and configs -------------------------------------------------

cert() { # NAME SUBJECT [SAN]
  local name=$1 subj=$2 san=${3:-} dir=$E2E_STATE/pki ext
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -subj "$subj" -out "$dir/$name.csr" 2>/dev/null
  ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth"
  [ -n "$san" ] && ext="$ext
subjectAltName=$san"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -out "$dir/$name.crt" -extfile <(printf '%s\n' "$ext") 2>/dev/null
}

kubeconfig() { # FILE CERTNAME
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$E2E_API_PORT
    certificate-authority: $E2E_STATE/pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $E2E_STATE/pki/$2.crt
    client-key: $E2E_STATE/pki/$2.key
contexts:
- name: e2e
  context: {cluster: e2e, user: $2}
current-context: e2e
EOF
}

cluster_configs() {
  local pki=$E2E_STATE/pki
  mkdir -p "$pki" "$E2E_STATE/cni/net.d" "$E2E_STATE/kubelet" "$E2E_RUN"
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=netutil-e2e-ca" -days 2 2>/dev/null
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  local svc_ip; svc_ip=$(echo "$E2E_SERVICE_RANGE" | awk -F'[./]' '{print $1"."$2"."$3"."$4+1}')
  cert apiserver "/CN=kube-apiserver" "IP:127.0.0.1,IP:$svc_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc"
  cert admin "/O=system:masters/CN=netutil-e2e-admin"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  cert node "/O=system:nodes/CN=system:node:$E2E_NODE"
  cert kubelet-serving "/CN=$E2E_NODE" "IP:127.0.0.1,DNS:$E2E_NODE"
  kubeconfig "$KUBECONFIG_ADMIN" admin
  kubeconfig "$E2E_STATE/kubelet.kubeconfig" node

  cat >"$E2E_STATE/cni/net.d/10-netutil-e2e.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "netutil-e2e",
  "plugins": [{
    "type": "bridge",
    "bridge": "$E2E_BRIDGE",
    "isGateway": false,
    "ipMasq": false,
    "hairpinMode": false,
    "ipam": {
      "type": "host-local",
      "ranges": [[{"subnet": "$E2E_POD_SUBNET"}]],
      "dataDir": "$E2E_STATE/cni/ipam"
    }
  }]
}
EOF

  cat >"$E2E_STATE/containerd.toml" <<EOF
version = 2
root = "$E2E_STATE/containerd"
state = "$E2E_RUN/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$CTR_ADDRESS"
[plugins."io.containerd.internal.v1.opt"]
  path = "$E2E_STATE/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$E2E_PAUSE_IMAGE"
  # Lowering oom_score_adj is denied in this sandbox ("can't get final
  # child's PID" from runc otherwise).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$E2E_STATE/cni/net.d"
EOF

  cat >"$E2E_STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $E2E_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((E2E_KUBELET_PORT + 1))
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$CTR_ADDRESS
cgroupDriver: cgroupfs
failSwapOn: false
# The static CPU manager gives the Guaranteed app container of deploy/pod.yaml
# an exclusive CPU, so its cpu file differs from the sidecar's.
cpuManagerPolicy: static
kubeReserved: {cpu: 100m}
evictionHard: {memory.available: 100Mi, nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
maxPods: 16
staticPodPath: ""
EOF
}

# --- bring-up ----------------------------------------------------------------

# cluster_up: etcd, apiserver, containerd, kubelet; returns when the node is Ready.
cluster_up() {
  local pki=$E2E_STATE/pki
  cluster_configs || return 1
  start etcd etcd --name netutil-e2e --data-dir "$E2E_STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$E2E_ETCD_PORT" \
    --advertise-client-urls "http://127.0.0.1:$E2E_ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((E2E_ETCD_PORT + 10))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((E2E_ETCD_PORT + 10))" \
    --initial-cluster "netutil-e2e=http://127.0.0.1:$((E2E_ETCD_PORT + 10))" \
    --unsafe-no-fsync
  start kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$E2E_ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$E2E_API_PORT" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-cluster-ip-range "$E2E_SERVICE_RANGE" \
    --authorization-mode AlwaysAllow --allow-privileged=true \
    --kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$pki/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types Hostname \
    --endpoint-reconciler-type none --enable-priority-and-fairness=false \
    --profiling=false --cert-dir "$pki"
  start containerd containerd --config "$E2E_STATE/containerd.toml"
  wait_for 60 "etcd" etcdctl_health || return 1
  wait_for 120 "kube-apiserver /readyz" k get --raw /readyz || return 1
  wait_for 30 "containerd" ctr_ version || return 1
  # No controller manager: create the default service account ourselves
  # (deploy/pod.yaml sets automountServiceAccountToken: false).
  k create serviceaccount default >/dev/null 2>&1 || k get serviceaccount default >/dev/null || return 1
  return 0
}

etcdctl_health() { curl -fsS "http://127.0.0.1:$E2E_ETCD_PORT/health" | grep -q true; }

# The kubelet refuses a loopback --node-ip, so it reports the default-route
# address as InternalIP; the apiserver reaches it by the Hostname address
# instead ($E2E_NODE, 127.0.0.1 in /etc/hosts), where it listens.
kubelet_up() {
  start kubelet "$KUBE_BIN/kubelet" --config "$E2E_STATE/kubelet.yaml" \
    --kubeconfig "$E2E_STATE/kubelet.kubeconfig" --root-dir "$E2E_STATE/kubelet" \
    --cert-dir "$E2E_STATE/kubelet-pki" \
    --hostname-override "$E2E_NODE" --v=2
  wait_for 120 "node $E2E_NODE Ready" node_ready
}

node_ready() {
  [ "$(k get node "$E2E_NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# --- teardown ----------------------------------------------------------------

# mounts_under DIR...: mount points below DIR (deepest first).
mounts_under() {
  local d
  for d in "$@"; do
    awk -v d="$d" '{ p=$5; gsub(/\\040/, " ", p); if (p == d || index(p, d "/") == 1) print p }' /proc/self/mountinfo
  done | sort -r | uniq
}

# cluster_down: remove every pod, stop kubelet, containers, containerd,
# apiserver and etcd, unmount what they left and delete their state (the logs
# stay). Safe to call at any point and more than once.
cluster_down() {
  if [ -f "$PIDFILE" ] && [ -n "${KUBE_BIN:-}" ] && k get --raw /readyz >/dev/null 2>&1; then
    k delete pods --all --wait=true --timeout=15s >/dev/null 2>&1 || true
  fi
  # Kill what containerd still runs (the shims outlive containerd, so start it
  # again if an earlier run left shims behind without it).
  if pgrep -f -- "-address $CTR_ADDRESS" >/dev/null && ! ctr_ version >/dev/null 2>&1 &&
     [ -f "$E2E_STATE/containerd.toml" ]; then
    mkdir -p "$E2E_LOGS"
    start containerd containerd --config "$E2E_STATE/containerd.toml"
    wait_for 30 "containerd (for cleanup)" ctr_ version || true
  fi
  if [ -S "$CTR_ADDRESS" ] && ctr_ version >/dev/null 2>&1; then
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 1
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$id" >/dev/null 2>&1 || true; done
  fi
  stop_all
  local m
  for m in $(mounts_under "$E2E_RUN" "$E2E_STATE" | tr ' ' '\001'); do
    umount -l "$(echo "$m" | tr '\001' ' ')" 2>/dev/null || true
  done
  ip link del "$E2E_BRIDGE" >/dev/null 2>&1 || true
  if [ -n "$(mounts_under "$E2E_RUN" "$E2E_STATE")" ]; then
    die "mounts left under $E2E_STATE or $E2E_RUN; not deleting them"; return 1
  fi
  find "$E2E_STATE" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} + 2>/dev/null || true
  rm -rf "$E2E_RUN"
}

# dump_logs: the tail of each component's log, for a failed run.
dump_logs() {
  local f
  for f in "$E2E_LOGS"/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 15 lines)"
    tail -15 "$f"
  done
}
