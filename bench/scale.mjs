// Scale: N jails started at once, each running a small server that answers a
// request (cat: one line in, the same line out). Reports time until every
// jail answered, supervisor resident memory per jail while the jails idle
// (and that of each jail's init, pid 1 inside it), failures, and what was
// left behind afterwards (mounts, processes, cgroups, network namespaces).
//   node bench/scale.mjs [--allowlist] [N...]        (default 50 100 200)
// --allowlist: network = "allowlist" (a pasta uplink, the nftables table and
// the DNS filter per jail; allow = 198.18.1.10:443 only, no DNS upstream, and
// the server sends nothing). Each jail's pasta holds about 30 MiB: keep N
// small. Run it where pasta finds a default route (bench/network/run.sh's
// world, or `ip netns exec` into one).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const jail = process.env.MCPJAIL_BIN || path.join(here, '..', 'build', 'mcp-jail');
const allowlist = process.argv.includes('--allowlist');
const sizes = process.argv.slice(2).map(Number).filter(Boolean);
if (!sizes.length) sizes.push(50, 100, 200);
let profile = 'base';
if (allowlist) {
  profile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mcpjail-scale-')), 'allowlist.toml');
  fs.writeFileSync(profile, 'version = 1\nname = "scale-allowlist"\nextends = "base"\n[network]\n' +
    'mode = "allowlist"\nallow = ["198.18.1.10:443"]\ndns = []\n');
  fs.chmodSync(path.dirname(profile), 0o755);
}

const read = (p) => { try { return fs.readFileSync(p, 'utf8'); } catch { return ''; } };
const pids = () => fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d));
function snapshot() {
  const netns = new Set();
  let jails = 0;
  for (const p of pids()) {
    try { netns.add(fs.readlinkSync(`/proc/${p}/ns/net`)); } catch {}
    if (read(`/proc/${p}/cmdline`).startsWith(jail)) jails++;
  }
  const cgroups = ['/sys/fs/cgroup/memory/mcp-jail', '/sys/fs/cgroup/pids/mcp-jail', '/sys/fs/cgroup/mcp-jail']
    .flatMap((d) => { try { return fs.readdirSync(d).filter((e) => fs.statSync(path.join(d, e)).isDirectory()); } catch { return []; } });
  return { mounts: read('/proc/self/mountinfo'), netns: netns.size, jails, cgroups: cgroups.length };
}
// Resident memory of a supervisor, KiB: rss (VmRSS, shared pages included),
// pss (shared pages divided among the processes mapping them) and priv
// (pages no other process maps: what one more jail costs).
function memKiB(pid) {
  const field = (text, name) => { const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text); return m ? Number(m[1]) : 0; };
  const rollup = read(`/proc/${pid}/smaps_rollup`);
  return {
    rss: field(read(`/proc/${pid}/status`), 'VmRSS'),
    pss: field(rollup, 'Pss'),
    priv: field(rollup, 'Private_Clean') + field(rollup, 'Private_Dirty'),
  };
}

// The jail's init: the supervisor's child that is pid 1 of a pid namespace
// (the other child, with allowlist, is pasta's keeper).
function initOf(pid) {
  for (const c of read(`/proc/${pid}/task/${pid}/children`).split(' ').filter(Boolean)) {
    const ns = /^NSpid:\s+(.*)$/m.exec(read(`/proc/${c}/status`));
    if (ns && ns[1].trim().split(/\s+/).length > 1) return c;
  }
  return null;
}

async function round(n) {
  const before = snapshot();
  const t0 = process.hrtime.bigint();
  const procs = [];
  let answered = 0, failures = 0;
  const done = new Promise((resolve) => {
    for (let i = 0; i < n; i++) {
      const p = spawn(jail, ['run', profile, '--audit-log', 'none', '--', '/bin/cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let out = '', err = '';
      const msg = `ping ${i}\n`;
      p.stdout.on('data', (d) => {
        out += d;
        if (out === msg) { answered++; if (answered + failures === n) resolve(); }
      });
      p.stderr.on('data', (d) => { err += d; });
      p.on('exit', (code) => {
        if (out !== msg) { failures++; if (failures < 3) console.error(`jail ${i} failed (${code}): ${err.trim()}`); if (answered + failures === n) resolve(); }
      });
      p.stdin.write(msg);
      procs.push(p);
    }
  });
  await done;
  const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
  // Memory while the jails idle (each supervisor releases its start-up
  // memory 100 ms after its server started).
  await new Promise((r) => setTimeout(r, 500));
  const mem = procs.map((p) => memKiB(p.pid)).filter((m) => m.rss);
  const inits = procs.map((p) => initOf(p.pid)).filter(Boolean).map(memKiB).filter((m) => m.rss);
  const exits = procs.map((p) => new Promise((r) => (p.exitCode !== null ? r() : p.on('exit', r))));
  procs.forEach((p) => p.stdin.end());
  await Promise.all(exits);
  await new Promise((r) => setTimeout(r, 200));
  const after = snapshot();
  const avg = (k) => (mem.length ? mem.reduce((a, m) => a + m[k], 0) / mem.length : 0);
  const mib = (kib) => (kib / 1024).toFixed(2);
  console.log(`N=${n}: all answered in ${readyMs.toFixed(0)} ms; supervisor RSS ${mib(avg('rss'))} MiB avg, ` +
    `${mib(Math.max(...mem.map((m) => m.rss)))} MiB max (PSS ${mib(avg('pss'))}, private ${mib(avg('priv'))}); ` +
    `jail init RSS ${mib(inits.reduce((a, m) => a + m.rss, 0) / (inits.length || 1))} MiB avg, ` +
    `${mib(Math.max(0, ...inits.map((m) => m.rss)))} MiB max; ` +
    `failures ${failures}; leftovers: mounts ${after.mounts === before.mounts ? 0 : 'CHANGED'}, ` +
    `processes ${after.jails}, cgroups ${after.cgroups - before.cgroups}, netns ${after.netns - before.netns}`);
  return failures === 0 && after.mounts === before.mounts && after.jails === 0 && after.netns <= before.netns;
}

let ok = true;
for (const n of sizes) ok = (await round(n)) && ok;
process.exit(ok ? 0 : 1);
