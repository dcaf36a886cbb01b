#!/usr/bin/env bash
# Pinning speed (hyperfine), on two projects:
#   - tests/e2e: the end-to-end tests' real node_modules;
#   - a synthetic project of 30,000 files / 300 MB generated under /tmp
#     (27,000 files of 2 kB and 3,000 of about 82 kB, in 6,000 directories).
# For each: `mcp-jail pin --print` (hash everything and print the section),
# `mcp-jail check` of a profile holding the pins (plans, then verifies every
# pin) against the same profile without pins, and `run -- /bin/true` with
# and without pins. The page cache is warm (hyperfine's warm-up runs).
#   bench/pin.sh [RUNS]        writes bench/results/pin.md
# Needs: hyperfine, node, a built build/mcp-jail, tests/e2e/node_modules.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs="${1:-10}"
bench_setup --work=/tmp/mcpjail-pinbench-XXXXXX hyperfine:hyperfine
[[ -d tests/e2e/node_modules ]] || { echo "bench: run npm ci in tests/e2e first" >&2; exit 1; }
# the manifests `pin` keeps go to a scratch state directory
export XDG_STATE_HOME="$work/state"

node - "$work/synthetic" 30000 300 <<'JS'
const fs = require('fs'), path = require('path');
const [root, files, mb] = [process.argv[2], +process.argv[3], +process.argv[4]];
const big = Math.floor(files / 10), small = files - big, smallSize = 2000;
const bigSize = Math.floor((mb * 1e6 - small * smallSize) / big);
fs.mkdirSync(root, { recursive: true });
fs.writeFileSync(path.join(root, 'package.json'), '{"name":"synthetic","version":"1.0.0"}\n');
fs.writeFileSync(path.join(root, 'package-lock.json'), '{"lockfileVersion":3}\n');
fs.writeFileSync(path.join(root, 'server.js'), 'console.log("synthetic server")\n');
const bufs = [Buffer.alloc(smallSize), Buffer.alloc(bigSize)];
for (const b of bufs) for (let i = 0; i < b.length; i++) b[i] = (i * 131 + 7) & 255;
for (let i = 0; i < files; i++) {
  const pkg = Math.floor(i / 20);
  const dir = path.join(root, 'node_modules', `pkg${pkg % 100}`, `sub${pkg}`, i % 20 < 10 ? 'lib' : 'dist');
  if (i % 10 === 0) fs.mkdirSync(dir, { recursive: true });
  const b = bufs[i % 10 === 9 ? 1 : 0];
  b.writeUInt32LE(i, 0);  // every file different
  fs.writeFileSync(path.join(dir, `f${i}.js`), b);
}
JS

cell() {  # hyperfine JSON, benchmark index -> "wall ± sd ms (CPU ms)"
  node -e 'const r = require(process.argv[1]).results[+process.argv[2]], ms = (s) => (s * 1000).toFixed(1);
           console.log(`${ms(r.mean)} ± ${ms(r.stddev)} ms (CPU ${ms(r.user + r.system)})`)' "$1" "$2"
}

table="| project | files | MB | pin --print | check: pins verified | check: no pins | run true: pins verified | run true: no pins |
|:---|---:|---:|---:|---:|---:|---:|---:|"
for name in e2e synthetic; do
  if [[ $name == e2e ]]; then dir="$PWD/tests/e2e"; script="$dir/demo.mjs"; else dir="$work/synthetic"; script="$dir/server.js"; fi
  files=$(find "$dir" -type f | wc -l)
  mb=$(find "$dir" -type f -printf '%s\n' | awk '{s += $1} END {printf "%.1f", s / 1e6}')
  printf 'version = 1\nextends = "base"\n' >"$work/$name-nopin.toml"
  cp "$work/$name-nopin.toml" "$work/$name.toml"
  "$jail" pin base --print -- node "$script" >>"$work/$name.toml"
  "$jail" check "$work/$name.toml" -- node "$script" >/dev/null  # the pins hold
  hyperfine --warmup 2 --runs "$runs" -N --export-json "$work/$name.json" \
    -n "pin --print ($name)" "$jail pin base --print -- node $script" \
    -n "check, pins ($name)" "$jail check $work/$name.toml -- node $script" \
    -n "check, no pins ($name)" "$jail check $work/$name-nopin.toml -- node $script" \
    -n "run true, pins ($name)" "$jail run $work/$name.toml --audit-log none -- /bin/true" \
    -n "run true, no pins ($name)" "$jail run $work/$name-nopin.toml --audit-log none -- /bin/true" >&2
  row="| $name | $files | $mb"
  for i in 0 1 2 3 4; do row+=" | $(cell "$work/$name.json" "$i")"; done
  table+=$'\n'"$row |"
done
{
  echo "$table"
  echo
  echo "Wall time, mean ± standard deviation over $runs runs, and CPU time (user + system, all threads)."
  echo "$(uname -r), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F); warm page cache."
} | tee bench/results/pin.md
