// End-to-end test: @modelcontextprotocol/server-filesystem under
// `mcp-jail run filesystem`, driven by the real MCP SDK client, in a
// workspace the jail's user does not own.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/filesystem-owner.test.mjs
//
// Root mode: the workspace is owned by root, mode 0755 (a CI checkout, a
// directory under /srv), while the server runs as 65534. The write path is
// idmapped, so write_file, edit_file and create_directory work, and what the
// server creates belongs on the host to the workspace's owner (root), not to
// nobody. A directory of another owner inside the workspace stays closed.
// Rootless mode: the workspace is the launching user's, and a root-owned one
// is not made writable (a rootless launch gains nothing over the user).
// Both: the server given / as its allowed directory writes a new file into
// the workspace and nowhere else; and the same server without the workspace
// as a write path (profile base, --read) reads it but cannot write it.
// (filesystem.test.mjs covers a workspace owned by the jail's user.)

import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  assertInstalled, callTool, helloWorkspace, hex, jailSuite, mkTempDir, modeDefinitions, modeWithServer, prepareMode, serverEntry, startServer,
} from './jailed.mjs';

const PKG = '@modelcontextprotocol/server-filesystem';
const TEST_TIMEOUT = 60_000;
const HOOK_TIMEOUT = 120_000;
const OTHER_UID = 1234; // owns a directory inside the workspace: no one in the jail

// The filesystem server started through `mcp-jail run PROFILE_ARGS... --`.
function launch(ctx, profileArgs, serverArgs) {
  const argv = [...ctx.prefix, ctx.jailBin, 'run', ...profileArgs, '--audit-log', 'stderr', '--',
    process.execPath, serverEntry(ctx, PKG), ...serverArgs];
  return { command: argv[0], args: argv.slice(1), env: ctx.env };
}
const underFilesystem = (ctx, serverArgs) => launch(ctx, ['filesystem', '--var', `WORKSPACE=${ctx.ws}`], serverArgs);

function owner(p) {
  const st = fs.lstatSync(p);
  return `${st.uid}:${st.gid}`;
}

// A mode (jailed.mjs) with the workspaces of this test, or ctx.skip.
function prepare(kind) {
  const ctx = prepareMode(kind);
  if (ctx.skip) return ctx;
  const asRoot = process.getuid() === 0;
  // The workspace: root's (0755) in root mode, the launching user's rootless.
  ctx.helloText = `hello from the host ${hex()}\n`;
  ctx.ws = helloWorkspace(ctx, 'mcpjail-e2e-owner-', ctx.helloText);
  fs.chmodSync(ctx.ws, 0o755);
  ctx.wsOwner = kind === 'root' ? '0:0' : `${ctx.host.uid}:${ctx.host.gid}`;
  if (asRoot) execFileSync('chown', ['-R', ctx.wsOwner, ctx.ws]);
  // Inside it, a directory of another owner (only root can make one).
  if (asRoot) {
    ctx.others = path.join(ctx.ws, 'others');
    fs.mkdirSync(ctx.others, { mode: 0o755 });
    fs.writeFileSync(path.join(ctx.others, 'theirs.txt'), 'theirs\n', { mode: 0o644 });
    execFileSync('chown', ['-R', `${OTHER_UID}:${OTHER_UID}`, ctx.others]);
  }
  // Outside it: a directory the jail's user may write on the host, so that
  // only the jail keeps the server out.
  const out = mkTempDir('mcpjail-e2e-owner-out-');
  ctx.tempDirs.push(out);
  ctx.outside = path.join(out, 'open');
  fs.mkdirSync(ctx.outside, { mode: 0o777 });
  fs.chmodSync(ctx.outside, 0o777);
  if (asRoot) execFileSync('chown', [`${ctx.jailUid}:${ctx.jailGid}`, ctx.outside]);
  // Rootless, as root: a root-owned workspace (the negative of the mapping).
  if (kind !== 'root' && asRoot) {
    const r = mkTempDir('mcpjail-e2e-owner-root-');
    ctx.tempDirs.push(r);
    ctx.rootWs = r;
    fs.writeFileSync(path.join(r, 'hello.txt'), 'root\n', { mode: 0o644 });
  }
  return ctx;
}

