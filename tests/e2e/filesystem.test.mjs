// End-to-end test: @modelcontextprotocol/server-filesystem running inside
// `mcp-jail run filesystem`, driven by the real MCP SDK client over stdio.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/
//
// Modes:
//   * running as root: a "root" mode (the jail drops to uid/gid 65534) and a
//     "rootless" mode (the jail is started as the unprivileged user
//     `mcpjail-test`, created on demand, through setpriv);
//   * running as any other user: only "rootless" as that same user.
//
// Secrets planted on the host for every mode:
//   * home secret:    <home of the user the jail is started as>/.mcpjail-e2e-secret-<hex> (0600)
//   * outside secret: <tmpdir>/mcpjail-e2e-outside-XXXX/secret.txt (0644, dirs 0755), i.e.
//                     readable by every uid, so only the jail's mount isolation can hide it
//                     (in root mode /root is 0700, which alone keeps uid 65534 out of the
//                     home secret; the outside secret is the one that proves isolation there).
// Each negative check is paired with a control that runs the very same server
// without the jail and proves that it *would* hand the secret out.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
const SERVER_REL = path.join('node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
const JAIL = process.env.MCPJAIL_BIN;
const TEST_USER = 'mcpjail-test';
const NOBODY = 65534;
const TEST_TIMEOUT = 30_000;
const HOOK_TIMEOUT = 120_000; // copying and removing node_modules can be slow
const CONNECT_TIMEOUT = 20_000;

// Tools the pinned server version (see package.json) must expose.
const EXPECTED_TOOLS = [
  'read_text_file',
  'read_file',
  'read_multiple_files',
  'write_file',
  'list_directory',
  'get_file_info',
  'list_allowed_directories',
];

// ---------------------------------------------------------------- helpers

const hex = (n = 8) => randomBytes(n).toString('hex');

function mkTempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  return dir;
}

function rmQuiet(p) {
  if (p) fs.rmSync(p, { recursive: true, force: true });
}

function chownTree(p, uid, gid) {
  // -h: never follow symlinks (the workspace holds links to the secrets).
  execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, p]);
}

function userEntry(name) {
  try {
    const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim();
    const [, , uid, gid, , home] = line.split(':');
    return { name, uid: Number(uid), gid: Number(gid), home };
  } catch {
    return null;
  }
}

function ensureTestUser() {
  let u = userEntry(TEST_USER);
  if (!u) {
    try {
      execFileSync('useradd', ['--create-home', '--shell', '/usr/sbin/nologin', TEST_USER], { stdio: 'pipe' });
    } catch (err) {
      // A concurrent run may have created it in between.
      if (!userEntry(TEST_USER)) throw err;
    }
    u = userEntry(TEST_USER);
  }
  if (!fs.existsSync(u.home)) {
    fs.mkdirSync(u.home, { recursive: true, mode: 0o700 });
    fs.chownSync(u.home, u.uid, u.gid);
  }
  return u;
}

// argv prefix that runs a program as `user` (no shell involved).
function asUserPrefix(user) {
  return ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--'];
}

