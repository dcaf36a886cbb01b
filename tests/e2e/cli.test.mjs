// End-to-end: the server's command after PROFILE, with and without "--".
// The filesystem and memory servers run through `mcp-jail run`, driven by the
// real MCP SDK client and by the MCP Inspector's command line
// (`mcp-inspector --cli COMMAND... --method ...`, the package's own bin, what
// `npx @modelcontextprotocol/inspector` runs), root and rootless.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/cli.test.mjs
//
// The Inspector's parser drops a literal "--" from the command it is given:
// `--cli mcp-jail run P -- node server.js` reaches mcp-jail as
// `run P node server.js`. record-argv.mjs, put between the Inspector and
// mcp-jail, shows what arrived; both forms must start the server.
//
// Per mode and form: the tools are listed; a workspace file is read
// (positive), the workspace's .env, which the filesystem profile hides, is
// not (negative; the same server without the jail reads it); the memory
// server stores an entity and reads it back, in the profile's state
// directory on the host.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  E2E_DIR, JAIL, bare, callTool, hex, mkTempDir, modeDefinitions, prepareMode, runCollect, serverEntry, startServer,
  stateDir,
} from './jailed.mjs';

const FS_PKG = '@modelcontextprotocol/server-filesystem';
const MEM_PKG = '@modelcontextprotocol/server-memory';
const INSPECTOR_PKG = '@modelcontextprotocol/inspector';
const TEST_TIMEOUT = 120_000;
const HOOK_TIMEOUT = 300_000; // copying node_modules for the test user can be slow
const FORMS = [
  { name: 'with --', dashdash: true },
  { name: 'without --', dashdash: false },
];

// The Inspector's bin, as npx runs it.
function inspectorBin(ctx) {
  const dir = path.join(ctx.serverRoot, 'node_modules', INSPECTOR_PKG);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  return path.join(dir, manifest.bin['mcp-inspector']);
}

