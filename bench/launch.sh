#!/usr/bin/env bash
# Launch overhead, side by side in one run on this machine (hyperfine).
#   bench/launch.sh [--rootless] [RUNS]
# writes bench/results/launch.md (root) or bench/results/launch-rootless.md.
# Needs: hyperfine, bubblewrap, node, git (apt), a built build/mcp-jail;
# firejail is measured when installed (root only).
#
# --rootless: every row runs as an unprivileged user. Run as that user, or as
# root: hyperfine then runs as mcpjail-test (the user the tests create, see
# tests/support/test_user.hpp; override with MCPJAIL_BENCH_USER) through
# setpriv, so every row, bwrap's included, is started the same way.
#
# Rows: bare `true`; `unshare` (the floor for creating the namespaces);
# bwrap --unshare-all (the reference of the targets in docs/ARCHITECTURE.md); firejail;
# mcp-jail with
#   base (none)       the base profile, network none: every default layer
#                     (mounts with writable ones noexec, no caps, Landlock,
#                     seccomp base default, the memfd setting)
#   base + workspace  base with `--write DIR` on a directory holding a git
#                     repository: protected names apply (.git/hooks, .git/config
#                     read-only, the creation of the missing ones refused by
#                     the watch); as root the directory belongs to another
#                     user (uid 4242, MCPJAIL_BENCH_OWNER), so the write path
#                     is idmapped; rootless it is the user's own. Every layer
#                     of the launch is on in this row
#   hardened          base + seccomp base "strict" + exec.allow = [true]:
#                     Landlock limits exec to the command, and the launcher's
#                     own execve is answered by the supervisor (strict denies
#                     exec in the filter)
#   allowlist         base + network allowlist (pasta uplink, nftables table,
#                     DNS filter) with a literal address only: `true` sends
#                     nothing
# The table gives each row's mean and median, and their ratios to bwrap,
# and names the machine, kernel, mode (root or rootless) and date.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
rootless=0
if [[ "${1:-}" == --rootless ]]; then rootless=1; shift; fi
runs="${1:-300}"
bench_setup hyperfine:hyperfine bubblewrap:bwrap nodejs:node git:git
chmod 755 "$work"
# Who runs the rows: as root with --rootless, the bench user.
as=()
if [[ $rootless == 1 && $(id -u) == 0 ]]; then
  user="${MCPJAIL_BENCH_USER:-mcpjail-test}"
  id "$user" >/dev/null 2>&1 || { echo "bench: no user $user (the tests create mcpjail-test; or set MCPJAIL_BENCH_USER)" >&2; exit 1; }
  as=(setpriv "--reuid=$(id -u "$user")" "--regid=$(id -g "$user")" --clear-groups --
      env "HOME=$(getent passwd "$user" | cut -d: -f6)" "USER=$user" "PATH=/usr/local/bin:/usr/bin:/bin")
  [[ -x "$jail" ]] && setpriv "--reuid=$(id -u "$user")" "--regid=$(id -g "$user")" --clear-groups -- test -x "$jail" ||
    { echo "bench: $user cannot run $jail (a directory above it is not searchable)" >&2; exit 1; }
elif [[ $rootless == 0 && $(id -u) != 0 ]]; then
  rootless=1  # not root: the launches are rootless whatever was asked
fi
# The workspace: a git repository, writable in the jail. As root it belongs
# to another user than the jail's (idmapped); rootless to the user.
ws="$work/workspace"
mkdir "$ws"
git -c init.defaultBranch=main init -q "$ws"
if [[ $(id -u) == 0 ]]; then
  if [[ $rootless == 1 ]]; then chown -R "$(id -u "$user"):$(id -g "$user")" "$ws"
  else chown -R "${MCPJAIL_BENCH_OWNER:-4242}:${MCPJAIL_BENCH_OWNER:-4242}" "$ws"; fi
fi
if [[ $rootless == 1 ]]; then ws_row="mcp-jail base + workspace (--write, git repository: protected names)"
else ws_row="mcp-jail base + workspace (--write, git repository of another user: protected names, idmapped)"; fi
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
chmod 644 "$work"/*.toml
# Each mcp-jail row must launch before it is timed (hyperfine would time a
# failing command too, with -i, or stop without it).
"${as[@]}" "$jail" run base --audit-log none --write "$ws" -- /bin/true ||
  { echo "bench: the workspace row does not launch" >&2; exit 1; }

cmds=(
  -n "bare true" "/bin/true"
  -n "unshare -Urnmpif true (floor)" "unshare -Urnmpif --mount-proc true"
  -n "bwrap --unshare-all" "bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev /bin/true"
)
if [[ $rootless == 0 ]] && command -v firejail >/dev/null; then
  cmds+=(-n "firejail --noprofile --net=none" "firejail --quiet --noprofile --net=none /bin/true")
fi
cmds+=(
  -n "mcp-jail base (none)" "$jail run base --audit-log none -- /bin/true"
  -n "$ws_row" "$jail run base --audit-log none --write $ws -- /bin/true"
  -n "mcp-jail hardened (strict seccomp + exec.allow)" "$jail run $work/hardened.toml --audit-log none -- /bin/true"
  -n "mcp-jail allowlist" "$jail run $work/allowlist.toml --audit-log none -- /bin/true"
)
[[ ${#as[@]} -gt 0 ]] && chown "$(id -u "$user")" "$work"
"${as[@]}" hyperfine --warmup 20 --runs "$runs" -N --export-json "$work/launch.json" "${cmds[@]}"

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
if [[ $rootless == 1 ]]; then
  mode="rootless (user namespace; as $(if [[ ${#as[@]} -gt 0 ]]; then echo "$user"; else id -un; fi))"
  out=bench/results/launch-rootless.md
else
  mode="root (root mode: the jail runs as nobody)"
  out=bench/results/launch.md
fi
node - "$work/launch.json" "$runs" "${cpu:-unknown CPU}" "$(nproc)" "$(uname -sr)" "$mode" "$(date -u '+%F %H:%M UTC')" \
  >"$out" <<'JS'
const fs = require('fs');
const [file, runs, cpu, cores, kernel, mode, date] = process.argv.slice(2);
const { results } = JSON.parse(fs.readFileSync(file, 'utf8'));
const ms = (s) => (s * 1000).toFixed(1);
const bw = results.find((r) => r.command === 'bwrap --unshare-all');
const lines = [
  `Launch overhead: ${cpu}, ${cores} cores, ${kernel}, ${mode}; ${date}; ` +
    `hyperfine, ${runs} runs each, \`true\` as the command.`,
  '',
  '| command | mean [ms] | ± σ | min [ms] | median [ms] | vs. bwrap (mean) | vs. bwrap (median) |',
  '|:---|---:|---:|---:|---:|---:|---:|',
];
for (const r of results)
  lines.push(`| \`${r.command}\` | ${ms(r.mean)} | ${ms(r.stddev)} | ${ms(r.min)} | ${ms(r.median)} | ${(r.mean / bw.mean).toFixed(2)}x | ${(r.median / bw.median).toFixed(2)}x |`);
console.log(lines.join('\n'));
JS
cat "$out"
echo "written: $out"