function suite() {
  assertInstalled(PKG);

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      // the server's allowed directory: the workspace
      const m = modeWithServer(mode.kind, {
        prepare,
        spec: (ctx) => underFilesystem(ctx, [ctx.ws]),
        hookTimeout: HOOK_TIMEOUT,
        testTimeout: TEST_TIMEOUT,
      });
      const test = m.test;

      test("the workspace's owner and mode are what this test is about", () => {
        assert.equal(owner(m.ctx.ws), m.ctx.wsOwner);
        assert.equal(fs.statSync(m.ctx.ws).mode & 0o7777, 0o755);
        if (mode.kind === 'root') assert.notEqual(m.ctx.jailUid, 0, 'the server must not run as root');
      });

      test("write_file, edit_file and create_directory work; what is new belongs to the workspace's owner", async () => {
        // write_file: a new file, then over an existing one (temp file + rename)
        const p = path.join(m.ctx.ws, `written-${hex(4)}.txt`);
        let r = await callTool(m.srv.client, 'write_file', { path: p, content: 'first\n' });
        assert.ok(r.ok, `write_file failed: ${r.text}`);
        assert.equal(fs.readFileSync(p, 'utf8'), 'first\n');
        assert.equal(owner(p), m.ctx.wsOwner, 'the new file does not belong to the workspace owner');
        r = await callTool(m.srv.client, 'write_file', { path: p, content: 'second\n' });
        assert.ok(r.ok, `overwriting with write_file failed: ${r.text}`);
        assert.equal(fs.readFileSync(p, 'utf8'), 'second\n');
        assert.equal(owner(p), m.ctx.wsOwner);
        // edit_file on the host's file
        const hello = path.join(m.ctx.ws, 'hello.txt');
        r = await callTool(m.srv.client, 'edit_file', {
          path: hello, edits: [{ oldText: 'hello from the host', newText: 'edited in the jail' }],
        });
        assert.ok(r.ok, `edit_file failed: ${r.text}`);
        assert.equal(fs.readFileSync(hello, 'utf8'), m.ctx.helloText.replace('hello from the host', 'edited in the jail'));
        assert.equal(owner(hello), m.ctx.wsOwner);
        assert.equal(fs.statSync(hello).mode & 0o777, 0o644);
        // create_directory, nested, and a file in it
        const dir = path.join(m.ctx.ws, `made-${hex(4)}`, 'deeper');
        r = await callTool(m.srv.client, 'create_directory', { path: dir });
        assert.ok(r.ok, `create_directory failed: ${r.text}`);
        assert.ok(fs.statSync(dir).isDirectory());
        assert.equal(owner(dir), m.ctx.wsOwner);
        assert.equal(owner(path.dirname(dir)), m.ctx.wsOwner);
        const inDir = path.join(dir, 'note.md');
        r = await callTool(m.srv.client, 'write_file', { path: inDir, content: '# note\n' });
        assert.ok(r.ok, r.text);
        assert.equal(owner(inDir), m.ctx.wsOwner);
        // and it all reads back through the server
        const back = await callTool(m.srv.client, 'read_text_file', { path: inDir });
        assert.ok(back.ok, back.text);
        assert.equal(back.text, '# note\n');
        assert.deepEqual(m.srv.protocolErrors.map(String), []);
      });

      test('a directory of another owner inside the workspace stays closed', async (t) => {
        if (!m.ctx.others) return t.skip('only root can give a directory to another user');
        const theirs = path.join(m.ctx.others, 'theirs.txt');
        const planted = path.join(m.ctx.others, 'planted.txt');
        // control: it is readable through the server
        const read = await callTool(m.srv.client, 'read_text_file', { path: theirs });
        assert.ok(read.ok, read.text);
        for (const [tool, args] of [
          ['write_file', { path: planted, content: 'x' }],
          ['write_file', { path: theirs, content: 'x' }],
          ['edit_file', { path: theirs, edits: [{ oldText: 'theirs', newText: 'mine' }] }],
          ['create_directory', { path: path.join(m.ctx.others, 'sub') }],
        ]) {
          const r = await callTool(m.srv.client, tool, args);
          assert.ok(!r.ok, `${tool}(${args.path}) succeeded: ${r.text}`);
        }
        assert.deepEqual(fs.readdirSync(m.ctx.others), ['theirs.txt']);
        assert.equal(fs.readFileSync(theirs, 'utf8'), 'theirs\n');
      });

      test('without the workspace as a write path the same calls fail, and the host is unchanged', async () => {
        // base with the workspace read-only: the server starts and reads it.
        const ro = await startServer(launch(m.ctx, ['base', '--read', m.ctx.ws], [m.ctx.ws]));
        try {
          const before = fs.readdirSync(m.ctx.ws).sort();
          const hello = path.join(m.ctx.ws, 'hello.txt');
          const content = fs.readFileSync(hello, 'utf8');
          const read = await callTool(ro.client, 'read_text_file', { path: hello });
          assert.ok(read.ok, `control failed, the server cannot read the workspace: ${read.text}`);
          assert.equal(read.text, content);
          for (const [tool, args] of [
            ['write_file', { path: path.join(m.ctx.ws, 'nope.txt'), content: 'x' }],
            ['write_file', { path: hello, content: 'x' }],
            ['edit_file', { path: hello, edits: [{ oldText: content.slice(0, 5), newText: 'XXXXX' }] }],
            ['create_directory', { path: path.join(m.ctx.ws, 'nope-dir') }],
          ]) {
            const r = await callTool(ro.client, tool, args);
            assert.ok(!r.ok, `${tool}(${args.path}) succeeded without a write path: ${r.text}`);
          }
          assert.deepEqual(fs.readdirSync(m.ctx.ws).sort(), before);
          assert.equal(fs.readFileSync(hello, 'utf8'), content);
        } finally {
          await ro.close();
        }
      });

      test('given / as its allowed directory, it writes a new file into the workspace and nowhere else', async () => {
        const s = await startServer(underFilesystem(m.ctx, ['/']));
        try {
          // `ls /`: the names of the jail's root (its contents stay closed)
          const root = await callTool(s.client, 'list_directory', { path: '/' });
          assert.ok(root.ok && root.text.split('\n').includes('[DIR] usr'), root.text);
          const p = path.join(m.ctx.ws, `from-root-${hex(4)}.txt`);
          const r = await callTool(s.client, 'write_file', { path: p, content: 'allowed: /\n' });
          assert.ok(r.ok, `write_file under / failed: ${r.text}`);
          assert.equal(fs.readFileSync(p, 'utf8'), 'allowed: /\n');
          assert.equal(owner(p), m.ctx.wsOwner);
          const d = path.join(m.ctx.ws, `dir-from-root-${hex(4)}`);
          const md = await callTool(s.client, 'create_directory', { path: d });
          assert.ok(md.ok, md.text);
          assert.equal(owner(d), m.ctx.wsOwner);
          // Outside the write path: a host directory the jail's user could
          // write, the read-only /usr and /etc, the jail's root.
          for (const target of [path.join(m.ctx.outside, 'planted.txt'), '/usr/mcpjail-e2e-planted', '/etc/mcpjail-e2e-planted',
            `/mcpjail-e2e-planted-${hex(4)}`]) {
            const w = await callTool(s.client, 'write_file', { path: target, content: 'x' });
            assert.ok(!w.ok, `write_file(${target}) succeeded: ${w.text}`);
            assert.ok(!fs.existsSync(target), `${target} exists on the host`);
          }
          assert.deepEqual(fs.readdirSync(m.ctx.outside), []);
          assert.deepEqual(s.protocolErrors.map(String), []);
        } finally {
          await s.close();
        }
      });

      test('a root-owned workspace is not made writable for a rootless launch', async (t) => {
        if (!m.ctx.rootWs) return t.skip(mode.kind === 'root' ? 'rootless modes only' : 'needs root to make a root-owned directory');
        assert.equal(owner(m.ctx.rootWs), '0:0');
        const s = await startServer(launch(m.ctx, ['filesystem', '--var', `WORKSPACE=${m.ctx.rootWs}`], [m.ctx.rootWs]));
        try {
          const read = await callTool(s.client, 'read_text_file', { path: path.join(m.ctx.rootWs, 'hello.txt') });
          assert.ok(read.ok, `control failed, the server cannot read the workspace: ${read.text}`);
          for (const [tool, args] of [
            ['write_file', { path: path.join(m.ctx.rootWs, 'nope.txt'), content: 'x' }],
            ['create_directory', { path: path.join(m.ctx.rootWs, 'nope-dir') }],
            ['edit_file', { path: path.join(m.ctx.rootWs, 'hello.txt'), edits: [{ oldText: 'root', newText: 'user' }] }],
          ]) {
            const r = await callTool(s.client, tool, args);
            assert.ok(!r.ok, `${tool}(${args.path}) succeeded in a root-owned workspace: ${r.text}`);
          }
          assert.deepEqual(fs.readdirSync(m.ctx.rootWs), ['hello.txt']);
          assert.equal(fs.readFileSync(path.join(m.ctx.rootWs, 'hello.txt'), 'utf8'), 'root\n');
        } finally {
          await s.close();
        }
      });
    });
  }
}

jailSuite('mcp-jail: the filesystem server in a workspace the jail user does not own', suite);
