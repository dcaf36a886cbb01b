// End-to-end test of `mcp-jail learn --network`: the fetch server
// (fetch-server.mjs) learned in a world of network namespaces of the test's
// own (tests/network/world.sh, networld.mjs), then run with the learned
// profile in the same world. While learning, the server reaches the public
// test hosts by name (recorded) and still never the gateway; the learned
// profile's [network] is an allowlist of the name and port it used, with its
// evidence; with it, `run` fetches the same URL and refuses a name that was
// not seen while learning.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/learn-network.test.mjs
//
// The world (every address the server can try is a listener of this test):
//   api.test    198.18.1.10  http :8080 (fetched while learning)
//   c2.test     198.18.1.66  http :8080 (not fetched while learning: refused by `run`)
//   DNS         198.18.1.53  the jail's upstream resolver (`dns` of the extended profile)
//   gateway     198.18.0.1   http :8080 (never reachable from a jail, learning included)
// Needs root (the world); root and rootless modes as jailed.mjs defines them.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  eventually, hex, jailSuite, mkTempDir, modeDefinitions, modeTest, prepareMode, serverFile, startServer, writeProfile,
} from './jailed.mjs';
import { TestWorld, auditUntil, fetchTool, worldSkipReason } from './testworld.mjs';

const TIMEOUT = 120_000;

const world = new TestWorld('mjn');

jailSuite('learn --network: a fetch server learned, then run with the learned allowlist', () => {
  let controlled = false;

  before(async () => {
    process.once('exit', () => world.down());
    await world.build([
      'http:198.18.1.10:8080',
      'http:198.18.1.66:8080',
      'http:198.18.0.1:8080',
      'dns:198.18.1.53:53',
      'api.test=198.18.1.10',
      'c2.test=198.18.1.66',
    ]);
  }, { timeout: TIMEOUT });

  after(() => world.down());

  it('positive control: without a jail the server reaches every listener of the world', { timeout: TIMEOUT }, async () => {
    await world.assertFetchControl(['http://198.18.1.10:8080/control', 'http://198.18.1.66:8080/control',
      'http://198.18.0.1:8080/control']);
    controlled = true;
  });

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx, state, script, base, file;

      before(() => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        script = serverFile(ctx, 'fetch-server.mjs');
        state = mkTempDir('mcpjail-e2e-learnnet-');
        // What the learned profile extends: the world's resolver as upstream.
        base = writeProfile(path.join(state, 'world.toml'),
          ['version = 1', 'name = "learnnet-world"', 'extends = "base"', '[network]', 'dns = ["198.18.1.53"]']);
        file = path.join(state, 'fetch.learned.toml');
        fs.chownSync(state, ctx.host.uid, ctx.host.gid);
      }, { timeout: TIMEOUT });

      after(() => {
        if (state) fs.rmSync(state, { recursive: true, force: true });
        ctx?.cleanup();
      });

      const test = modeTest({ ctx: () => ctx, timeout: TIMEOUT });

      test('learn --network records the name and port fetched; the gateway stays closed while learning', async () => {
        assert.ok(controlled, 'the positive control did not pass: no blocked path is probed');
        const learn = await startServer(
          world.launcher(ctx, ['learn', '-o', file, '--name', 'fetch-learned', '--extends', base, '--network', '--',
            process.execPath, script]),
        );
        let stderr;
        try {
          const ok = await fetchTool(learn.client, 'http://api.test:8080/learning');
          assert.ok(ok.ok, `${ok.text}\n${learn.stderr()}`);
          assert.equal(ok.text, '200\nhello from 198.18.1.10:8080 /learning\n');
          const gw = await fetchTool(learn.client, 'http://198.18.0.1:8080/gateway-while-learning');
          assert.ok(!gw.ok, `the gateway was reached while learning: ${gw.text}`);
        } finally {
          await learn.close();
          stderr = learn.stderr();
        }
        assert.ok(await eventually(() => fs.existsSync(file)), `no profile written:\n${stderr}`);
        assert.equal(world.requestsTo('198.18.0.1:8080').filter((e) => e.path === '/gateway-while-learning').length, 0);
        const text = fs.readFileSync(file, 'utf8');
        assert.match(text, /^mode = "allowlist"/m, text);
        assert.match(text, /^ {2}"api\.test:8080", {2}# 1 connection, e\.g\. tcp 198\.18\.1\.10:8080$/m, text);
        assert.doesNotMatch(text, /c2\.test|198\.18\.0\.1/, text);
        const allow = text.slice(text.indexOf('[network]')).split('\n').filter((l) => l.startsWith('  "'));
        assert.equal(allow.length, 1, `more than the one name in the allowlist:\n${text}`);
      });

      test('run with the learned profile: the same fetch works, a name not seen while learning is refused', async () => {
        assert.ok(fs.existsSync(file), 'nothing was learned');
        const audit = path.join(state, `audit-${hex(4)}.jsonl`);
        const srv = await startServer(world.launcher(ctx, ['run', file, '--audit-log', audit, '--', process.execPath, script]));
        try {
          const before = world.requestsTo('198.18.1.10:8080').length;
          const ok = await fetchTool(srv.client, 'http://api.test:8080/after-learning');
          assert.ok(ok.ok, `${ok.text}\n${srv.stderr()}`);
          assert.equal(ok.text, '200\nhello from 198.18.1.10:8080 /after-learning\n');
          assert.equal(world.requestsTo('198.18.1.10:8080').length, before + 1);
          assert.ok(controlled, 'the positive control did not pass: no blocked path is probed');
          for (const url of ['http://c2.test:8080/not-learned', 'http://198.18.1.66:8080/not-learned']) {
            const r = await fetchTool(srv.client, url);
            assert.ok(!r.ok, `${url} was fetched with the learned profile: ${r.text}`);
          }
          assert.equal(world.requestsTo('198.18.1.66:8080').filter((e) => e.path === '/not-learned').length, 0);
          assert.equal(world.queriesFor('c2.test').length, 0, 'the name not learned reached the upstream resolver');
          const events = await auditUntil(audit, (ev) => ev.some((e) => e.event === 'dns_refused' && e.name === 'c2.test'));
          assert.ok(!events.some((e) => e.event === 'dns_learned' || e.event === 'net_learned'), 'run recorded as learn does');
        } finally {
          await srv.close();
        }
      });
    });
  }
}, { skip: worldSkipReason() });
