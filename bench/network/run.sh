#!/bin/sh
# Network benchmark of network = "allowlist" (pasta uplink, nftables, DNS filter):
#   1. launch time of `mcp-jail run` with network "allowlist" vs "none" (root and rootless)
#   2. TCP connection setup from inside the jail vs the same connects without a jail
#   3. bulk TCP throughput (one stream, 1 GiB) through the jail's uplink vs without a jail
#   4. resident memory of the supervisor and of the jail's init with network "allowlist":
#      SCALE jails idling (bench/scale.mjs --allowlist), and one supervisor after
#      a DNS flood has gone through its filter (cache, budget)
#
#   sudo bench/network/run.sh [BUILD_DIR]
#
# Everything runs in a world of network namespaces built by tests/network/world.sh
# (no traffic leaves the machine). Needs root, pasta, iproute2, nsenter, and the
# helpers of the network tests: cmake --build BUILD_DIR --target netprobe networld
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=$(cd "${1:-$ROOT/build}" && pwd)
JAIL=$B/mcp-jail
NETPROBE=$B/tests/network/netprobe
NETWORLD=$B/tests/network/networld
RUNS=${RUNS:-30}
SCALE=${SCALE:-10}
CONNECTS=${CONNECTS:-500}
MB=${MB:-1024}
for f in "$JAIL" "$NETPROBE" "$NETWORLD"; do
  [ -x "$f" ] || { echo "missing $f (build the network tests' helpers)" >&2; exit 2; }
done
N=mjb$(($$ % 100000))
T=$(mktemp -d /tmp/mcpjail-netbench-XXXXXX)
chmod 755 "$T"
cp "$NETPROBE" "$JAIL" "$T/"
chmod 755 "$T/netprobe" "$T/mcp-jail"
WPID=
cleanup() {
  [ -n "$WPID" ] && kill "$WPID" 2>/dev/null
  sh "$ROOT/tests/network/world.sh" down "$N"
  rm -rf "$T"
}
trap cleanup EXIT INT TERM
sh "$ROOT/tests/network/world.sh" up "$N"
nsenter --net=/run/netns/$N-w -- "$NETWORLD" tcp:198.18.1.10:8443 "blob:198.18.1.10:9000:$MB" \
  dns:198.18.1.53:53 rr:api.test=198.18.1.10 >"$T/world.out" 2>&1 &
WPID=$!
for i in $(seq 50); do grep -q ready "$T/world.out" 2>/dev/null && break; sleep 0.1; done
HOSTNS="nsenter --net=/run/netns/$N-h --"
$HOSTNS "$T/netprobe" connect 198.18.1.10 8443 | grep -q " ok hello" || { echo "test world is not up" >&2; exit 1; }

cat >"$T/none.toml" <<EOP
version = 1
name = "bench-none"
extends = "base"
EOP
cat >"$T/allow.toml" <<EOP
version = 1
name = "bench-allowlist"
extends = "base"
[network]
mode = "allowlist"
allow = ["api.test:8443", "api.test:9000", "*.flood.test:8443"]
dns = ["198.18.1.53"]
EOP
chmod 644 "$T"/*.toml
id mcpjail-test >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin mcpjail-test
ASUSER="setpriv --reuid=mcpjail-test --regid=mcpjail-test --clear-groups --"

# mean and median (ms) of $RUNS launches of `netprobe sleep 0`
launch() {  # $1 = prefix (root: empty), $2 = profile
  for i in $(seq "$RUNS"); do
    s=$(date +%s%N)
    $HOSTNS $1 "$T/mcp-jail" run "$2" --audit-log none -- "$T/netprobe" sleep 0
    e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
  done | sort -n | awk '{a[NR]=$1; t+=$1} END {printf "mean %6.1f ms  median %6.1f ms\n", t/NR/1000, a[int((NR+1)/2)]/1000}'
}

echo "== launch: mcp-jail run PROFILE -- netprobe sleep 0  ($RUNS runs each)"
printf "  root      none       "; launch "" "$T/none.toml"
printf "  root      allowlist  "; launch "" "$T/allow.toml"
printf "  rootless  none       "; launch "$ASUSER" "$T/none.toml"
printf "  rootless  allowlist  "; launch "$ASUSER" "$T/allow.toml"

echo "== TCP connection setup: $CONNECTS sequential connects (connect, read to EOF, close)"
printf "  no jail             "; $HOSTNS "$T/netprobe" connects 198.18.1.10 8443 "$CONNECTS" | sed 's/.* ok //'
printf "  jail, root          "; $HOSTNS "$T/mcp-jail" run "$T/allow.toml" --audit-log none -- "$T/netprobe" connects api.test 8443 "$CONNECTS" | sed 's/.* ok //'
printf "  jail, rootless      "; $HOSTNS $ASUSER "$T/mcp-jail" run "$T/allow.toml" --audit-log none -- "$T/netprobe" connects api.test 8443 "$CONNECTS" | sed 's/.* ok //'

echo "== bulk TCP download, one stream of $MB MiB"
for i in 1 2 3; do
  printf "  no jail             "; $HOSTNS "$T/netprobe" download 198.18.1.10 9000 | sed 's/.* ok //'
done
for i in 1 2 3; do
  printf "  jail, root          "; $HOSTNS "$T/mcp-jail" run "$T/allow.toml" --audit-log none -- "$T/netprobe" download api.test 9000 | sed 's/.* ok //'
done
for i in 1 2 3; do
  printf "  jail, rootless      "; $HOSTNS $ASUSER "$T/mcp-jail" run "$T/allow.toml" --audit-log none -- "$T/netprobe" download api.test 9000 | sed 's/.* ok //'
done

echo "== resident memory, network allowlist"
$HOSTNS env MCPJAIL_BIN="$T/mcp-jail" node "$ROOT/bench/scale.mjs" --allowlist "$SCALE" | sed 's/^/  /'
# One jail whose server floods the DNS filter with new names (each one a
# query upstream until the budget is spent), then idles: the supervisor's
# memory then, and its jail's init.
$HOSTNS "$T/mcp-jail" run "$T/allow.toml" --audit-log none -- "$T/netprobe" connect api.test 8443 \; \
  dnsflood 127.0.0.1 flood.test 1000 \; sleep 3000 >"$T/flood.out" &
SUP=$!
sleep 2
INIT=$(for c in $(cat /proc/$SUP/task/$SUP/children 2>/dev/null); do
  grep -Eq '^NSpid:[[:space:]]+[0-9]+[[:space:]]+[0-9]+' /proc/$c/status 2>/dev/null && echo "$c"; done | head -n1)
printf "  after a DNS flood: supervisor VmRSS %s kB, jail init VmRSS %s kB\n" \
  "$(awk '/^VmRSS/ {print $2}' /proc/$SUP/status)" "$(awk '/^VmRSS/ {print $2}' /proc/${INIT:-0}/status 2>/dev/null)"
wait $SUP
sed 's/^/  /' "$T/flood.out"
