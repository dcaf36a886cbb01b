#!/usr/bin/env bash
# Launch overhead, side by side in one run on this machine (hyperfine).
#   bench/launch.sh [RUNS]        writes bench/results/launch.md
# Needs: hyperfine, bubblewrap, firejail (apt), a built build/mcp-jail.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-300}"
for tool in hyperfine bwrap firejail; do
  command -v "$tool" >/dev/null || { echo "bench: $tool missing (apt-get install hyperfine bubblewrap firejail)" >&2; exit 1; }
done
jail="$PWD/build/mcp-jail"
[[ -x "$jail" ]] || { echo "bench: build mcp-jail first" >&2; exit 1; }
mkdir -p bench/results
prof="$(mktemp -d)"
trap 'rm -rf "$prof"' EXIT
# allowlist network: a literal address only, so launching `true` sends nothing
cat >"$prof/allowlist.toml" <<'TOML'
version = 1
extends = "base"
[network]
mode = "allowlist"
allow = ["192.0.2.1:443"]
TOML
hyperfine --warmup 20 --runs "$runs" -N --export-markdown bench/results/launch.md \
  -n "bare true" "/bin/true" \
  -n "unshare -Urnmpif true (floor)" "unshare -Urnmpif --mount-proc true" \
  -n "bwrap --unshare-all" "bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev /bin/true" \
  -n "firejail --noprofile --net=none" "firejail --quiet --noprofile --net=none /bin/true" \
  -n "mcp-jail base (none)" "$jail run base --audit-log none -- /bin/true" \
  -n "mcp-jail base (allowlist)" "$jail run $prof/allowlist.toml --audit-log none -- /bin/true"
echo "written: bench/results/launch.md ($(uname -r), $(nproc) cores, $(date -u +%F))"
