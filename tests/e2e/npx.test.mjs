// End-to-end: the npx launch form of the filesystem profile,
//
//   mcp-jail run filesystem --var WORKSPACE=DIR -- npx -y @modelcontextprotocol/server-filesystem@VERSION DIR
//
// run offline from the profile's own npm cache, driven by the real MCP SDK
// client (filesystem.test.mjs covers the node form in depth). Each profile
// has a cache of its own: the filesystem server, told to allow the memory
// profile's cache or the user's ~/.npm, cannot see them, while a control
// without the jail can.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/npx.test.mjs

import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  bare, callTool, fillNpxCache, hex, jailed, mkTempDir, jailSuite, modeDefinitions, modeTest, prepareMode, runCollect, spec,
  startServer,
} from './jailed.mjs';

const PKG = '@modelcontextprotocol/server-filesystem';
const OTHER_PKG = '@modelcontextprotocol/server-memory';
const HOOK_TIMEOUT = 600_000; // the first fill downloads the packages
const TEST_TIMEOUT = 120_000;

function suite() {
  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;
      let ws;
      let otherCache; // the memory profile's npm cache
      let srv;

      before(async () => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        fillNpxCache(ctx, 'filesystem', spec(PKG));
        otherCache = fillNpxCache(ctx, 'memory', spec(OTHER_PKG)).cache;
        const base = mkTempDir('mcpjail-e2e-npx-');
        ctx.tempDirs.push(base);
        ws = path.join(base, 'ws');
        fs.mkdirSync(ws, { mode: 0o755 });
        fs.writeFileSync(path.join(ws, 'hello.txt'), 'hello from the host\n', { mode: 0o644 });
        if (process.getuid() === 0) execFileSync('chown', ['-R', `${ctx.jailUid}:${ctx.jailGid}`, ws]);
        srv = await startServer(jailed(ctx, { profile: 'filesystem', form: 'npx', pkg: PKG, args: [ws], vars: { WORKSPACE: ws } }));
      }, { timeout: HOOK_TIMEOUT });

      after(async () => {
        await srv?.close();
        ctx?.cleanup();
      }, { timeout: HOOK_TIMEOUT });

      const test = modeTest({ ctx: () => ctx, srv: () => srv, timeout: TEST_TIMEOUT });

      test('reads and writes the workspace through npx', async () => {
        const tools = (await srv.client.listTools()).tools.map((x) => x.name);
        assert.ok(tools.includes('read_text_file') && tools.includes('write_file'), tools.join(', '));
        let r = await callTool(srv.client, 'read_text_file', { path: path.join(ws, 'hello.txt') });
        assert.ok(r.ok, r.text);
        assert.equal(r.text, 'hello from the host\n');
        const p = path.join(ws, `written-${hex(4)}.txt`);
        r = await callTool(srv.client, 'write_file', { path: p, content: 'from npx\n' });
        assert.ok(r.ok, r.text);
        assert.equal(fs.readFileSync(p, 'utf8'), 'from npx\n');
        assert.equal(fs.statSync(p).uid, ctx.jailUid);
        assert.deepEqual(srv.protocolErrors.map(String), []);
      });

      test("another profile's npm cache and the user's are not visible, even to a server told to allow them", async () => {
        const userCache = path.join(ctx.host.home, '.npm');
        if (!fs.existsSync(userCache)) {
          fs.mkdirSync(path.join(userCache, '_cacache'), { recursive: true });
          if (process.getuid() === 0) execFileSync('chown', ['-R', `${ctx.host.uid}:${ctx.host.gid}`, userCache]);
        }
        for (const [label, dir, entry] of [['memory profile cache', otherCache, '_npx'], ['user cache', userCache, '_cacache']]) {
          // Control: it is there, and the server without the jail lists it.
          const plain = await startServer(bare(ctx, { pkg: PKG, args: [ws, dir] }));
          try {
            const r = await callTool(plain.client, 'list_directory', { path: dir });
            assert.ok(r.ok && r.text.includes(entry), `control failed for the ${label}: ${r.text}`);
          } finally {
            await plain.close();
          }
          // Jailed, with only that directory allowed: nothing to serve.
          const j = jailed(ctx, { profile: 'filesystem', form: 'npx', pkg: PKG, args: [dir], vars: { WORKSPACE: ws } });
          const r = await runCollect(j.command, j.args, { env: { ...process.env, ...j.env } });
          assert.equal(r.stdout, '');
          assert.match(r.stderr, /None of the specified directories are accessible/, `${label}:\n${r.stderr}`);
          assert.equal(r.code, 1, `${label}: expected the server's own status 1, got ${r.code}\n${r.stderr}`);
        }
      });

      test('an npx launch that ran reports nothing blocked (no exec, no write)', async () => {
        // stdin at its end: the server starts, serves nothing and exits; the
        // launcher's summary line comes last on stderr.
        const j = jailed(ctx, { profile: 'filesystem', form: 'npx', pkg: PKG, args: [ws], vars: { WORKSPACE: ws } });
        const r = await runCollect(j.command, j.args, { env: { ...process.env, ...j.env } });
        assert.match(r.stderr, /"event":"start"/, r.stderr);
        assert.match(r.stderr, /running on stdio/, r.stderr); // control: the server itself ran
        assert.doesNotMatch(r.stderr, /blocked/, r.stderr);
        assert.doesNotMatch(r.stderr, /"allowed":false/, r.stderr);
        assert.doesNotMatch(r.stderr, /"event":"fs_denied"/, r.stderr);
      });

      test('given / as its allowed directory, it lists every ancestor of the workspace and creates a file in it', async () => {
        const s = await startServer(jailed(ctx, { profile: 'filesystem', form: 'npx', pkg: PKG, args: ['/'], vars: { WORKSPACE: ws } }));
        try {
          for (let d = ws; d !== '/'; d = path.dirname(d)) {
            const parent = path.dirname(d);
            const r = await callTool(s.client, 'list_directory', { path: parent });
            assert.ok(r.ok && r.text.includes(path.basename(d)), `${parent}: ${r.text}`);
          }
          const p = path.join(ws, `from-root-${hex(4)}.txt`);
          const r = await callTool(s.client, 'write_file', { path: p, content: 'listed from /\n' });
          assert.ok(r.ok, r.text);
          assert.equal(fs.readFileSync(p, 'utf8'), 'listed from /\n');
          // names, not contents: a file outside the plan stays unreadable
          const secret = await callTool(s.client, 'read_text_file', { path: '/etc/shadow' });
          assert.ok(!secret.ok, secret.text);
        } finally {
          await s.close();
        }
      });
    });
  }
}

jailSuite('mcp-jail: the npx launch form end to end', suite);
