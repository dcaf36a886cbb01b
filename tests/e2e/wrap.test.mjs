// End-to-end: a Claude Desktop configuration written by hand, rewritten by
// `mcp-jail wrap`, each entry started exactly as the host starts it (its
// command, args and env) and driven by the real MCP SDK client; then
// `mcp-jail unwrap` gives the file back byte for byte. Root and rootless.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/wrap.test.mjs
//
// The memory server's entry sets MEMORY_FILE_PATH to a graph of the user's:
// after wrap the graph is still that file (not the profile's own), and it is
// the file the server wrote. The filesystem server writes in its directory.

import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  callTool, hex, jailSuite, mkTempDir, modeDefinitions, modeTest, prepareMode, serverEntry, startServer, storeEntity,
} from './jailed.mjs';

const MEMORY = '@modelcontextprotocol/server-memory';
const FILES = '@modelcontextprotocol/server-filesystem';
const TIMEOUT = 120_000;

// Runs mcp-jail as the mode's launching user; returns { code, stderr }.
function jailCommand(ctx, args) {
  const argv = [...ctx.prefix, ctx.jailBin, ...args];
  try {
    execFileSync(argv[0], argv.slice(1), { env: { PATH: '/usr/bin:/bin', ...ctx.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stderr: '' };
  } catch (err) {
    return { code: err.status, stderr: String(err.stderr) };
  }
}

// Starts an entry of the configuration as the host would, as the launching user.
function asHost(ctx, entry) {
  const argv = [...ctx.prefix, entry.command, ...(entry.args ?? [])];
  return startServer({ command: argv[0], args: argv.slice(1), env: { ...ctx.env, ...(entry.env ?? {}) } });
}

function suite() {
  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;
      let dir;
      let cfg;
      let original;
      let graph;
      let ws;

      before(() => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        dir = mkTempDir('mcpjail-e2e-wrap-');
        ctx.tempDirs.push(dir);
        ws = path.join(dir, 'project');
        fs.mkdirSync(ws);
        fs.mkdirSync(path.join(dir, 'memory'));
        graph = path.join(dir, 'memory', 'graph.jsonl');
        fs.writeFileSync(graph, '');
        cfg = path.join(dir, 'claude_desktop_config.json');
        original = `{
  // written by hand
  "mcpServers": {
    "memory": {
      "command": ${JSON.stringify(process.execPath)},
      "args": [${JSON.stringify(serverEntry(ctx, MEMORY))}],
      "env": { "MEMORY_FILE_PATH": ${JSON.stringify(graph)} }
    },
    "files": {
      "command": ${JSON.stringify(process.execPath)},
      "args": [
        ${JSON.stringify(serverEntry(ctx, FILES))},
        ${JSON.stringify(ws)}
      ]
    }
  }
}
`;
        fs.writeFileSync(cfg, original);
        // The launching user owns the configuration's directory; the jail's
        // user owns what the servers write (root launches run as 65534).
        execFileSync('chown', ['-R', `${ctx.host.uid}:${ctx.host.gid}`, dir]);
        execFileSync('chown', ['-R', `${ctx.jailUid}:${ctx.jailGid}`, path.dirname(graph), ws]);
        fs.chmodSync(dir, 0o755);
      });

      after(() => ctx?.cleanup());

      const test = modeTest({ ctx: () => ctx, timeout: TIMEOUT });

      test('wrap routes both servers through mcp-jail; each does its job started as the host starts it', async () => {
        const w = jailCommand(ctx, ['wrap', cfg]);
        assert.equal(w.code, 0, w.stderr);
        const doc = JSON.parse(fs.readFileSync(cfg, 'utf8').replace(/^\s*\/\/.*$/m, ''));
        const mem = doc.mcpServers.memory;
        const files = doc.mcpServers.files;
        assert.equal(path.basename(mem.command), 'mcp-jail');
        assert.deepEqual(mem.args.slice(0, 2), ['run', 'memory']);
        assert.ok(mem.args.includes('--write') && mem.args.includes(path.dirname(graph)), `memory args: ${mem.args}`);
        assert.deepEqual(files.args.slice(0, 3), ['run', 'filesystem', '--var']);

        // memory: the graph lands in the user's file.
        const name = `wrap-e2e-${hex(4)}`;
        let srv = await asHost(ctx, mem);
        try {
          await storeEntity(srv, name, 'through wrap');
        } finally {
          await srv.close();
        }
        assert.ok(fs.readFileSync(graph, 'utf8').includes(name), 'the graph is not in MEMORY_FILE_PATH');

        // filesystem: writes a new file in its directory, cannot write beside it.
        srv = await asHost(ctx, files);
        try {
          let r = await callTool(srv.client, 'write_file', { path: path.join(ws, 'note.txt'), content: 'kept' });
          assert.ok(r.ok, `write_file: ${r.text}\n${srv.stderr()}`);
          r = await callTool(srv.client, 'write_file', { path: path.join(dir, 'outside.txt'), content: 'no' });
          assert.ok(!r.ok, 'a write outside the allowed directory succeeded');
        } finally {
          await srv.close();
        }
        assert.equal(fs.readFileSync(path.join(ws, 'note.txt'), 'utf8'), 'kept');
        assert.ok(!fs.existsSync(path.join(dir, 'outside.txt')));
      });

      test('unwrap gives the configuration back byte for byte', () => {
        const u = jailCommand(ctx, ['unwrap', cfg]);
        assert.equal(u.code, 0, u.stderr);
        assert.equal(fs.readFileSync(cfg, 'utf8'), original);
      });
    });
  }
}

jailSuite('mcp-jail wrap and unwrap with real servers', suite);
