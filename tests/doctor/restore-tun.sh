#!/bin/sh
# restore-tun.sh STATE: when STATE exists (a doctor test changed
# /dev/net/tun's mode and did not get to restore it), puts the mode it
# records back and removes it.
set -eu
state=$1
[ -f "$state" ] || exit 0
mode=$(cat "$state")
case "$mode" in
  [0-7][0-7][0-7]|[0-7][0-7][0-7][0-7]) ;;
  *) echo "restore-tun: $state holds no mode: $mode" >&2; exit 1 ;;
esac
chmod "$mode" /dev/net/tun
rm -f "$state"
echo "restore-tun: /dev/net/tun is mode $mode again"
