// Shared by every end-to-end test (testworld.mjs adds the network tests'
// world): launch modes, temporary directories and the test user, the real
// SDK client, the suite and per-mode test wrappers (jailSuite, modeTest),
// and the two launch forms users paste into host configs:
//
//   mcp-jail run PROFILE -- node /path/to/node_modules/@scope/server/dist/index.js ...
//   mcp-jail run PROFILE -- npx -y @scope/server@VERSION ...
//
// The npx form runs offline inside the jail from the profile's private npm
// cache, ${PROFILE_STATE}/npm. fillNpxCache() fills it beforehand, outside
// the jail, with the command the man page documents, offline from the seed
// cache scripts/install-deps downloads; it is idempotent and fast when the
// cache is already filled (one offline npm run). Tests never download.
//
// Modes:
//   * running as root: "root" (the jail drops to uid/gid 65534) and
//     "rootless" (started as the user `mcpjail-test`, created on demand,
//     through setpriv);
//   * running as any other user: "rootless" as that user.
// The state home (XDG_STATE_HOME) is /var/tmp/mcpjail-e2e-state-<uid of the
// launching user>: it persists, so the npm caches are downloaded once per
// machine. It is not below /tmp, which is a private tmpfs inside the jail.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const JAIL = process.env.MCPJAIL_BIN;
export const TEST_USER = 'mcpjail-test';
export const NOBODY = 65534;
export const CONNECT_TIMEOUT = 60_000; // npx starts npm before the server
const STATE_ROOT = '/var/tmp/mcpjail-e2e-state';

const PINS = JSON.parse(fs.readFileSync(path.join(E2E_DIR, 'package.json'), 'utf8')).dependencies;

// "@scope/server@VERSION", pinned in package.json.
export function spec(pkg) {
  if (!PINS[pkg]) throw new Error(`${pkg} is not pinned in tests/e2e/package.json`);
  return `${pkg}@${PINS[pkg]}`;
}

export const hex = (n = 8) => randomBytes(n).toString('hex');

export function rmQuiet(p) {
  if (p) fs.rmSync(p, { recursive: true, force: true });
}

