#!/usr/bin/env bash
# The cost of protected names at launch (hyperfine), in one run on this
# machine:
#   bench/protect.sh [RUNS]       writes bench/results/protect.md
# Needs: hyperfine, git, node (apt), a built build/mcp-jail.
#
# The workspace: a repository holding 10,000 files in 1,000 directories and
# 50 nested repositories (each with its hooks directory and config), 1 to 4
# levels down. Rows: `check` and `run` of a profile that writes the
# workspace, with the names protected (the default of base) and with
# unprotect = ["*"]; the command is `true`. The difference in `run` is the
# walk for nested repositories plus the read-only binds (2 per repository
# and the directories above them pinned) and their Landlock rules; `check`
# shows the walk and planning alone. Two more rows time 2,000 creating opens
# (a shell loop) with and without names to protect: the first go through the
# create helper, the second continue in the kernel.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
runs="${1:-50}"
bench_setup hyperfine:hyperfine git:git nodejs:node
ws="$work/ws"
mkdir -p "$ws"
git init -q "$ws"
for d in $(seq 1 1000); do
  dir="$ws/src/m$((d % 20))/d$d"
  mkdir -p "$dir"
  for f in $(seq 1 10); do echo "file $d $f" >"$dir/f$f.txt"; done
done
for r in $(seq 1 50); do
  depth=$((r % 4 + 1))   # the repository's directory is 1 to 4 levels below the workspace
  repo="$ws"
  for l in $(seq 2 "$depth"); do repo="$repo/v$l"; done
  repo="$repo/r$r"
  mkdir -p "$repo"
  git init -q "$repo"
done
if [[ $(id -u) == 0 ]]; then chown -R nobody:nogroup "$ws"; chmod 755 "$work"; fi
files=$(find "$ws" -path '*/.git' -prune -o -type f -print | wc -l)
repos=$(find "$ws" -mindepth 2 -name .git -type d | wc -l)
cat >"$work/on.toml" <<'TOML'
version = 1
extends = "base"
[filesystem]
write = ["${WORKSPACE}"]
TOML
cat >"$work/off.toml" <<'TOML'
version = 1
extends = "base"
[filesystem]
write = ["${WORKSPACE}"]
unprotect = ["*"]
TOML
v=(--var "WORKSPACE=$ws" --audit-log none)
hyperfine --warmup 5 --runs "$runs" -N --export-json "$work/protect.json" \
  -n "check, protected" "$jail check $work/on.toml ${v[*]} -- /bin/true" \
  -n "check, unprotect *" "$jail check $work/off.toml ${v[*]} -- /bin/true" \
  -n "run, protected" "$jail run $work/on.toml ${v[*]} -- /bin/true" \
  -n "run, unprotect *" "$jail run $work/off.toml ${v[*]} -- /bin/true"
# Creating calls: with names to protect, each is performed by the jail's
# create helper instead of continuing in the kernel.
mkdir "$ws/created"
if [[ $(id -u) == 0 ]]; then chown nobody:nogroup "$ws/created"; fi
loop="i=0; while [ \$i -lt 2000 ]; do : > $ws/created/f\$i; i=\$((i+1)); done"
hyperfine --warmup 2 --runs "$(( (runs + 4) / 5 ))" -N --export-json "$work/create.json" --prepare "find $ws/created -mindepth 1 -delete" \
  -n "2000 creating opens, protected" "$jail run $work/on.toml ${v[*]} -- /bin/sh -c '$loop'" \
  -n "2000 creating opens, unprotect *" "$jail run $work/off.toml ${v[*]} -- /bin/sh -c '$loop'"
mounts=$("$jail" check "$work/on.toml" "${v[@]}" -- /bin/true | grep -cE '^ *[0-9]+ (ro|rw) ')
mounts_off=$("$jail" check "$work/off.toml" "${v[@]}" -- /bin/true | grep -cE '^ *[0-9]+ (ro|rw) ')
scan=$("$jail" check "$work/on.toml" "${v[@]}" -- /bin/true | sed -n 's/.*nested repositories to depth \([0-9]*\): \(.*\))$/depth \1: \2/p')

cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
mode="$([[ $(id -u) == 0 ]] && echo "root" || echo "rootless")"
node - "$work/protect.json" "$work/create.json" "$runs" "${cpu:-unknown CPU}" "$(nproc)" "$(uname -sr)" "$mode" "$(date -u '+%F %H:%M UTC')" \
  "$files" "$repos" "$mounts" "$mounts_off" "$scan" >bench/results/protect.md <<'JS'
const fs = require('fs');
const [file, createFile, runs, cpu, cores, kernel, mode, date, files, repos, mounts, mountsOff, scan] = process.argv.slice(2);
const results = JSON.parse(fs.readFileSync(file, 'utf8')).results.concat(JSON.parse(fs.readFileSync(createFile, 'utf8')).results);
const ms = (s) => (s * 1000).toFixed(1);
const by = (n) => results.find((r) => r.command === n);
const lines = [
  `Protected names at launch: ${cpu}, ${cores} cores, ${kernel}, ${mode}; ${date}; hyperfine, ${runs} runs each; ` +
    `a workspace of ${files} files and ${repos} nested repositories (${scan}); ` +
    `bind mounts: ${mounts} protected, ${mountsOff} with unprotect = ["*"].`,
  '',
  '| command | mean [ms] | ± σ | min [ms] | median [ms] |',
  '|:---|---:|---:|---:|---:|',
];
for (const r of results) lines.push(`| ${r.command} | ${ms(r.mean)} | ${ms(r.stddev)} | ${ms(r.min)} | ${ms(r.median)} |`);
lines.push('');
lines.push(`Cost of the protection: check +${ms(by('check, protected').mean - by('check, unprotect *').mean)} ms, ` +
  `run +${ms(by('run, protected').mean - by('run, unprotect *').mean)} ms. A creating open (medians, the shell loop): ` +
  `${(by('2000 creating opens, protected').median / 2000 * 1e6).toFixed(0)} µs performed by the create helper, ` +
  `${(by('2000 creating opens, unprotect *').median / 2000 * 1e6).toFixed(0)} µs continued in the kernel.`);
console.log(lines.join('\n'));
JS
cat bench/results/protect.md
echo "written: bench/results/protect.md"
