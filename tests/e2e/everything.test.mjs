// End-to-end: @modelcontextprotocol/server-everything (stdio) inside
// `mcp-jail run everything`, in both launch forms (node .../dist/index.js,
// and npx offline from the profile's private cache), driven by the real MCP
// SDK client.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/everything.test.mjs
//
// Positive: tools, resources and prompts work. Negative, each beside a
// control that runs the same server without the jail: the launcher's
// environment does not reach the server, and its URL-fetching tool cannot
// reach a listener on the host's loopback (owned by this test). npx without a
// filled cache fails offline instead of downloading.

import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import {
  FILL_TIMEOUT, FORMS, bare, callTool, fillNpxCache, hex, jailed, mkTempDir, jailSuite, modeDefinitions, modeTest, prepareMode, runCollect, spec,
  startServer, stateDir,
} from './jailed.mjs';

const PKG = '@modelcontextprotocol/server-everything';
const PROFILE = 'everything';
const TEST_TIMEOUT = 120_000;
const SECRET_VAR = 'MCPJAIL_E2E_LAUNCHER_SECRET';
const SECRET = `launcher-secret-${hex(16)}`;

function suite() {
  let server; // the test's own listener on the host's loopback
  let url;
  const marker = `served-by-the-host-${hex(8)}`;

  before(async () => {
    server = http.createServer((req, res) => res.end(marker));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${server.address().port}/secret.txt`;
  });
  after(() => server?.close());

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;

      before(() => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        fillNpxCache(ctx, PROFILE, spec(PKG));
        ctx.env[SECRET_VAR] = SECRET; // in the launcher's environment only
      }, { timeout: FILL_TIMEOUT });

      after(() => ctx?.cleanup(), { timeout: FILL_TIMEOUT });

      const test = modeTest({ ctx: () => ctx, timeout: TEST_TIMEOUT });

      for (const form of FORMS) {
        test(`${form}: tools, resources and prompts answer through the jail`, async () => {
          const srv = await startServer(jailed(ctx, { profile: PROFILE, form, pkg: PKG, args: ['stdio'] }));
          try {
            const tools = (await srv.client.listTools()).tools.map((x) => x.name);
            for (const want of ['echo', 'get-sum', 'get-env', 'gzip-file-as-resource'])
              assert.ok(tools.includes(want), `tool ${want} missing: ${tools.join(', ')}`);
            const msg = `hello through ${form} ${hex(4)}`;
            let r = await callTool(srv.client, 'echo', { message: msg });
            assert.ok(r.ok && r.text.includes(msg), r.all);
            r = await callTool(srv.client, 'get-sum', { a: 19, b: 23 });
            assert.ok(r.ok && /\b42\b/.test(r.text), r.all);
            // compressing inline data needs no network
            r = await callTool(srv.client, 'gzip-file-as-resource', {
              name: 'inline.txt.gz', data: 'data:text/plain;base64,aGVsbG8=', outputType: 'resource',
            });
            assert.ok(r.ok, r.all);
            // a resource read from the server's own package
            const { resources } = await srv.client.listResources();
            const doc = resources.find((x) => x.uri.startsWith('demo://resource/static/document/'));
            assert.ok(doc, `no static doc resource: ${resources.map((x) => x.uri).join(', ')}`);
            const read = await srv.client.readResource({ uri: doc.uri });
            assert.ok(read.contents[0].text.length > 0);
            const { prompts } = await srv.client.listPrompts();
            assert.ok(prompts.length > 0);
            assert.deepEqual(srv.protocolErrors.map(String), [], 'stdout carried something other than JSON-RPC');
          } finally {
            await srv.close();
          }
        });

        test(`${form}: the launcher's environment does not reach the server`, async () => {
          const srv = await startServer(jailed(ctx, { profile: PROFILE, form, pkg: PKG }));
          try {
            const r = await callTool(srv.client, 'get-env', {});
            assert.ok(r.ok, r.all);
            assert.ok(!r.text.includes(SECRET) && !r.text.includes(SECRET_VAR), `launcher variable leaked:\n${r.text}`);
            const env = JSON.parse(r.text);
            assert.ok(env.PATH, 'PATH is passed');
            if (form === 'npx') assert.equal(env.npm_config_cache, path.join(stateDir(ctx, PROFILE), 'npm'));
          } finally {
            await srv.close();
          }
        });

        test(`${form}: its URL fetcher cannot reach the host's loopback`, async () => {
          const srv = await startServer(jailed(ctx, { profile: PROFILE, form, pkg: PKG }));
          try {
            const r = await callTool(srv.client, 'gzip-file-as-resource', { name: 'x.gz', data: url, outputType: 'resource' });
            assert.ok(!r.ok, `the jailed server fetched ${url}: ${r.all}`);
          } finally {
            await srv.close();
          }
        });
      }

      test('control: the same server without the jail sees the variable and fetches the URL', async () => {
        const plain = await startServer(bare(ctx, { pkg: PKG }));
        try {
          let r = await callTool(plain.client, 'get-env', {});
          assert.ok(r.ok && r.text.includes(SECRET), 'control failed: the bare server does not see the variable');
          r = await callTool(plain.client, 'gzip-file-as-resource', { name: 'x.gz', data: url, outputType: 'resource' });
          assert.ok(r.ok, `control failed, the bare server could not fetch ${url}: ${r.all}`);
        } finally {
          await plain.close();
        }
      });

      test('npx with an empty cache fails offline; it does not download through the jail', async () => {
        const dir = mkTempDir('mcpjail-e2e-ev-', '/var/tmp');
        const name = 'e2e-everything-empty-cache';
        const own = path.join(ctx.stateHome, 'mcp-jail', name);
        try {
          fs.rmSync(own, { recursive: true, force: true });
          const prof = path.join(dir, `${name}.toml`);
          fs.writeFileSync(prof, `version = 1\nname = "${name}"\nextends = "everything"\n`, { mode: 0o644 });
          const j = jailed(ctx, { profile: prof, form: 'npx', pkg: PKG });
          const r = await runCollect(j.command, j.args, { env: { ...process.env, ...j.env } });
          assert.equal(r.stdout, '');
          assert.notEqual(r.code, 0);
          assert.match(r.stderr, /ENOTCACHED|only-if-cached/, r.stderr);
          // the profile got its own, empty cache - not everything's
          assert.ok(fs.existsSync(path.join(own, 'npm')));
          assert.ok(!fs.existsSync(path.join(own, 'npm', '_npx', 'node_modules')));
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
          fs.rmSync(own, { recursive: true, force: true });
        }
      });
    });
  }
}

jailSuite('mcp-jail: everything profile end to end', suite);