export function mkTempDir(prefix, base = os.tmpdir()) {
  const dir = fs.mkdtempSync(path.join(base, prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

export function userEntry(name) {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
    const [, , uid, gid, , home] = line.split(':');
    return { name, uid: Number(uid), gid: Number(gid), home };
  } catch {
    return null;
  }
}

// The unprivileged test user (tests/support/test_user.cc creates the same
// one), created with a home when missing.
export function ensureTestUser() {
  let u = userEntry(TEST_USER);
  if (!u) {
    try {
      execFileSync('useradd', ['--create-home', '--shell', '/usr/sbin/nologin', TEST_USER], { stdio: 'pipe' });
    } catch (err) {
      if (!userEntry(TEST_USER)) throw err; // a concurrent run may have created it
    }
    u = userEntry(TEST_USER);
  }
  if (!fs.existsSync(u.home)) {
    fs.mkdirSync(u.home, { recursive: true, mode: 0o700 });
    fs.chownSync(u.home, u.uid, u.gid);
  }
  return u;
}

// Does `argv` exit 0? (preflight probes only)
export function succeeds(argv) {
  try {
    execFileSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export function modeDefinitions() {
  if (process.getuid() === 0) {
    const all = [
      { name: 'root (jail runs as 65534)', kind: 'root' },
      { name: `rootless (started as ${TEST_USER})`, kind: 'rootless-user' },
    ];
    // MCPJAIL_E2E_MODE=root or rootless-user: that mode only (CTest runs the
    // longest files once per mode, side by side; tests/CMakeLists.txt).
    const only = process.env.MCPJAIL_E2E_MODE;
    if (!only) return all;
    const picked = all.filter((m) => m.kind === only);
    if (!picked.length) throw new Error(`MCPJAIL_E2E_MODE=${only}: not one of ${all.map((m) => m.kind).join(', ')}`);
    return picked;
  }
  return [{ name: `rootless (started as uid ${process.getuid()})`, kind: 'rootless-self' }];
}

// Everything a mode needs, or ctx.skip with the reason. ctx.cleanup()
// removes ctx.files and ctx.tempDirs (the state home stays).
export function prepareMode(kind) {
  const ctx = { kind, tempDirs: [], files: [] };
  ctx.cleanup = () => {
    for (const f of ctx.files) fs.rmSync(f, { force: true });
    for (const d of ctx.tempDirs) rmQuiet(d);
    ctx.files = [];
    ctx.tempDirs = [];
  };
  process.once('exit', () => ctx.cleanup());
  const me = os.userInfo();
  ctx.jailBin = JAIL;
  ctx.serverRoot = E2E_DIR;
  if (kind === 'root') {
    ctx.host = { name: me.username, uid: 0, gid: 0, home: me.homedir };
    ctx.jailUid = NOBODY;
    ctx.jailGid = NOBODY;
    ctx.prefix = [];
  } else if (kind === 'rootless-user') {
    const u = ensureTestUser();
    ctx.host = u;
    ctx.jailUid = u.uid;
    ctx.jailGid = u.gid;
    ctx.prefix = ['setpriv', `--reuid=${u.uid}`, `--regid=${u.gid}`, '--init-groups', '--'];
    if (!succeeds([...ctx.prefix, 'unshare', '--user', '--map-root-user', 'true'])) {
      ctx.skip = 'unprivileged user namespaces are not available on this host';
      return ctx;
    }
    if (!succeeds([...ctx.prefix, 'test', '-x', process.execPath])) {
      ctx.skip = `${process.execPath} is not executable by ${u.name}`;
      return ctx;
    }
    // The checkout may sit below a directory the test user cannot traverse
    // (/root is 0700): then run servers and the launcher from world-readable
    // copies.
    const probe = path.join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json');
    if (!succeeds([...ctx.prefix, 'test', '-r', probe])) {
      const copy = mkTempDir('mcpjail-e2e-srv-');
      ctx.tempDirs.push(copy);
      fs.cpSync(path.join(E2E_DIR, 'package.json'), path.join(copy, 'package.json'));
      execFileSync('cp', ['-R', path.join(E2E_DIR, 'node_modules'), path.join(copy, 'node_modules')]);
      execFileSync('chmod', ['-R', 'a+rX', copy]);
      ctx.serverRoot = copy;
    }
    if (!succeeds([...ctx.prefix, 'test', '-x', JAIL])) {
      const binDir = mkTempDir('mcpjail-e2e-bin-');
      ctx.tempDirs.push(binDir);
      ctx.jailBin = path.join(binDir, path.basename(JAIL));
      fs.copyFileSync(JAIL, ctx.jailBin);
      fs.chmodSync(ctx.jailBin, 0o755);
    }
  } else {
    ctx.host = { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir };
    ctx.jailUid = me.uid;
    ctx.jailGid = me.gid;
    ctx.prefix = [];
  }
  // The state home: the launching user's, persistent.
  ctx.stateHome = `${STATE_ROOT}-${ctx.host.uid}`;
  try {
    fs.mkdirSync(ctx.stateHome, { mode: 0o700 });
    if (process.getuid() === 0) fs.chownSync(ctx.stateHome, ctx.host.uid, ctx.host.gid);
  } catch (err) {
    if (err.code !== 'EEXIST') throw err; // there already, or made by a test running beside this one
  }
  const st = fs.lstatSync(ctx.stateHome);
  if (!st.isDirectory() || st.uid !== ctx.host.uid) throw new Error(`${ctx.stateHome} is not a directory of uid ${ctx.host.uid}`);
  ctx.env = { HOME: ctx.host.home, USER: ctx.host.name, LOGNAME: ctx.host.name, XDG_STATE_HOME: ctx.stateHome };
  return ctx;
}

// ${PROFILE_STATE} of a profile in this mode.
export function stateDir(ctx, profile) {
  return path.join(ctx.stateHome, 'mcp-jail', profile);
}

// Runs a program as the mode's launching user, outside the jail.
function asLauncher(ctx, argv, env) {
  const full = [...ctx.prefix, ...argv];
  return execFileSync(full[0], full.slice(1), {
    cwd: ctx.stateHome,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: ctx.host.home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
}

// scripts/install-deps downloads each pinned server's package tree once into
// this seed cache; it is the only step that talks to the npm registry.
export const SEED_CACHE = '/var/cache/mcp-jail-e2e/npm';

// How long a hook that fills a profile's npm cache may take (the first fill
// copies the package tree in from the seed cache).
export const FILL_TIMEOUT = 600_000;

// Fills ${PROFILE_STATE}/npm of `profile` with `pkgSpec` as the man page says -
// outside the jail, without install scripts, without running the server - but
// offline: from the seed cache, copied in when an offline run does not already
// find everything. Tests never download, in a jail or out of it. In root mode
// the profile's state then goes to the jail's user, as documented.
export function fillNpxCache(ctx, profile, pkgSpec) {
  const cache = path.join(stateDir(ctx, profile), 'npm');
  const fill = () =>
    asLauncher(ctx, ['npm', 'exec', '--yes', '--ignore-scripts', '--no-update-notifier', '--offline',
      `--package=${pkgSpec}`, '--', 'true'], { npm_config_cache: cache });
  let filled = false;
  try {
    fill();
  } catch {
    if (!fs.existsSync(SEED_CACHE)) throw new Error(`${SEED_CACHE} is missing: run scripts/install-deps`);
    asLauncher(ctx, ['mkdir', '-p', cache]);
    asLauncher(ctx, ['cp', '-R', `${SEED_CACHE}/.`, cache]);
    try {
      fill();
      filled = true;
    } catch (err) {
      throw new Error(`filling ${cache} with ${pkgSpec} offline from ${SEED_CACHE} failed ` +
        `(run scripts/install-deps):\n${err.stderr ?? err}`);
    }
  }
  if (ctx.kind === 'root') execFileSync('chown', ['-R', `${ctx.jailUid}:${ctx.jailGid}`, stateDir(ctx, profile)]);
  return { cache, filled };
}

// A file of tests/e2e (e.g. a server of this directory) beside the modules
// the mode reads: copied into ctx.serverRoot when that is a copy.
export function serverFile(ctx, name) {
  const file = path.join(ctx.serverRoot, name);
  if (ctx.serverRoot !== E2E_DIR) {
    fs.copyFileSync(path.join(E2E_DIR, name), file);
    fs.chmodSync(file, 0o644);
  }
  return file;
}

// The script a package's bin runs: what users put after `node`.
export function serverEntry(ctx, pkg) {
  const dir = path.join(ctx.serverRoot, 'node_modules', pkg);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const bin = typeof manifest.bin === 'string' ? manifest.bin : Object.values(manifest.bin)[0];
  return path.join(dir, bin);
}

// The two launch forms of a server (see jailed()).
export const FORMS = ['node', 'npx'];

// argv for `pkg` started through the jail in one of the two forms.
export function jailed(ctx, { profile, form, pkg, args = [], vars = {} }) {
  const server = form === 'npx' ? ['npx', '-y', spec(pkg), ...args] : [process.execPath, serverEntry(ctx, pkg), ...args];
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`]);
  const argv = [...ctx.prefix, ctx.jailBin, 'run', profile, ...varArgs, '--', ...server];
  return { command: argv[0], args: argv.slice(1), env: ctx.env };
}

// The same server started WITHOUT the jail, as the same host user.
export function bare(ctx, { pkg, args = [], env = {} }) {
  const argv = [...ctx.prefix, process.execPath, serverEntry(ctx, pkg), ...args];
  return { command: argv[0], args: argv.slice(1), env: { ...ctx.env, ...env } };
}

// Starts an MCP server and connects the real SDK client.
export async function startServer({ command, args, env }) {
  const transport = new StdioClientTransport({ command, args, env, stderr: 'pipe' });
  const stderrChunks = [];
  transport.stderr.on('data', (c) => stderrChunks.push(c));
  const protocolErrors = [];
  const client = new Client({ name: 'mcp-jail-e2e', version: '0.0.0' }, { capabilities: {} });
  client.onerror = (e) => protocolErrors.push(e);
  const session = {
    client,
    protocolErrors,
    stderr: () => Buffer.concat(stderrChunks).toString('utf8'),
    close: async () => {
      await client.close().catch(() => {});
      await transport.close().catch(() => {});
    },
  };
  try {
    await client.connect(transport, { timeout: CONNECT_TIMEOUT });
  } catch (err) {
    await session.close();
    err.message += `\n--- server stderr ---\n${session.stderr()}`;
    throw err;
  }
  return session;
}

// Runs `fn(session)` with the server of `spec` started, and closes it afterwards.
export async function withServer(spec, fn) {
  const srv = await startServer(spec);
  try {
    return await fn(srv);
  } finally {
    await srv.close();
  }
}

// Calls a tool; both error styles (isError results, JSON-RPC errors) become { ok: false }.
export async function callTool(client, name, args) {
  try {
    const res = await client.callTool({ name, arguments: args }, undefined, { timeout: 30_000 });
    const text = (res.content ?? []).map((c) => (c.type === 'text' ? c.text : JSON.stringify(c))).join('\n');
    const structured = res.structuredContent ? JSON.stringify(res.structuredContent) : '';
    return { ok: !res.isError, text, all: `${text}\n${structured}`, res };
  } catch (err) {
    const text = String(err?.message ?? err);
    return { ok: false, text, all: text };
  }
}

// Stores entity `name` (one observation) in a memory server's graph; fails the test when refused.
export async function storeEntity(srv, name, observation) {
  const r = await callTool(srv.client, 'create_entities', { entities: [{ name, entityType: 'test', observations: [observation] }] });
  assert.ok(r.ok, `create_entities: ${r.text}\n${srv.stderr()}`);
}

// Writes a profile of `lines` (world-readable) to `file`; returns `file`.
export function writeProfile(file, lines) {
  fs.writeFileSync(file, [...lines, ''].join('\n'), { mode: 0o644 });
  return file;
}

// A workspace `ws` in a new temporary directory of the mode (0755), holding
// hello.txt with `helloText`; returns its path.
export function helloWorkspace(ctx, prefix, helloText) {
  const base = mkTempDir(prefix);
  ctx.tempDirs.push(base);
  const ws = path.join(base, 'ws');
  fs.mkdirSync(ws, { mode: 0o755 });
  fs.writeFileSync(path.join(ws, 'hello.txt'), helloText, { mode: 0o644 });
  return ws;
}

// A suite's first check: the package's server is installed in tests/e2e.
export function assertInstalled(pkg) {
  before(() => {
    assert.ok(fs.existsSync(path.join(E2E_DIR, 'node_modules', pkg)), `server not installed: run "npm ci" in ${E2E_DIR}`);
  });
}

// Runs to completion with stdin at EOF.
export function runCollect(command, args, { env, timeout = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

// Polls `check` (up to 5 s): reports of the test world's servers and audit
// events arrive a moment after what caused them.
export async function eventually(check) {
  for (let i = 0; i < 50 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
  return check();
}

// A suite of the end-to-end tests: skipped, and reported so, when
// MCPJAIL_BIN is not set or `skip` gives a reason.
export function jailSuite(name, fn, { skip = null } = {}) {
  const reason = JAIL ? skip : 'MCPJAIL_BIN is not set (absolute path of the mcp-jail binary)';
  if (reason) {
    it(name, { skip: reason }, () => {});
    return;
  }
  describe(name, () => {
    before(() => {
      if (!path.isAbsolute(JAIL)) throw new Error(`MCPJAIL_BIN must be an absolute path, got ${JAIL}`);
      fs.accessSync(JAIL, fs.constants.X_OK);
    });
    fn();
  });
}

// it() for the tests of one mode: skipped with the mode's reason (ctx().skip),
// and on failure the message carries the jailed server's stderr (srv()).
export function modeTest({ ctx, srv = () => null, timeout }) {
  return (name, fn) =>
    it(name, { timeout }, async (t) => {
      const c = ctx();
      if (c?.skip) return t.skip(c.skip);
      try {
        await fn(t);
      } catch (err) {
        const log = srv()?.stderr().trimEnd();
        if (log && err instanceof Error) err.message += `\n--- jailed server stderr ---\n${log}`;
        throw err;
      }
    });
}

// The hooks of one mode's describe() around a server: before its tests, the
// mode prepared by `prepare(kind)` and (unless it skips) the server of
// `spec(ctx)` started; after them, the server closed and the mode cleaned up.
// Returns { ctx, srv } (as they stand when read) and the mode's test().
export function modeWithServer(kind, { prepare, spec, hookTimeout, testTimeout }) {
  const m = { ctx: null, srv: null };
  before(async () => {
    m.ctx = prepare(kind);
    if (m.ctx.skip) return;
    m.srv = await startServer(spec(m.ctx));
  }, { timeout: hookTimeout });
  after(async () => {
    try {
      await m.srv?.close();
    } finally {
      m.ctx?.cleanup();
    }
  }, { timeout: hookTimeout });
  m.test = modeTest({ ctx: () => m.ctx, srv: () => m.srv, timeout: testTimeout });
  return m;
}
