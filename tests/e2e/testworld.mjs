// The network e2e tests' world: two network namespaces built by
// tests/network/world.sh (NAME-h plays the host, NAME-w the internet), with
// networld.mjs listeners in them. Names carry the pid, so tests that run at
// the same time each get their own. Needs root. Launch modes and the MCP
// client come from jailed.mjs.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

import { E2E_DIR, eventually, startServer } from './jailed.mjs';

const WORLD_SH = path.resolve(E2E_DIR, '..', 'network', 'world.sh');

// The [network] section of a profile that allows api.test:8080 (198.18.1.10)
// through the world's resolver, for worlds that have them.
export const ALLOW_API_TEST = ['[network]', 'mode = "allowlist"', 'allow = ["api.test:8080"]', 'dns = ["198.18.1.53"]'];

// Why a test that builds a world cannot run here; null when it can.
export function worldSkipReason(moreTools = []) {
  if (process.getuid() !== 0) return 'needs root: the test builds network namespaces';
  for (const tool of ['/usr/bin/pasta', '/usr/bin/nsenter', ...moreTools]) if (!fs.existsSync(tool)) return `${tool} is missing`;
  return null;
}

export class TestWorld {
  // prefix: up to 5 characters; world.sh takes names of at most 10.
  constructor(prefix) {
    this.name = `${prefix}${process.pid % 100000}`;
    this.hostNs = `/run/netns/${this.name}-h`;
    this.procs = [];
    this.events = [];
    this.up = false;
  }

  // worldSpecs, hostSpecs: networld.mjs arguments for the world's "internet"
  // and "host" namespaces.
  async build(worldSpecs, hostSpecs = []) {
    this.down();
    execFileSync('sh', [WORLD_SH, 'up', this.name], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.up = true;
    await this.#serve(`${this.name}-w`, worldSpecs);
    if (hostSpecs.length) await this.#serve(`${this.name}-h`, hostSpecs);
  }

  down() {
    for (const p of this.procs) p.kill('SIGKILL');
    this.procs = [];
    try {
      execFileSync('sh', [WORLD_SH, 'down', this.name], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch {}
    this.up = false;
  }

  // Command, args and env for startServer(): `mcp-jail ARGS...` in the world's
  // host namespace, launched as the jailed.mjs mode `ctx` launches.
  launcher(ctx, args) {
    return { command: 'nsenter', args: [`--net=${this.hostNs}`, '--', ...ctx.prefix, ctx.jailBin, ...args], env: ctx.env };
  }

  // A GET from the world's "host" namespace, without any jail: "STATUS BODY"
  // or "failed MESSAGE".
  directGet(url) {
    const js = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(5000) })` +
      '.then(async (r) => console.log(r.status, await r.text())).catch((e) => { console.log("failed", e.message); })';
    return execFileSync('nsenter', [`--net=${this.hostNs}`, '--', process.execPath, '-e', js], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  }

  // The positive control of a world: fetch-server.mjs, without a jail, in the
  // world's host namespace, fetches each of `urls` (http://ADDRESS:PORT/control).
  async assertFetchControl(urls) {
    const bare = await startServer({
      command: 'nsenter',
      args: [`--net=${this.hostNs}`, '--', process.execPath, path.join(E2E_DIR, 'fetch-server.mjs')],
    });
    try {
      for (const url of urls) {
        const r = await fetchTool(bare.client, url);
        assert.ok(r.ok && r.text.startsWith('200\nhello from'), `control fetch of ${url} failed: ${r.text}`);
      }
    } finally {
      await bare.close();
    }
  }

  requestsTo(local) {
    return this.events.filter((e) => e.kind === 'http' && e.local === local);
  }

  queriesFor(name) {
    return this.events.filter((e) => e.kind === 'dns' && e.name === name);
  }

  // Starts networld.mjs in namespace `ns`; resolves once it is listening.
  #serve(ns, specs) {
    return new Promise((resolve, reject) => {
      const child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', process.execPath, path.join(E2E_DIR, 'networld.mjs'), ...specs], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      this.procs.push(child);
      const timer = setTimeout(() => reject(new Error(`world server in ${ns} did not start`)), 10_000);
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        const ev = JSON.parse(line);
        if (ev.kind === 'ready') {
          clearTimeout(timer);
          resolve();
        } else {
          this.events.push({ ns, ...ev });
        }
      });
      child.on('exit', (code) => reject(new Error(`world server in ${ns} exited (${code})`)));
    });
  }
}

// The fetch tool of fetch-server.mjs: { ok, text }, text "STATUS\nBODY" or the error.
export async function fetchTool(client, url) {
  const res = await client.callTool({ name: 'fetch', arguments: { url, timeout_ms: 8000 } }, undefined, {
    timeout: 20_000,
  });
  return { ok: !res.isError, text: (res.content ?? []).map((c) => c.text ?? '').join('\n') };
}

// ---------------------------------------------------------------- audit log

export function readAudit(file) {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

// Audit events are written as they happen: waits (briefly) until `done(events)`.
export async function auditUntil(file, done) {
  let events = [];
  await eventually(() => done((events = readAudit(file))));
  return events;
}
