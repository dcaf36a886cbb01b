#!/usr/bin/env bash
# Launch overhead, side by side in one run on this machine (hyperfine).
#   bench/launch.sh [RUNS]        writes bench/results/launch.md
# Needs: hyperfine, bubblewrap, node (apt), a built build/mcp-jail;
# firejail is measured when installed.
#
# Rows: bare `true`; `unshare` (the floor for creating the namespaces);
# bwrap --unshare-all (the reference of the targets in docs/ARCHITECTURE.md); firejail;
# mcp-jail with
#   base (none)       the base profile, network none: every default layer
#                     (mounts, no caps, Landlock, seccomp base default)
#   hardened          base + seccomp base "strict" + exec.allow = [true]:
#                     Landlock limits exec to the command, and the launcher's
#                     own execve is answered by the supervisor (strict denies
#                     exec in the filter)
#   allowlist         base + network allowlist (pasta uplink, nftables table,
#                     DNS filter) with a literal address only: `true` sends
#                     nothing
# The table gives each row's mean and its ratio to bwrap, and names the
# machine, kernel, mode (root or rootless) and date.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs="${1:-300}"
bench_setup hyperfine:hyperfine bubblewrap:bwrap nodejs:node
true_bin="$(readlink -f /bin/true)"
cat >"$work/hardened.toml" <<TOML
version = 1
extends = "base"
[exec]
allow = ["$true_bin"]
[seccomp]
base = "strict"
TOML
cat >"$work/allowlist.toml" <<'TOML'
version = 1
extends = "base"
[network]
mode = "allowlist"
allow = ["192.0.2.1:443"]
TOML

cmds=(
  -n "bare true" "/bin/true"
  -n "unshare -Urnmpif true (floor)" "unshare -Urnmpif --mount-proc true"
  -n "bwrap --unshare-all" "bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev /bin/true"
)
if command -v firejail >/dev/null; then
  cmds+=(-n "firejail --noprofile --net=none" "firejail --quiet --noprofile --net=none /bin/true")
fi
cmds+=(
  -n "mcp-jail base (none)" "$jail run base --audit-log none -- /bin/true"
  -n "mcp-jail hardened (strict seccomp + exec.allow)" "$jail run $work/hardened.toml --audit-log none -- /bin/true"
  -n "mcp-jail allowlist" "$jail run $work/allowlist.toml --audit-log none -- /bin/true"
)
hyperfine --warmup 20 --runs "$runs" -N --export-json "$work/launch.json" "${cmds[@]}"

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
mode="$([[ $(id -u) == 0 ]] && echo "root (root mode: the jail runs as nobody)" || echo "rootless (user namespace)")"
node - "$work/launch.json" "$runs" "${cpu:-unknown CPU}" "$(nproc)" "$(uname -sr)" "$mode" "$(date -u '+%F %H:%M UTC')" \
  >bench/results/launch.md <<'JS'
const fs = require('fs');
const [file, runs, cpu, cores, kernel, mode, date] = process.argv.slice(2);
const { results } = JSON.parse(fs.readFileSync(file, 'utf8'));
const ms = (s) => (s * 1000).toFixed(1);
const ref = results.find((r) => r.command === 'bwrap --unshare-all').mean;
const lines = [
  `Launch overhead: ${cpu}, ${cores} cores, ${kernel}, ${mode}; ${date}; ` +
    `hyperfine, ${runs} runs each, \`true\` as the command.`,
  '',
  '| command | mean [ms] | ± σ | min [ms] | median [ms] | vs. bwrap |',
  '|:---|---:|---:|---:|---:|---:|',
];
for (const r of results)
  lines.push(`| \`${r.command}\` | ${ms(r.mean)} | ${ms(r.stddev)} | ${ms(r.min)} | ${ms(r.median)} | ${(r.mean / ref).toFixed(2)}x |`);
console.log(lines.join('\n'));
JS
cat bench/results/launch.md
echo "written: bench/results/launch.md"