// Does `argv` exit 0? (used for preflight probes only)
function succeeds(argv) {
  try {
    execFileSync(argv[0], argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

// Plain spawn with stdin at EOF; collects everything.
function runCollect(command, args, { env, timeout = 20_000 } = {}) {
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
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

// Starts an MCP server (jailed or bare) and connects the real SDK client.
async function startServer({ command, args, env }) {
  const transport = new StdioClientTransport({ command, args, env, stderr: 'pipe' });
  const stderrChunks = [];
  transport.stderr.on('data', (c) => stderrChunks.push(c));
  const protocolErrors = [];
  const client = new Client({ name: 'mcp-jail-e2e', version: '0.0.0' }, { capabilities: {} });
  client.onerror = (e) => protocolErrors.push(e);
  const session = {
    client,
    transport,
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
    err.serverStderr = session.stderr();
    throw err;
  }
  return session;
}

// Calls a tool and normalises both error styles (isError results and thrown
// JSON-RPC errors) into { ok, text }.
async function callTool(client, name, args) {
  try {
    const res = await client.callTool({ name, arguments: args }, undefined, { timeout: 15_000 });
    const text = (res.content ?? [])
      .map((c) => (c.type === 'text' ? c.text : JSON.stringify(c)))
      .join('\n');
    const structured = res.structuredContent ? JSON.stringify(res.structuredContent) : '';
    return { ok: !res.isError, text, all: `${text}\n${structured}` };
  } catch (err) {
    const text = String(err?.message ?? err);
    return { ok: false, text, all: text };
  }
}

// ---------------------------------------------------------------- modes

function modeDefinitions() {
  const modes = [];
  if (process.getuid() === 0) {
    modes.push({ name: 'root (jail runs as 65534)', kind: 'root' });
    modes.push({ name: `rootless (started as ${TEST_USER})`, kind: 'rootless-user' });
  } else {
    modes.push({ name: `rootless (started as uid ${process.getuid()})`, kind: 'rootless-self' });
  }
  return modes;
}

// A mode's context; cleanup() removes whatever prepareMode() created so far.
function newContext(kind) {
  const ctx = { kind, tempDirs: [], files: [] };
  ctx.cleanup = () => {
    for (const f of ctx.files) fs.rmSync(f, { force: true });
    for (const d of ctx.tempDirs) rmQuiet(d);
    ctx.files = [];
    ctx.tempDirs = [];
  };
  // Last resort if the runner dies before the after() hook.
  process.once('exit', () => ctx.cleanup());
  return ctx;
}

// Fills in everything a mode needs (or ctx.skip with the reason).
function prepareMode(ctx) {
  const { kind } = ctx;
  const me = os.userInfo();

  if (kind === 'root') {
    ctx.host = { name: me.username, uid: 0, gid: 0, home: me.homedir };
    ctx.jailUid = NOBODY;
    ctx.jailGid = NOBODY;
    ctx.prefix = [];
    ctx.env = {};
    ctx.serverRoot = E2E_DIR;
    ctx.jailBin = JAIL;
  } else if (kind === 'rootless-user') {
    const u = ensureTestUser();
    ctx.host = u;
    ctx.jailUid = u.uid;
    ctx.jailGid = u.gid;
    ctx.prefix = asUserPrefix(u);
    ctx.env = { HOME: u.home, USER: u.name, LOGNAME: u.name };
    if (!succeeds([...ctx.prefix, 'unshare', '--user', '--map-root-user', 'true'])) {
      ctx.skip = 'unprivileged user namespaces are not available on this host';
      return ctx;
    }
    if (!succeeds([...ctx.prefix, 'test', '-x', process.execPath])) {
      ctx.skip = `${process.execPath} is not executable by ${u.name}`;
      return ctx;
    }
    // The checkout may sit below a directory the test user cannot traverse
    // (e.g. /root is 0700): run the server from a world-readable copy.
    const copy = mkTempDir('mcpjail-e2e-srv-');
    ctx.tempDirs.push(copy);
    fs.cpSync(path.join(E2E_DIR, 'package.json'), path.join(copy, 'package.json'));
    fs.cpSync(path.join(E2E_DIR, 'node_modules'), path.join(copy, 'node_modules'), { recursive: true });
    execFileSync('chmod', ['-R', 'a+rX', copy]);
    ctx.serverRoot = copy;
    ctx.jailBin = JAIL;
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
    ctx.env = {};
    ctx.serverRoot = E2E_DIR;
    ctx.jailBin = JAIL;
  }
  ctx.serverEntry = path.join(ctx.serverRoot, SERVER_REL);

  // Workspace with one file in it, owned by the uid the server runs as.
  const wsBase = mkTempDir('mcpjail-e2e-ws-');
  ctx.tempDirs.push(wsBase);
  ctx.ws = path.join(wsBase, 'ws');
  fs.mkdirSync(ctx.ws, { mode: 0o755 });
  ctx.helloName = 'hello.txt';
  ctx.helloText = `hello from the host ${hex()}\nsecond line\n`;
  fs.writeFileSync(path.join(ctx.ws, ctx.helloName), ctx.helloText, { mode: 0o644 });
  if (process.getuid() === 0) chownTree(ctx.ws, ctx.jailUid, ctx.jailGid);

  // Secret 1: in the home of the user the jail is started as.
  ctx.homeSecret = path.join(ctx.host.home, `.mcpjail-e2e-secret-${hex()}`);
  ctx.homeSecretText = `MCPJAIL-E2E-HOME-SECRET-${hex(16)}`;
  fs.writeFileSync(ctx.homeSecret, ctx.homeSecretText, { mode: 0o600, flag: 'wx' });
  ctx.files.push(ctx.homeSecret);
  if (process.getuid() === 0) fs.chownSync(ctx.homeSecret, ctx.host.uid, ctx.host.gid);

  // Secret 2: world-readable, outside HOME and outside the workspace.
  const outBase = mkTempDir('mcpjail-e2e-outside-');
  ctx.tempDirs.push(outBase);
  ctx.outsideSecret = path.join(outBase, 'secret.txt');
  ctx.outsideSecretText = `MCPJAIL-E2E-OUTSIDE-SECRET-${hex(16)}`;
  fs.writeFileSync(ctx.outsideSecret, ctx.outsideSecretText, { mode: 0o644 });

  ctx.secrets = [
    { label: 'home secret', file: ctx.homeSecret, text: ctx.homeSecretText },
    { label: 'outside secret', file: ctx.outsideSecret, text: ctx.outsideSecretText },
  ];
  ctx.secretDirs = ctx.secrets.map((s) => path.dirname(s.file));

  return ctx;
}

// argv for the server started through the jail.
function jailed(ctx, serverArgs) {
  const argv = [
    ...ctx.prefix,
    ctx.jailBin,
    'run',
    'filesystem',
    '--var',
    `WORKSPACE=${ctx.ws}`,
    '--',
    process.execPath,
    ctx.serverEntry,
    ...serverArgs,
  ];
  return { command: argv[0], args: argv.slice(1), env: ctx.env };
}

// argv for the same server started WITHOUT the jail, as the same host user.
function bare(ctx, serverArgs) {
  const argv = [...ctx.prefix, process.execPath, ctx.serverEntry, ...serverArgs];
  return { command: argv[0], args: argv.slice(1), env: ctx.env };
}

function assertNoSecret(text, ctx, where) {
  for (const s of ctx.secrets) {
    assert.ok(!text.includes(s.text), `${s.label} leaked through ${where}:\n${text}`);
  }
}

// ---------------------------------------------------------------- tests

function jailSuite() {
  before(() => {
    assert.ok(path.isAbsolute(JAIL), `MCPJAIL_BIN must be an absolute path, got ${JAIL}`);
    fs.accessSync(JAIL, fs.constants.X_OK);
    assert.ok(
      fs.existsSync(path.join(E2E_DIR, SERVER_REL)),
      `server not installed: run "npm ci" in ${E2E_DIR}`,
    );
  });

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;
      let srv; // jailed server, allowed dir = workspace only

      before(async () => {
        ctx = newContext(mode.kind);
        prepareMode(ctx);
        if (ctx.skip) return;
        srv = await startServer(jailed(ctx, [ctx.ws]));
      }, { timeout: HOOK_TIMEOUT });

      after(async () => {
        try {
          await srv?.close();
        } finally {
          ctx?.cleanup();
        }
      }, { timeout: HOOK_TIMEOUT });

      // Every test: a timeout, the mode's skip reason, and the jailed
      // server's stderr (launcher messages + audit events) on failure.
      const test = (name, fn) =>
        it(name, { timeout: TEST_TIMEOUT }, async (t) => {
          if (ctx?.skip) return t.skip(ctx.skip);
          try {
            await fn(t);
          } catch (err) {
            const log = srv?.stderr().trimEnd();
            if (log && err instanceof Error) err.message += `\n--- jailed server stderr ---\n${log}`;
            throw err;
          }
        });

      test('lists the expected tools', async () => {
        const { tools } = await srv.client.listTools();
        const names = tools.map((x) => x.name);
        for (const want of EXPECTED_TOOLS) {
          assert.ok(names.includes(want), `tool ${want} missing; server has: ${names.join(', ')}`);
        }
      });

      test('reads a workspace file through read_text_file and read_file', async () => {
        const p = path.join(ctx.ws, ctx.helloName);
        for (const tool of ['read_text_file', 'read_file']) {
          const r = await callTool(srv.client, tool, { path: p });
          assert.ok(r.ok, `${tool} failed: ${r.text}`);
          assert.equal(r.text, ctx.helloText);
        }
      });

      test('writes a new workspace file that shows up on the host', async () => {
        const name = `written-${hex(4)}.txt`;
        const p = path.join(ctx.ws, name);
        const content = `written inside the jail ${hex()}\n`;
        const r = await callTool(srv.client, 'write_file', { path: p, content });
        assert.ok(r.ok, `write_file failed: ${r.text}`);
        assert.equal(fs.readFileSync(p, 'utf8'), content);
        const st = fs.statSync(p);
        assert.equal(st.uid, ctx.jailUid, 'file written by the jailed server has an unexpected owner uid');
        assert.equal(st.gid, ctx.jailGid, 'file written by the jailed server has an unexpected owner gid');
        // Overwriting goes through a temp file + rename inside the workspace.
        const content2 = `overwritten inside the jail ${hex()}\n`;
        const r2 = await callTool(srv.client, 'write_file', { path: p, content: content2 });
        assert.ok(r2.ok, `overwriting with write_file failed: ${r2.text}`);
        assert.equal(fs.readFileSync(p, 'utf8'), content2);
        // And it reads back through the server.
        const back = await callTool(srv.client, 'read_text_file', { path: p });
        assert.ok(back.ok, back.text);
        assert.equal(back.text, content2);
        ctx.writtenName = name;
      });

      test('lists the workspace directory', async () => {
        const r = await callTool(srv.client, 'list_directory', { path: ctx.ws });
        assert.ok(r.ok, `list_directory failed: ${r.text}`);
        const lines = r.text.split('\n');
        assert.ok(lines.includes(`[FILE] ${ctx.helloName}`), r.text);
        if (ctx.writtenName) assert.ok(lines.includes(`[FILE] ${ctx.writtenName}`), r.text);
      });

      test('secrets are not reachable by path from the workspace-only server', async () => {
        for (const s of ctx.secrets) {
          for (const [tool, args] of [
            ['read_text_file', { path: s.file }],
            ['read_multiple_files', { paths: [s.file] }],
            ['get_file_info', { path: s.file }],
          ]) {
            const r = await callTool(srv.client, tool, args);
            assertNoSecret(r.all, ctx, `${tool}(${s.file})`);
            if (tool !== 'read_multiple_files') assert.ok(!r.ok, `${tool} on ${s.label} unexpectedly succeeded: ${r.text}`);
          }
        }
      });

      // The server's own realpath() check refuses these links as well, so (a)
      // is defence in depth; (b) below is what tells a working jail from a
      // broken one.
      test('(a) symlinks in the workspace do not lead to the secrets', async () => {
        for (const s of ctx.secrets) {
          const link = path.join(ctx.ws, `link-${hex(4)}`);
          fs.symlinkSync(s.file, link);
          try {
            for (const tool of ['read_text_file', 'read_file']) {
              const r = await callTool(srv.client, tool, { path: link });
              assert.ok(!r.ok, `${tool} through a symlink to the ${s.label} succeeded: ${r.text}`);
              assertNoSecret(r.all, ctx, `${tool}(symlink -> ${s.label})`);
            }
          } finally {
            fs.rmSync(link, { force: true });
          }
        }
      });

      test('(b) control: the same server WITHOUT the jail does serve the secrets', async () => {
        const plain = await startServer(bare(ctx, [ctx.ws, ...ctx.secretDirs]));
        try {
          for (const s of ctx.secrets) {
            const r = await callTool(plain.client, 'read_text_file', { path: s.file });
            assert.ok(r.ok, `control failed, the test could not detect a broken jail: ${r.text}`);
            assert.equal(r.text, s.text);
          }
        } finally {
          await plain.close();
        }
      });

      test('(b) jailed server told to allow the secret directories still cannot read them', async () => {
        let other;
        try {
          other = await startServer(jailed(ctx, [ctx.ws, ...ctx.secretDirs]));
        } catch (err) {
          // Refusing to start is an acceptable outcome; leaking is not.
          assertNoSecret(`${err.message}\n${err.serverStderr ?? ''}`, ctx, 'a failed start');
          return;
        }
        try {
          const seen = [];
          for (const s of ctx.secrets) {
            for (const [tool, args] of [
              ['read_text_file', { path: s.file }],
              ['read_file', { path: s.file }],
              ['read_multiple_files', { paths: [s.file] }],
              ['get_file_info', { path: s.file }],
            ]) {
              const r = await callTool(other.client, tool, args);
              seen.push(r.all);
              assertNoSecret(r.all, ctx, `${tool}(${s.file})`);
              if (tool !== 'read_multiple_files') assert.ok(!r.ok, `${tool} on ${s.label} succeeded inside the jail: ${r.text}`);
            }
            // The secret's directory may exist as an empty mount point, but
            // the secret must not be in it.
            const l = await callTool(other.client, 'list_directory', { path: path.dirname(s.file) });
            assert.ok(
              !(l.ok && l.text.split('\n').some((line) => line.endsWith(` ${path.basename(s.file)}`))),
              `${s.label} is visible inside the jail:\n${l.text}`,
            );
          }
          // The workspace itself still works in this server.
          const ok = await callTool(other.client, 'read_text_file', { path: path.join(ctx.ws, ctx.helloName) });
          assert.ok(ok.ok, ok.text);
          assert.equal(ok.text, ctx.helloText);
          assertNoSecret(other.stderr(), ctx, 'stderr');
          assert.deepEqual(other.protocolErrors.map(String), []);
        } finally {
          await other.close();
        }
      });

      test('(b) a host directory outside the profile does not exist inside the jail', async () => {
        const outsideDir = path.dirname(ctx.outsideSecret);
        // Control: bare, the server accepts the directory and idles until stdin EOF.
        const b = bare(ctx, [outsideDir]);
        const c = await runCollect(b.command, b.args, { env: { ...process.env, ...ctx.env } });
        assert.ok(
          !c.stderr.includes('None of the specified directories are accessible'),
          `control failed, bare server could not see ${outsideDir}:\n${c.stderr}`,
        );
        // Jailed: the only allowed directory is missing, so the server itself
        // exits 1; the launcher passes that status through and prints nothing
        // on stdout.
        const j = jailed(ctx, [outsideDir]);
        const r = await runCollect(j.command, j.args, { env: { ...process.env, ...ctx.env } });
        assert.equal(r.stdout, '', 'launcher/server wrote to stdout');
        assert.match(r.stderr, /None of the specified directories are accessible/);
        assert.equal(r.code, 1, `expected the server's own exit status 1, got ${r.code} (signal ${r.signal})\n${r.stderr}`);
        assertNoSecret(r.stderr, ctx, 'stderr');
      });

      test('stdout carried only clean JSON-RPC and nothing secret reached stderr', async () => {
        assert.deepEqual(srv.protocolErrors.map(String), [], 'the client saw unparsable output on stdout');
        await srv.client.ping({ timeout: 10_000 });
        assertNoSecret(srv.stderr(), ctx, 'stderr');
      });
    });
  }
}

const SUITE = 'mcp-jail: filesystem profile end to end';
if (JAIL) {
  describe(SUITE, jailSuite);
} else {
  // Shows up as "skipped 1" in the runner's summary rather than "tests 0".
  it(SUITE, { skip: 'MCPJAIL_BIN is not set (absolute path of the mcp-jail binary)' }, () => {});
}
