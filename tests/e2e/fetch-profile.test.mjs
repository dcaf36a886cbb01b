// End-to-end test of the built-in `fetch` profile with a real fetch server
// from npm, mcp-fetch-server (pinned in package.json), driven by the real MCP
// SDK client through `mcp-jail run`, in both launch forms users paste into
// host configs: `node .../mcp-fetch-server/dist/index.js` and
// `npx -y mcp-fetch-server@VERSION` (offline, from the profile's npm cache
// filled beforehand outside the jail by jailed.mjs). The test profile extends
// "fetch" and only points network.dns at the test world's resolver (and, for
// npx, keeps npm offline: tests do not download through a jail).
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/fetch-profile.test.mjs
//
// Needs root: the launcher runs inside a world of network namespaces the test
// builds (tests/network/world.sh), so every address the server can try is a
// listener of this test:
//   198.18.1.10  http :80 (the web server) and :8080 (a port the profile does not open)
//   198.18.1.66  http :80, never named by DNS
//   10.18.1.10   http :80, a private-range host
//   169.254.169.254  http :80, the metadata look-alike
//   198.18.0.1   http :80, the jail's gateway
//   198.18.1.53  DNS: www.test, intranet.test, metadata.test
//
// mcp-fetch-server refuses by itself URLs whose host is, or resolves to, an
// address its private-ip list names; that list includes 198.18.0.0/15, the
// only range these tests may use, so every world URL by name ends at that
// check. Written as an IPv4-mapped IPv6 literal in hex ([::ffff:c612:10a] is
// 198.18.1.10) the address passes the server's check and the request goes out
// as IPv4 to 198.18.1.10: the same form also carries requests for private and
// metadata addresses past the server's own check, which shows what the jail
// adds. The profile opens names, not addresses: an address is reachable only
// once the jail's DNS filter has answered a name with it. So each test first
// asks for a name (the server looks it up through the filter, then refuses
// it) and then fetches the answered address.
//
// Modes (jailed.mjs): root (the jail runs as 65534) and rootless (started as
// mcpjail-test through setpriv). Without root, everything is skipped.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  E2E_DIR, eventually, fillNpxCache, hex, jailSuite, mkTempDir, modeDefinitions, modeTest, prepareMode, serverEntry, spec, startServer,
} from './jailed.mjs';
import { TestWorld, auditUntil, worldSkipReason } from './testworld.mjs';

const PKG = 'mcp-fetch-server';
const PROFILE = 'fetch-e2e'; // the test profile's name: its ${PROFILE_STATE} holds the npm cache
const HOOK_TIMEOUT = 600_000; // the first fill downloads the package, outside the jail
const TIMEOUT = 90_000;

const skipReason =
  worldSkipReason() ??
  (fs.existsSync(path.join(E2E_DIR, 'node_modules', PKG)) ? null : `${PKG} is not installed: run npm ci in tests/e2e`);

const world = new TestWorld('mjf');

// An IPv4 address as the IPv4-mapped IPv6 URL host mcp-fetch-server lets through.
const mapped = (v4) => {
  const [a, b, c, d] = v4.split('.').map(Number);
  return `[::ffff:${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}]`;
};

const WEB = '198.18.1.10';
const UNNAMED = '198.18.1.66';
const PRIVATE = '10.18.1.10';
const METADATA = '169.254.169.254';
const GATEWAY = '198.18.0.1';

async function fetchTxt(client, url) {
  const res = await client.callTool({ name: 'fetch_txt', arguments: { url } }, undefined, { timeout: 30_000 });
  return { ok: !res.isError, text: (res.content ?? []).map((c) => c.text ?? '').join('\n') };
}

// The server looks `name` up through the jail's DNS filter and refuses the
// answer as private: the message carries the address the filter passed on.
async function resolveThroughServer(client, name, expect) {
  const r = await fetchTxt(client, `http://${name}/never-fetched`);
  assert.ok(!r.ok, `http://${name}/ was fetched: ${r.text}`);
  assert.match(r.text, new RegExp(`hostname "${name}" resolved to private IP "${expect.replaceAll('.', '\\.')}"`));
}

