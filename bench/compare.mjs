#!/usr/bin/env node
// Launch time of bwrap and of one or more mcp-jail binaries, run in turn
// (one launch of each, then the next round), so that a busy, shared machine
// slows them alike; hyperfine (bench/launch.sh) runs each command's launches
// back to back instead.
//   node bench/compare.mjs [RUNS] [MCPJAIL_BIN...] [-- ARGS...]
// (default: 300, build/mcp-jail; ARGS: run base --audit-log none -- /bin/true)
// Prints mean, median and minimum per command and the ratios to bwrap.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const dash = argv.indexOf('--');
const jailArgs = dash >= 0 ? argv.slice(dash + 1) : ['run', 'base', '--audit-log', 'none', '--', '/bin/true'];
const head = dash >= 0 ? argv.slice(0, dash) : argv;
const runs = Number(head[0] || 300);
const bins = head.slice(1);
if (!bins.length) bins.push(path.join(root, 'build', 'mcp-jail'));
const cmds = [['bwrap --unshare-all', 'bwrap', ['--unshare-all', '--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '/bin/true']]];
for (const b of bins) cmds.push([`${b} ${jailArgs.slice(0, 2).join(' ')}`, b, jailArgs]);
const times = cmds.map(() => []);
const warmup = 20;
for (let i = 0; i < runs + warmup; i++)
  cmds.forEach(([name, cmd, args], k) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) { console.error(`compare: ${name} failed (${r.error?.message ?? r.status})`); process.exit(1); }
    if (i >= warmup) times[k].push(ms);
  });
const stats = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return { mean: v.reduce((a, b) => a + b, 0) / v.length, median: s[s.length >> 1], min: s[0] };
};
const ref = stats(times[0]);
console.log(`${runs} rounds, ms (spawned from node):`);
cmds.forEach(([name], k) => {
  const s = stats(times[k]);
  console.log(`  ${name}: mean ${s.mean.toFixed(2)}, median ${s.median.toFixed(2)}, min ${s.min.toFixed(2)}; ` +
    `vs bwrap: mean ${(s.mean / ref.mean).toFixed(2)}x, median ${(s.median / ref.median).toFixed(2)}x`);
});
