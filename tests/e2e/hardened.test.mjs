// End-to-end: the filesystem server under the tightest settings a Node server
// can take - Landlock allowing only /usr/bin/node to be executed, and the
// "strict" seccomp base (no process creation, no exec after the first) -
// driven by the real SDK client. The tools still work; spawning a shell from
// inside the server fails.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/hardened.test.mjs
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { E2E_DIR, JAIL, jailSuite, mkTempDir, rmQuiet, startServer } from './jailed.mjs';

const SERVER = path.join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');

jailSuite('filesystem server with exec.allow = ["/usr/bin/node"] and seccomp base strict', () => {
  let dir, ws, profile, srv, client;
  before(async () => {
    dir = mkTempDir('mcpjail-hardened-');
    ws = path.join(dir, 'ws');
    fs.mkdirSync(ws, { mode: 0o755 });
    fs.writeFileSync(path.join(ws, 'hello.txt'), 'hello from the host');
    if (process.getuid() === 0) {
      fs.chownSync(ws, 65534, 65534);
      fs.chownSync(path.join(ws, 'hello.txt'), 65534, 65534);
    }
    profile = path.join(dir, 'hardened.toml');
    fs.writeFileSync(profile, [
      'version = 1',
      'extends = "filesystem"',
      '[exec]',
      'allow = ["/usr/bin/node"]',
      '[seccomp]',
      'base = "strict"',
      '',
    ].join('\n'));
    srv = await startServer({ command: JAIL, args: ['run', profile, '--var', `WORKSPACE=${ws}`, '--', process.execPath, SERVER, ws] });
    client = srv.client;
  });
  after(async () => {
    await srv?.close();
    rmQuiet(dir);
  });

  it('lists tools, reads and writes through the jail', async () => {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(tools.includes('read_text_file'));
    const r = await client.callTool({ name: 'read_text_file', arguments: { path: path.join(ws, 'hello.txt') } });
    assert.equal(r.isError, undefined);
    assert.equal(r.content[0].text, 'hello from the host');
    const w = await client.callTool({ name: 'write_file', arguments: { path: path.join(ws, 'out.txt'), content: 'strict' } });
    assert.notEqual(w.isError, true, JSON.stringify(w.content));
    assert.equal(fs.readFileSync(path.join(ws, 'out.txt'), 'utf8'), 'strict');
  });

  it('the audit log on stderr says which layers were applied', () => {
    const stderr = srv.stderr();
    const start = stderr.split('\n').filter((l) => l.includes('"event":"start"')).map((l) => JSON.parse(l))[0];
    assert.ok(start, stderr);
    for (const layer of ['landlock', 'seccomp-strict', 'read-only-root', 'no-capabilities']) assert.ok(start.layers.includes(layer), layer);
  });
});
