#!/usr/bin/env node
// Where a launch spends its time, phase by phase, across the three processes
// (supervisor, the jail's init, the server). Needs a build configured with
// -DMCPJAIL_PHASE_TIMES=ON, whose processes print "PH <phase> <us>" lines
// (CLOCK_MONOTONIC) on stderr; see bench/PROFILING.md.
//
//   node bench/phases.mjs [--runs N] [--build DIR] [-- ARGS...]
//
// ARGS default to: run base --audit-log none -- /bin/true
// Prints, per phase, the median and minimum time since the launcher was
// spawned, and the median step from the phase before it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
let runs = 100;
let build = path.join(root, 'build-phases');
let args = ['run', 'base', '--audit-log', 'none', '--', '/bin/true'];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; ++i) {
  if (argv[i] === '--runs') runs = Number(argv[++i]);
  else if (argv[i] === '--build') build = path.resolve(argv[++i]);
  else if (argv[i] === '--') { args = argv.slice(i + 1); break; }
  else { console.error(`phases: unknown option ${argv[i]}`); process.exit(2); }
}
const bin = path.join(build, 'mcp-jail');

const nowUs = () => Number(process.hrtime.bigint() / 1000n);  // CLOCK_MONOTONIC on Linux
const samples = new Map();
for (let r = 0; r < runs; ++r) {
  const t0 = nowUs();
  const p = spawnSync(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const t1 = nowUs();
  if (p.error) { console.error(`phases: ${p.error.message}`); process.exit(1); }
  if (p.status !== 0) { console.error(`phases: exit status ${p.status}\n${p.stderr}`); process.exit(1); }
  const events = [];
  for (const line of p.stderr.toString().split('\n')) {
    const m = /^PH (\S+) (\d+)$/.exec(line);
    if (m) events.push([m[1], Number(m[2]) - t0]);
  }
  if (r === 0 && events.length === 0) {
    console.error(`phases: no PH lines; configure ${build} with -DMCPJAIL_PHASE_TIMES=ON`);
    process.exit(1);
  }
  events.push(['exited', t1 - t0]);
  for (const [name, t] of events) {
    if (!samples.has(name)) samples.set(name, []);
    samples.get(name).push(t);
  }
}
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[s.length >> 1]; };
const rows = [...samples].map(([name, v]) => ({ name, med: median(v), min: Math.min(...v) }))
  .sort((a, b) => a.med - b.med);
console.log(`${runs} runs of mcp-jail ${args.join(' ')}`);
console.log('phase            median     min    step (ms since spawn)');
let prev = 0;
for (const r of rows) {
  const f = (x) => (x / 1000).toFixed(2).padStart(7);
  console.log(`${r.name.padEnd(14)} ${f(r.med)} ${f(r.min)} ${f(r.med - prev)}`);
  prev = r.med;
}
