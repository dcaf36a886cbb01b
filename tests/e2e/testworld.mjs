// What the network e2e tests share: their world, two network namespaces built
// by tests/network/world.sh (NAME-h plays the host, NAME-w the internet) with
// networld.mjs listeners in them (names carry the pid, so tests that run at
// the same time each get their own; needs root), and launching a jailed
// server as root or as the rootless test user.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
const WORLD_SH = path.resolve(E2E_DIR, '..', 'network', 'world.sh');

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

// ---------------------------------------------------------------- launching

export const TEST_USER = 'mcpjail-test';

function userEntry(name) {
  try {
    const [, , uid, gid, , home] = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
    return { name, uid: Number(uid), gid: Number(gid), home };
  } catch {
    return null;
  }
}

// The unprivileged user the rootless mode starts the jail as (created if missing).
export function ensureTestUser() {
  if (!userEntry(TEST_USER)) {
    try {
      execFileSync('useradd', ['--create-home', '--shell', '/usr/sbin/nologin', TEST_USER], { stdio: 'pipe' });
    } catch (err) {
      if (!userEntry(TEST_USER)) throw err;
    }
  }
  return userEntry(TEST_USER);
}

export function mkTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

// An MCP client over stdio; stderr of the command is kept for failure messages.
export async function connect({ command, args, env, name = 'mcp-jail-e2e' }) {
  const transport = new StdioClientTransport({ command, args, env, stderr: 'pipe' });
  const err = [];
  transport.stderr.on('data', (c) => err.push(c));
  const client = new Client({ name, version: '0.0.0' }, { capabilities: {} });
  await client.connect(transport, { timeout: 20_000 });
  return {
    client,
    stderr: () => Buffer.concat(err).toString('utf8'),
    close: async () => {
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
    },
  };
}

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
  for (let i = 0; i < 50; i++) {
    events = readAudit(file);
    if (done(events)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return events;
}
