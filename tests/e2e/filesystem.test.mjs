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

import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertInstalled, bare as bareServer, callTool, helloWorkspace, hex, jailSuite, jailed as jailedServer, mkTempDir,
  modeDefinitions, modeWithServer, prepareMode, runCollect, startServer,
} from './jailed.mjs';

const PKG = '@modelcontextprotocol/server-filesystem';
const TEST_TIMEOUT = 30_000;
const HOOK_TIMEOUT = 120_000; // copying and removing node_modules can be slow

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

function chownTree(p, uid, gid) {
  // -h: never follow symlinks (the workspace holds links to the secrets).
  execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, p]);
}

// A mode (jailed.mjs), plus the workspace and the secrets of this test (or
// ctx.skip with the reason).
function prepareFilesystemMode(kind) {
  const ctx = prepareMode(kind);
  if (ctx.skip) return ctx;

  // Workspace with one file in it, owned by the uid the server runs as.
  ctx.helloName = 'hello.txt';
  ctx.helloText = `hello from the host ${hex()}\nsecond line\n`;
  ctx.ws = helloWorkspace(ctx, 'mcpjail-e2e-ws-', ctx.helloText);
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

// The server through `mcp-jail run filesystem`, the workspace as WORKSPACE.
const jailed = (ctx, serverArgs) =>
  jailedServer(ctx, { profile: 'filesystem', form: 'node', pkg: PKG, args: serverArgs, vars: { WORKSPACE: ctx.ws } });

// The same server WITHOUT the jail, as the same host user.
const bare = (ctx, serverArgs) => bareServer(ctx, { pkg: PKG, args: serverArgs });

function assertNoSecret(text, ctx, where) {
  for (const s of ctx.secrets) {
    assert.ok(!text.includes(s.text), `${s.label} leaked through ${where}:\n${text}`);
  }
}

// ---------------------------------------------------------------- tests

function suite() {
  assertInstalled(PKG);

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      // The jailed server, its allowed directory the workspace only. Every
      // test: a timeout, the mode's skip reason, and the jailed server's
      // stderr (launcher messages + audit events) on failure.
      const m = modeWithServer(mode.kind, {
        prepare: prepareFilesystemMode,
        spec: (ctx) => jailed(ctx, [ctx.ws]),
        hookTimeout: HOOK_TIMEOUT,
        testTimeout: TEST_TIMEOUT,
      });
      const test = m.test;

      test('lists the expected tools', async () => {
        const { tools } = await m.srv.client.listTools();
        const names = tools.map((x) => x.name);
        for (const want of EXPECTED_TOOLS) {
          assert.ok(names.includes(want), `tool ${want} missing; server has: ${names.join(', ')}`);
        }
      });

      test('reads a workspace file through read_text_file and read_file', async () => {
        const p = path.join(m.ctx.ws, m.ctx.helloName);
        for (const tool of ['read_text_file', 'read_file']) {
          const r = await callTool(m.srv.client, tool, { path: p });
          assert.ok(r.ok, `${tool} failed: ${r.text}`);
          assert.equal(r.text, m.ctx.helloText);
        }
      });

      test('writes a new workspace file that shows up on the host', async () => {
        const name = `written-${hex(4)}.txt`;
        const p = path.join(m.ctx.ws, name);
        const content = `written inside the jail ${hex()}\n`;
        const r = await callTool(m.srv.client, 'write_file', { path: p, content });
        assert.ok(r.ok, `write_file failed: ${r.text}`);
        assert.equal(fs.readFileSync(p, 'utf8'), content);
        const st = fs.statSync(p);
        assert.equal(st.uid, m.ctx.jailUid, 'file written by the jailed server has an unexpected owner uid');
        assert.equal(st.gid, m.ctx.jailGid, 'file written by the jailed server has an unexpected owner gid');
        // Overwriting goes through a temp file + rename inside the workspace.
        const content2 = `overwritten inside the jail ${hex()}\n`;
        const r2 = await callTool(m.srv.client, 'write_file', { path: p, content: content2 });
        assert.ok(r2.ok, `overwriting with write_file failed: ${r2.text}`);
        assert.equal(fs.readFileSync(p, 'utf8'), content2);
        // And it reads back through the server.
        const back = await callTool(m.srv.client, 'read_text_file', { path: p });
        assert.ok(back.ok, back.text);
        assert.equal(back.text, content2);
        m.ctx.writtenName = name;
      });

      test('lists the workspace directory', async () => {
        const r = await callTool(m.srv.client, 'list_directory', { path: m.ctx.ws });
        assert.ok(r.ok, `list_directory failed: ${r.text}`);
        const lines = r.text.split('\n');
        assert.ok(lines.includes(`[FILE] ${m.ctx.helloName}`), r.text);
        if (m.ctx.writtenName) assert.ok(lines.includes(`[FILE] ${m.ctx.writtenName}`), r.text);
      });

      test('secrets are not reachable by path from the workspace-only server', async () => {
        for (const s of m.ctx.secrets) {
          for (const [tool, args] of [
            ['read_text_file', { path: s.file }],
            ['read_multiple_files', { paths: [s.file] }],
            ['get_file_info', { path: s.file }],
          ]) {
            const r = await callTool(m.srv.client, tool, args);
            assertNoSecret(r.all, m.ctx, `${tool}(${s.file})`);
            if (tool !== 'read_multiple_files') assert.ok(!r.ok, `${tool} on ${s.label} unexpectedly succeeded: ${r.text}`);
          }
        }
      });

      // The server's own realpath() check refuses these links as well, so (a)
      // is defence in depth; (b) below is what tells a working jail from a
      // broken one.
      test('(a) symlinks in the workspace do not lead to the secrets', async () => {
        for (const s of m.ctx.secrets) {
          const link = path.join(m.ctx.ws, `link-${hex(4)}`);
          fs.symlinkSync(s.file, link);
          try {
            for (const tool of ['read_text_file', 'read_file']) {
              const r = await callTool(m.srv.client, tool, { path: link });
              assert.ok(!r.ok, `${tool} through a symlink to the ${s.label} succeeded: ${r.text}`);
              assertNoSecret(r.all, m.ctx, `${tool}(symlink -> ${s.label})`);
            }
          } finally {
            fs.rmSync(link, { force: true });
          }
        }
      });

      test('(b) control: the same server WITHOUT the jail does serve the secrets', async () => {
        const plain = await startServer(bare(m.ctx, [m.ctx.ws, ...m.ctx.secretDirs]));
        try {
          for (const s of m.ctx.secrets) {
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
          other = await startServer(jailed(m.ctx, [m.ctx.ws, ...m.ctx.secretDirs]));
        } catch (err) {
          // Refusing to start is an acceptable outcome; leaking is not
          // (the message carries the server's stderr).
          assertNoSecret(err.message, m.ctx, 'a failed start');
          return;
        }
        try {
          const seen = [];
          for (const s of m.ctx.secrets) {
            for (const [tool, args] of [
              ['read_text_file', { path: s.file }],
              ['read_file', { path: s.file }],
              ['read_multiple_files', { paths: [s.file] }],
              ['get_file_info', { path: s.file }],
            ]) {
              const r = await callTool(other.client, tool, args);
              seen.push(r.all);
              assertNoSecret(r.all, m.ctx, `${tool}(${s.file})`);
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
          const ok = await callTool(other.client, 'read_text_file', { path: path.join(m.ctx.ws, m.ctx.helloName) });
          assert.ok(ok.ok, ok.text);
          assert.equal(ok.text, m.ctx.helloText);
          assertNoSecret(other.stderr(), m.ctx, 'stderr');
          assert.deepEqual(other.protocolErrors.map(String), []);
        } finally {
          await other.close();
        }
      });

      test('(b) a host directory outside the profile does not exist inside the jail', async () => {
        const outsideDir = path.dirname(m.ctx.outsideSecret);
        // Control: bare, the server accepts the directory and idles until stdin EOF.
        const b = bare(m.ctx, [outsideDir]);
        const c = await runCollect(b.command, b.args, { env: { ...process.env, ...m.ctx.env } });
        assert.ok(
          !c.stderr.includes('None of the specified directories are accessible'),
          `control failed, bare server could not see ${outsideDir}:\n${c.stderr}`,
        );
        // Jailed: the only allowed directory is missing, so the server itself
        // exits 1; the launcher passes that status through and prints nothing
        // on stdout.
        const j = jailed(m.ctx, [outsideDir]);
        const r = await runCollect(j.command, j.args, { env: { ...process.env, ...m.ctx.env } });
        assert.equal(r.stdout, '', 'launcher/server wrote to stdout');
        assert.match(r.stderr, /None of the specified directories are accessible/);
        assert.equal(r.code, 1, `expected the server's own exit status 1, got ${r.code} (signal ${r.signal})\n${r.stderr}`);
        assertNoSecret(r.stderr, m.ctx, 'stderr');
      });

      test('stdout carried only clean JSON-RPC and nothing secret reached stderr', async () => {
        assert.deepEqual(m.srv.protocolErrors.map(String), [], 'the client saw unparsable output on stdout');
        await m.srv.client.ping({ timeout: 10_000 });
        assertNoSecret(m.srv.stderr(), m.ctx, 'stderr');
      });
    });
  }
}

jailSuite('mcp-jail: filesystem profile end to end', suite);
