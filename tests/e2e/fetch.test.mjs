// End-to-end test of network = "allowlist": an MCP server whose tool fetches
// URLs (fetch-server.mjs) runs inside `mcp-jail run`, driven by the real MCP
// SDK client over stdio. It reaches the allowed service by name and nothing
// else.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/fetch.test.mjs
//
// Needs root: the test builds its own world of network namespaces with
// tests/network/world.sh (and removes it afterwards). The launcher runs in the
// world's "host" namespace, so every address the jailed server can try is a
// listener of this test (networld.mjs), never anything outside:
//   api.test    198.18.1.10  http :8080 (allowed as api.test:8080) and :9090 (not allowed)
//   c2.test     198.18.1.66  http :8080 (not allowed)
//   DNS         198.18.1.53  the jail's upstream resolver
//   gateway     198.18.0.1   http :8080 (never reachable from a jail)
// Modes: root (the jail runs as 65534) and rootless (started as mcpjail-test
// through setpriv). Without root, everything is skipped.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  hex, jailSuite, mkTempDir, modeDefinitions, modeTest, prepareMode, serverFile, startServer, writeProfile,
} from './jailed.mjs';
import { ALLOW_API_TEST, TestWorld, auditUntil, fetchTool, worldSkipReason } from './testworld.mjs';

const TIMEOUT = 60_000;

const world = new TestWorld('mje');

async function buildWorld() {
  await world.build(
    [
      'http:198.18.1.10:8080',
      'http:198.18.1.10:9090',
      'http:198.18.1.66:8080',
      'http:198.18.0.1:8080',
      'dns:198.18.1.53:53',
      'api.test=198.18.1.10',
      'c2.test=198.18.1.66',
    ],
    ['http:127.0.0.1:8080'],
  );
}

// ---------------------------------------------------------------- tests

jailSuite('network allowlist: a fetch server through the jail', () => {
  before(async () => {
    process.once('exit', () => world.down());
    await buildWorld();
  }, { timeout: TIMEOUT });

  after(() => world.down());

  it('positive control: without a jail the server reaches every listener of the world', { timeout: TIMEOUT }, async () => {
    await world.assertFetchControl(['http://198.18.1.10:8080/control', 'http://198.18.1.66:8080/control',
      'http://127.0.0.1:8080/control']);
  });

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx, srv, state, audit;

      before(async () => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        // The server beside the modules this mode reads (a world-readable
        // copy when the test user cannot read the checkout).
        const script = serverFile(ctx, 'fetch-server.mjs');
        state = mkTempDir('mcpjail-e2e-fetch-state-');
        const profile = writeProfile(path.join(state, 'fetch.toml'),
          ['version = 1', 'name = "fetch-e2e"', 'extends = "base"', ...ALLOW_API_TEST]);
        audit = path.join(state, `audit-${hex(4)}.jsonl`);
        fs.chownSync(state, ctx.host.uid, ctx.host.gid);
        srv = await startServer(world.launcher(ctx, ['run', profile, '--audit-log', audit, '--', process.execPath, script]));
      }, { timeout: TIMEOUT });

      after(async () => {
        await srv?.close();
        if (state) fs.rmSync(state, { recursive: true, force: true });
        ctx?.cleanup();
      });

      const test = modeTest({ ctx: () => ctx, srv: () => srv, timeout: TIMEOUT });

      test('the server lists its fetch tool', async () => {
        const { tools } = await srv.client.listTools();
        assert.ok(tools.some((t) => t.name === 'fetch'));
      });

      test('an allowed URL is fetched, by name', async () => {
        const before = world.requestsTo('198.18.1.10:8080').length;
        const r = await fetchTool(srv.client, 'http://api.test:8080/allowed');
        assert.ok(r.ok, r.text);
        assert.equal(r.text, '200\nhello from 198.18.1.10:8080 /allowed\n');
        assert.equal(world.requestsTo('198.18.1.10:8080').length, before + 1);
      });

      test('a URL that is not allowed fails, by name and by address, and nothing arrives', async () => {
        for (const url of [
          'http://c2.test:8080/exfil',
          'http://198.18.1.66:8080/exfil',
          'http://api.test:9090/other-port',
          'http://198.18.0.1:8080/gateway',
          'http://127.0.0.1:8080/host-loopback',
        ]) {
          const r = await fetchTool(srv.client, url);
          assert.ok(!r.ok, `${url} was fetched through the jail: ${r.text}`);
          assert.match(r.text, /fetch failed/);
        }
        assert.equal(world.requestsTo('198.18.1.66:8080').filter((e) => e.path === '/exfil').length, 0);
        assert.equal(world.requestsTo('198.18.1.10:9090').length, 0);
        assert.equal(world.requestsTo('198.18.0.1:8080').length, 0);
        assert.equal(world.requestsTo('127.0.0.1:8080').filter((e) => e.path === '/host-loopback').length, 0);
        assert.equal(world.queriesFor('c2.test').length, 0, 'the refused name reached the upstream resolver');
      });

      test('the blocked attempts are in the audit log', async () => {
        const events = await auditUntil(audit, (ev) => ev.some((e) => e.event === 'net_block' && e.address === '198.18.0.1'));
        assert.ok(events.some((e) => e.event === 'dns_refused' && e.name === 'c2.test'), JSON.stringify(events));
        for (const [address, port] of [['198.18.1.66', 8080], ['198.18.1.10', 9090], ['198.18.0.1', 8080]]) {
          assert.ok(
            events.some((e) => e.event === 'net_block' && e.address === address && e.port === port && e.protocol === 'tcp'),
            `no net_block for ${address}:${port}: ${JSON.stringify(events)}`,
          );
        }
      });
    });
  }
}, { skip: worldSkipReason() });
