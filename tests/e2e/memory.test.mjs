// End-to-end: @modelcontextprotocol/server-memory inside `mcp-jail run
// memory`, in both launch forms (node .../dist/index.js, and npx offline from
// the profile's private cache), driven by the real MCP SDK client.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/memory.test.mjs
//
// The graph lives in ${PROFILE_STATE}/memory/memory.jsonl on the host and
// survives the jail; the directory that holds it is the only host path the
// server can write. See jailed.mjs for the modes and the cache fill.

import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  FILL_TIMEOUT, FORMS, bare, callTool, fillNpxCache, hex, jailed, mkTempDir, jailSuite, modeDefinitions, modeTest, prepareMode,
  spec, startServer, stateDir,
} from './jailed.mjs';

const PKG = '@modelcontextprotocol/server-memory';
const PROFILE = 'memory';
const TEST_TIMEOUT = 120_000;

function graphNames(r) {
  const graph = r.res?.structuredContent ?? JSON.parse(r.text);
  return graph.entities.map((e) => e.name);
}

function suite() {
  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;
      let graphFile;
      const stored = []; // entity names created so far, in order

      before(() => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        fillNpxCache(ctx, PROFILE, spec(PKG));
        // A fresh graph for this run; the npm cache stays.
        fs.rmSync(path.join(stateDir(ctx, PROFILE), 'memory'), { recursive: true, force: true });
        graphFile = path.join(stateDir(ctx, PROFILE), 'memory', 'memory.jsonl');
      }, { timeout: FILL_TIMEOUT });

      after(() => ctx?.cleanup(), { timeout: FILL_TIMEOUT });

      const test = modeTest({ ctx: () => ctx, timeout: TEST_TIMEOUT });

      for (const form of FORMS) {
        test(`${form}: creates entities and a relation, reads the graph back, keeps it on the host`, async () => {
          const srv = await startServer(jailed(ctx, { profile: PROFILE, form, pkg: PKG }));
          const a = `e2e-${form}-${hex(4)}`;
          const b = `e2e-${form}-${hex(4)}`;
          try {
            const tools = (await srv.client.listTools()).tools.map((x) => x.name);
            for (const want of ['create_entities', 'create_relations', 'read_graph', 'search_nodes'])
              assert.ok(tools.includes(want), `tool ${want} missing: ${tools.join(', ')}`);
            let r = await callTool(srv.client, 'create_entities', {
              entities: [
                { name: a, entityType: 'test', observations: [`made through ${form}`] },
                { name: b, entityType: 'test', observations: ['second'] },
              ],
            });
            assert.ok(r.ok, `create_entities: ${r.text}\n${srv.stderr()}`);
            r = await callTool(srv.client, 'create_relations', { relations: [{ from: a, to: b, relationType: 'knows' }] });
            assert.ok(r.ok, `create_relations: ${r.text}`);
            r = await callTool(srv.client, 'read_graph', {});
            assert.ok(r.ok, r.text);
            const names = graphNames(r);
            assert.ok(names.includes(a) && names.includes(b), `graph lacks the new entities: ${names}`);
            r = await callTool(srv.client, 'search_nodes', { query: `made through ${form}` });
            assert.ok(r.ok && r.all.includes(a), `search_nodes: ${r.all}`);
            assert.deepEqual(srv.protocolErrors.map(String), [], 'stdout carried something other than JSON-RPC');
          } finally {
            await srv.close();
          }
          // After the jail is gone, the file on the host holds them, owned by the server's user.
          const text = fs.readFileSync(graphFile, 'utf8');
          assert.ok(text.includes(`"name":"${a}"`) && text.includes(`"from":"${a}"`), text);
          assert.equal(fs.statSync(graphFile).uid, ctx.jailUid);
          assert.equal(fs.readdirSync(path.dirname(graphFile)).length, 1, 'temporary files left beside the graph');
          stored.push(a, b);
        });

        test(`${form}: a new launch sees everything stored before, by either form`, async () => {
          assert.ok(stored.length > 0, 'nothing stored by an earlier test');
          const srv = await startServer(jailed(ctx, { profile: PROFILE, form, pkg: PKG }));
          try {
            const r = await callTool(srv.client, 'read_graph', {});
            assert.ok(r.ok, r.text);
            const names = graphNames(r);
            for (const n of stored) assert.ok(names.includes(n), `${n} missing after a restart: ${names}`);
          } finally {
            await srv.close();
          }
        });
      }

      test('the server cannot keep its graph anywhere else, not even elsewhere in its state directory', async () => {
        // A profile that extends memory and points the server elsewhere: at
        // its own state directory (only the memory/ directory below it is
        // bound) and at a host directory the server's user could write.
        const dir = mkTempDir('mcpjail-e2e-mem-', '/var/tmp');
        try {
          const out = path.join(dir, 'out');
          fs.mkdirSync(out, { mode: 0o755 });
          if (process.getuid() === 0) fs.chownSync(out, ctx.jailUid, ctx.jailGid);
          const name = 'e2e-memory-elsewhere';
          for (const file of ['${PROFILE_STATE}/memory.jsonl', `${out}/memory.jsonl`]) {
            const prof = path.join(dir, `${name}.toml`);
            fs.writeFileSync(prof, `version = 1\nname = "${name}"\nextends = "memory"\n[env]\nset = { MEMORY_FILE_PATH = "${file}" }\n`, { mode: 0o644 });
            const srv = await startServer(jailed(ctx, { profile: prof, form: 'node', pkg: PKG }));
            try {
              const r = await callTool(srv.client, 'create_entities', {
                entities: [{ name: `e2e-outside-${hex(4)}`, entityType: 'test', observations: ['x'] }],
              });
              assert.ok(!r.ok, `the server wrote ${file}: ${r.text}`);
              assert.match(r.text, /EROFS|EACCES|ENOENT|read-only|permission denied/i);
            } finally {
              await srv.close();
            }
          }
          assert.deepEqual(fs.readdirSync(out), [], 'a file appeared outside the graph directory');
          const own = path.join(ctx.stateHome, 'mcp-jail', name);
          assert.ok(!fs.existsSync(path.join(own, 'memory.jsonl')));
          // Control: the same server without the jail writes there.
          const plain = await startServer(bare(ctx, { pkg: PKG, env: { MEMORY_FILE_PATH: `${out}/memory.jsonl` } }));
          try {
            const r = await callTool(plain.client, 'create_entities', {
              entities: [{ name: 'e2e-control', entityType: 'test', observations: ['x'] }],
            });
            assert.ok(r.ok, `control failed, the test could not tell: ${r.text}`);
          } finally {
            await plain.close();
          }
          assert.ok(fs.readFileSync(`${out}/memory.jsonl`, 'utf8').includes('e2e-control'));
          fs.rmSync(own, { recursive: true, force: true });
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  }
}

jailSuite('mcp-jail: memory profile end to end', suite);