// mcp-jail's arguments for a server, "--" before its command or not.
function runArgs(ctx, { profile, vars = {}, dashdash, server }) {
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}=${v}`]);
  return [ctx.jailBin, 'run', profile, ...varArgs, ...(dashdash ? ['--'] : []), ...server];
}

function suite() {
  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;
      let ws; // the filesystem server's workspace
      let scratch; // the recorder's script and output, the launching user's
      let recorder;
      const SECRET = `sk-live-${hex(12)}`;
      const NOTE = `note ${hex(6)}`;

      before(() => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        ws = mkTempDir('mcpjail-e2e-cli-ws-');
        ctx.tempDirs.push(ws);
        fs.writeFileSync(path.join(ws, 'notes.txt'), NOTE);
        fs.writeFileSync(path.join(ws, '.env'), `API_KEY=${SECRET}\n`, { mode: 0o644 });
        scratch = mkTempDir('mcpjail-e2e-cli-');
        ctx.tempDirs.push(scratch);
        recorder = path.join(scratch, 'record-argv.mjs');
        fs.copyFileSync(path.join(E2E_DIR, 'record-argv.mjs'), recorder);
        fs.chmodSync(recorder, 0o644);
        if (process.getuid() === 0) execFileSync('chown', [`${ctx.host.uid}:${ctx.host.gid}`, scratch]);
      }, { timeout: HOOK_TIMEOUT });

      after(() => ctx?.cleanup(), { timeout: HOOK_TIMEOUT });

      const test = (name, fn) =>
        it(name, { timeout: TEST_TIMEOUT }, async (t) => {
          if (ctx?.skip) return t.skip(ctx.skip);
          await fn(t);
        });

      const fsServer = () => [process.execPath, serverEntry(ctx, FS_PKG), ws];
      const memServer = () => [process.execPath, serverEntry(ctx, MEM_PKG)];

      // Through the SDK client: exactly these arguments reach mcp-jail.
      const sdk = (args) => {
        const argv = [...ctx.prefix, ...args];
        return startServer({ command: argv[0], args: argv.slice(1), env: ctx.env });
      };

      // Through the Inspector's CLI mode. Returns the parsed JSON result and
      // the arguments mcp-jail was started with.
      const inspect = async (args, method) => {
        const out = path.join(scratch, `argv-${hex(4)}.json`);
        const argv = [...ctx.prefix, process.execPath, inspectorBin(ctx), '--cli', process.execPath, recorder, out,
          ...args, '-e', `XDG_STATE_HOME=${ctx.stateHome}`, ...method, '--format', 'json'];
        const r = await runCollect(argv[0], argv.slice(1), {
          env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...ctx.env },
          timeout: 90_000,
        });
        let json = null;
        try {
          json = JSON.parse(r.stdout);
        } catch {
          // reported below
        }
        const received = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : null;
        return { ...r, json, received, what: `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}` };
      };

      for (const form of FORMS) {
        test(`SDK client, ${form.name}: filesystem reads the workspace, not its hidden .env`, async () => {
          const srv = await sdk(runArgs(ctx, { profile: 'filesystem', vars: { WORKSPACE: ws }, dashdash: form.dashdash,
            server: fsServer() }));
          try {
            const tools = (await srv.client.listTools()).tools.map((x) => x.name);
            assert.ok(tools.includes('read_text_file'), `tools: ${tools}`);
            let r = await callTool(srv.client, 'read_text_file', { path: path.join(ws, 'notes.txt') });
            assert.ok(r.ok && r.text.includes(NOTE), `read notes.txt: ${r.all}\n${srv.stderr()}`);
            r = await callTool(srv.client, 'read_text_file', { path: path.join(ws, '.env') });
            assert.ok(!r.ok, `.env was readable in the jail: ${r.all}`);
            assert.ok(!r.all.includes(SECRET));
            assert.deepEqual(srv.protocolErrors.map(String), []);
          } finally {
            await srv.close();
          }
        });

        test(`SDK client, ${form.name}: memory stores an entity and reads it back`, async () => {
          const name = `cli-sdk-${form.dashdash ? 'dd' : 'plain'}-${hex(4)}`;
          const srv = await sdk(runArgs(ctx, { profile: 'memory', dashdash: form.dashdash, server: memServer() }));
          try {
            let r = await callTool(srv.client, 'create_entities', {
              entities: [{ name, entityType: 'test', observations: [form.name] }],
            });
            assert.ok(r.ok, `create_entities: ${r.all}\n${srv.stderr()}`);
            r = await callTool(srv.client, 'read_graph', {});
            assert.ok(r.ok && r.all.includes(name), `read_graph: ${r.all}`);
          } finally {
            await srv.close();
          }
        });

        test(`Inspector --cli, ${form.name}: filesystem lists its tools, reads the workspace, not its hidden .env`,
          async () => {
            const args = runArgs(ctx, { profile: 'filesystem', vars: { WORKSPACE: ws }, dashdash: form.dashdash,
              server: fsServer() });
            let r = await inspect(args, ['--method', 'tools/list']);
            // What reached mcp-jail: the Inspector drops the "--", so both
            // forms arrive without it.
            assert.deepEqual(r.received, args.filter((a) => a !== '--'), r.what);
            assert.equal(r.code, 0, r.what);
            const tools = (r.json?.result?.tools ?? r.json?.tools ?? []).map((x) => x.name);
            assert.ok(tools.includes('read_text_file'), `tools: ${tools}\n${r.what}`);

            r = await inspect(args, ['--method', 'tools/call', '--tool-name', 'read_text_file', '--tool-arg',
              `path=${path.join(ws, 'notes.txt')}`]);
            assert.equal(r.code, 0, r.what);
            assert.ok(JSON.stringify(r.json).includes(NOTE), r.what);

            r = await inspect(args, ['--method', 'tools/call', '--tool-name', 'read_text_file', '--tool-arg',
              `path=${path.join(ws, '.env')}`]);
            assert.notEqual(r.code, 0, `.env was readable in the jail: ${r.what}`);
            assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), r.what);
          });

        test(`Inspector --cli, ${form.name}: memory stores an entity, a second run reads it back`, async () => {
          const name = `cli-inspector-${form.dashdash ? 'dd' : 'plain'}-${hex(4)}`;
          const args = runArgs(ctx, { profile: 'memory', dashdash: form.dashdash, server: memServer() });
          let r = await inspect(args, ['--method', 'tools/call', '--tool-name', 'create_entities', '--tool-args-json',
            JSON.stringify({ entities: [{ name, entityType: 'test', observations: [form.name] }] })]);
          assert.deepEqual(r.received, args.filter((a) => a !== '--'), r.what);
          assert.equal(r.code, 0, r.what);
          r = await inspect(args, ['--method', 'tools/call', '--tool-name', 'read_graph']);
          assert.equal(r.code, 0, r.what);
          assert.ok(JSON.stringify(r.json).includes(name), r.what);
          // On the host, in the profile's own state directory.
          const graph = fs.readFileSync(path.join(stateDir(ctx, 'memory'), 'memory', 'memory.jsonl'), 'utf8');
          assert.ok(graph.includes(name), `memory.jsonl: ${graph}`);
        });
      }

      test('control: the same filesystem server without the jail reads the .env', async () => {
        const srv = await startServer(bare(ctx, { pkg: FS_PKG, args: [ws] }));
        try {
          const r = await callTool(srv.client, 'read_text_file', { path: path.join(ws, '.env') });
          assert.ok(r.ok && r.text.includes(SECRET), `control could not read .env: ${r.all}`);
        } finally {
          await srv.close();
        }
      });
    });
  }
}

if (!JAIL) {
  describe('mcp-jail command line end to end', () => {
    it('needs MCPJAIL_BIN', (t) => t.skip('MCPJAIL_BIN is not set'));
  });
} else {
  describe('mcp-jail command line end to end', suite);
}