jailSuite('built-in profile "fetch": mcp-fetch-server through the jail', () => {
  before(async () => {
    process.once('exit', () => world.down());
    await world.build([
      `http:${WEB}:80`,
      `http:${WEB}:8080`,
      `http:${UNNAMED}:80`,
      `http:${PRIVATE}:80`,
      `http:${METADATA}:80`,
      `http:${GATEWAY}:80`,
      'dns:198.18.1.53:53',
      `www.test=${WEB}`,
      `intranet.test=${PRIVATE}`,
      `metadata.test=${METADATA}`,
    ]);
  }, { timeout: TIMEOUT });

  after(() => world.down());

  it('positive control: without a jail the server reaches every listener of the world', { timeout: TIMEOUT }, async () => {
    const bare = await startServer({
      command: 'nsenter',
      args: [`--net=${world.hostNs}`, '--', process.execPath, path.join(E2E_DIR, 'node_modules', PKG, 'dist', 'index.js')],
    });
    try {
      for (const [addr, port] of [[WEB, 80], [WEB, 8080], [UNNAMED, 80], [PRIVATE, 80], [METADATA, 80], [GATEWAY, 80]]) {
        const url = `http://${mapped(addr)}:${port}/control`;
        const r = await fetchTxt(bare.client, url);
        assert.equal(r.text, `hello from ${addr}:${port} /control`, `control fetch of ${url} failed`);
        assert.ok(r.ok);
      }
      // By address, the server's own check refuses the world.
      const r = await fetchTxt(bare.client, `http://${WEB}/control`);
      assert.match(r.text, /Fetcher blocked request to private address/);
    } finally {
      await bare.close();
    }
  });

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx, profile, state;

      before(() => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        state = mkTempDir('mcpjail-e2e-fetchprof-');
        profile = path.join(state, `${PROFILE}.toml`);
        fs.writeFileSync(
          profile,
          [
            'version = 1',
            `name = "${PROFILE}"`,
            'extends = "fetch"',
            '[network]',
            'dns = ["198.18.1.53"]',
            '[env]',
            '# npx: the cache is filled; never try the registry',
            'set = { npm_config_offline = "true" }',
            '',
          ].join('\n'),
          { mode: 0o644 },
        );
        fs.chownSync(state, ctx.host.uid, ctx.host.gid);
        fillNpxCache(ctx, PROFILE, spec(PKG));
      }, { timeout: HOOK_TIMEOUT });

      after(() => {
        if (state) fs.rmSync(state, { recursive: true, force: true });
        ctx?.cleanup();
      });

      for (const form of ['node', 'npx']) {
        describe(`${form} form`, () => {
          let srv, audit, positive = false;

          before(async () => {
            if (ctx.skip) return;
            audit = path.join(state, `audit-${form}-${hex(4)}.jsonl`);
            const server = form === 'npx' ? ['npx', '-y', spec(PKG)] : [process.execPath, serverEntry(ctx, PKG)];
            srv = await startServer(world.launcher(ctx, ['run', profile, '--audit-log', audit, '--', ...server]));
          }, { timeout: TIMEOUT });

          after(async () => {
            await srv?.close();
          });

          const test = modeTest({ ctx: () => ctx, srv: () => srv, timeout: TIMEOUT });
          // Blocked paths are probed only after the allowed one answered.
          const negative = (name, fn) =>
            test(name, async () => {
              assert.ok(positive, 'the positive control did not answer: nothing is probed');
              await fn();
            });

          test('the server lists its tools', async () => {
            const { tools } = await srv.client.listTools();
            for (const t of ['fetch_html', 'fetch_markdown', 'fetch_txt', 'fetch_json']) assert.ok(tools.some((x) => x.name === t), t);
          });

          test('any name resolves through the jail, and the answered address is fetched on port 80', async () => {
            const queries = world.queriesFor('www.test').length;
            const requests = world.requestsTo(`${WEB}:80`).length;
            await resolveThroughServer(srv.client, 'www.test', WEB);
            // The world's resolver logs a moment after it answers.
            assert.ok(await eventually(() => world.queriesFor('www.test').length > queries),
              'the query did not reach the upstream resolver');
            const r = await fetchTxt(srv.client, `http://${mapped(WEB)}/allowed`);
            assert.equal(r.text, `hello from ${WEB}:80 /allowed`);
            assert.ok(r.ok);
            assert.equal(world.requestsTo(`${WEB}:80`).length, requests + 1);
            positive = true;
          });

          negative('an address no name was answered with is blocked, on an open port', async () => {
            const r = await fetchTxt(srv.client, `http://${mapped(UNNAMED)}/exfil`);
            assert.ok(!r.ok, r.text);
            assert.match(r.text, /fetch failed/);
          });

          negative('an answered address is blocked on a port the profile does not open', async () => {
            const r = await fetchTxt(srv.client, `http://${mapped(WEB)}:8080/other-port`);
            assert.ok(!r.ok, r.text);
            assert.match(r.text, /fetch failed/);
          });

          negative('a name that resolves into a private range: answered, and the address still closed', async () => {
            await resolveThroughServer(srv.client, 'intranet.test', PRIVATE);
            const r = await fetchTxt(srv.client, `http://${mapped(PRIVATE)}/private`);
            assert.ok(!r.ok, r.text);
            assert.match(r.text, /fetch failed/);
          });

          negative('the metadata address is closed, by name and by address', async () => {
            await resolveThroughServer(srv.client, 'metadata.test', METADATA);
            const r = await fetchTxt(srv.client, `http://${mapped(METADATA)}/latest/meta-data/`);
            assert.ok(!r.ok, r.text);
            assert.match(r.text, /fetch failed/);
          });

          negative('the gateway is closed', async () => {
            const r = await fetchTxt(srv.client, `http://${mapped(GATEWAY)}/gateway`);
            assert.ok(!r.ok, r.text);
            assert.match(r.text, /fetch failed/);
          });

          negative('nothing blocked arrived, and every blocked attempt is in the audit log', async () => {
            assert.equal(world.requestsTo(`${UNNAMED}:80`).filter((e) => e.path === '/exfil').length, 0);
            assert.equal(world.requestsTo(`${WEB}:8080`).filter((e) => e.path === '/other-port').length, 0);
            assert.equal(world.requestsTo(`${PRIVATE}:80`).filter((e) => e.path === '/private').length, 0);
            assert.equal(world.requestsTo(`${METADATA}:80`).filter((e) => e.path !== '/control').length, 0);
            assert.equal(world.requestsTo(`${GATEWAY}:80`).filter((e) => e.path === '/gateway').length, 0);
            assert.equal(world.queriesFor('registry.npmjs.org').length, 0, 'npm asked for the registry');
            const blocked = [[UNNAMED, 80], [WEB, 8080], [PRIVATE, 80], [METADATA, 80], [GATEWAY, 80]];
            const hit = (ev, [a, p]) => ev.some((e) => e.event === 'net_block' && e.address === a && e.port === p && e.protocol === 'tcp');
            const events = await auditUntil(audit, (ev) => blocked.every((b) => hit(ev, b)));
            for (const b of blocked) assert.ok(hit(events, b), `no net_block for ${b.join(':')}: ${JSON.stringify(events)}`);
            const start = events.find((e) => e.event === 'start');
            assert.ok(start, 'no start event');
            assert.match(JSON.stringify(start), /egress-allowlist/);
            assert.ok(!events.some((e) => e.event === 'dns_refused'), 'a name was refused under "*"');
          });
        });
      }
    });
  }
}, { skip: skipReason });
