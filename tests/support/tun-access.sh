#!/bin/sh
# tun-access.sh open|restore STATE
#
# Rootless `network = "allowlist"` needs the invoking user to open
# /dev/net/tun (pasta creates the jail's uplink with it). Stock Debian makes
# the device 0666; some hosts make it 0600, and then every rootless allowlist
# launch stops with exit 125 and a message naming the device and the fix
# (`mcp-jail doctor` reports it too; tests/doctor checks both). The rootless
# network tests need the device usable, so this fixture applies that fix for
# the duration of the test run and puts the original mode back afterwards:
#   open     record the mode in STATE and make the device 0666 (when it is not)
#   restore  put the recorded mode back and remove STATE
set -eu
dev=/dev/net/tun
action=$1
state=$2
case "$action" in
  open)
    [ -c "$dev" ] || { echo "tun-access: $dev is missing: rootless allowlist tests will fail" >&2; exit 0; }
    mode=$(stat -c %a "$dev")
    if [ "$mode" = 666 ]; then
      echo "tun-access: $dev is already 0666"
      exit 0
    fi
    if [ "$(id -u)" != 0 ]; then
      echo "tun-access: $dev is $mode and this is not root: rootless allowlist tests will fail" >&2
      exit 0
    fi
    [ -f "$state" ] || echo "$mode" > "$state"
    chmod 0666 "$dev"
    echo "tun-access: $dev was $mode; made 0666 for the rootless tests (restored afterwards)"
    ;;
  restore)
    [ -f "$state" ] || exit 0
    mode=$(cat "$state")
    case "$mode" in
      [0-7][0-7][0-7]|[0-7][0-7][0-7][0-7]) ;;
      *) echo "tun-access: $state holds no mode: $mode" >&2; exit 1 ;;
    esac
    chmod "$mode" "$dev"
    rm -f "$state"
    echo "tun-access: $dev is $mode again"
    ;;
  *) echo "usage: tun-access.sh open|restore STATE" >&2; exit 2 ;;
esac
