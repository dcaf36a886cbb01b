// End-to-end: @modelcontextprotocol/server-filesystem in a bundle written by
// `mcp-jail export oci filesystem`, run by the real runc over stdio (as an MCP
// host would: `runc run --bundle DIR ID` is the command), driven by the real
// MCP SDK client.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/export-oci.test.mjs
//
// Needs root (runc runs bundles as root here) and runc; skipped with the
// reason otherwise. The server runs as uid/gid 65534 (the profile's
// exec.user default). Checked: the workspace works (read, write, list; what
// it writes lands on the host), a host file outside it and a hidden file
// inside it are unreadable, each with a positive control: the same server
// without the bundle does hand both out.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { E2E_DIR, JAIL, NOBODY, hex, mkTempDir, rmQuiet, startServer, callTool } from './jailed.mjs';

const SERVER = path.join(E2E_DIR, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
const TIMEOUT = 60_000;

function skipReason() {
  if (process.getuid() !== 0) return 'runc runs bundles as root here; run the export tests as root';
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'runc is not installed (scripts/install-deps installs it)';
  }
  return null;
}

describe('the filesystem server in an exported OCI bundle under runc', () => {
  const skip = skipReason() ?? false;
  const dirs = [];
  const ids = [];
  let ws, outside, secret, secretText, envText, bundle;

  before(() => {
    if (skip) return;
    assert.ok(JAIL && path.isAbsolute(JAIL), `MCPJAIL_BIN must be an absolute path, got ${JAIL}`);
    assert.ok(fs.existsSync(SERVER), `server not installed: run "npm ci" in ${E2E_DIR}`);
    const base = mkTempDir('mcpjail-export-oci-');
    dirs.push(base);
    ws = path.join(base, 'ws');
    fs.mkdirSync(ws, { mode: 0o755 });
    fs.writeFileSync(path.join(ws, 'hello.txt'), 'hello from the host\n', { mode: 0o644 });
    // Hidden by the profile (filesystem.hide), world-readable on the host.
    envText = `MCPJAIL-EXPORT-WS-ENV-${hex(16)}`;
    fs.writeFileSync(path.join(ws, '.env'), envText, { mode: 0o644 });
    execFileSync('chown', ['-R', '-h', `${NOBODY}:${NOBODY}`, ws]);
    outside = mkTempDir('mcpjail-export-outside-');
    dirs.push(outside);
    secret = path.join(outside, 'secret.txt');
    secretText = `MCPJAIL-EXPORT-OUTSIDE-SECRET-${hex(16)}`;
    fs.writeFileSync(secret, secretText, { mode: 0o644 });
    bundle = path.join(base, 'bundle');
    // The server is told to allow the outside directory as well: only the
    // bundle keeps it out.
    execFileSync(JAIL, ['export', 'oci', 'filesystem', '--var', `WORKSPACE=${ws}`, '-o', bundle, '--',
      process.execPath, SERVER, ws, outside], { stdio: ['ignore', 'ignore', 'pipe'] });
  });

  after(() => {
    for (const id of ids) {
      try {
        execFileSync('runc', ['delete', '-f', id], { stdio: 'ignore' });
      } catch {
        // already gone
      }
    }
    for (const d of dirs) rmQuiet(d);
  });

  const runc = () => {
    const id = `mcpjail-export-e2e-${hex(6)}`;
    ids.push(id);
    return { command: 'runc', args: ['run', '--bundle', bundle, id], env: { PATH: process.env.PATH } };
  };

  it('control: the same server without the bundle hands out both secrets', { timeout: TIMEOUT, skip }, async () => {
    const bare = await startServer({ command: process.execPath, args: [SERVER, ws, outside], env: { PATH: process.env.PATH } });
    try {
      const a = await callTool(bare.client, 'read_text_file', { path: secret });
      assert.ok(a.ok, `control failed, the test could not detect a broken bundle: ${a.text}`);
      assert.equal(a.text, secretText);
      const b = await callTool(bare.client, 'read_text_file', { path: path.join(ws, '.env') });
      assert.ok(b.ok, b.text);
      assert.equal(b.text, envText);
    } finally {
      await bare.close();
    }
  });

  it('the workspace works and nothing else of the host is there', { timeout: TIMEOUT, skip }, async () => {
    let srv;
    try {
      srv = await startServer(runc());
    } catch (err) {
      assert.ok(!String(err.message).includes(secretText), 'the secret leaked through a failed start');
      throw err;
    }
    try {
      const { tools } = await srv.client.listTools();
      assert.ok(tools.some((t) => t.name === 'write_file'), 'write_file missing');

      const hello = await callTool(srv.client, 'read_text_file', { path: path.join(ws, 'hello.txt') });
      assert.ok(hello.ok, hello.text);
      assert.equal(hello.text, 'hello from the host\n');

      const name = `written-${hex(4)}.txt`;
      const content = `written inside the bundle ${hex()}\n`;
      const w = await callTool(srv.client, 'write_file', { path: path.join(ws, name), content });
      assert.ok(w.ok, `write_file failed: ${w.text}\n${srv.stderr()}`);
      assert.equal(fs.readFileSync(path.join(ws, name), 'utf8'), content);
      assert.equal(fs.statSync(path.join(ws, name)).uid, NOBODY);

      const l = await callTool(srv.client, 'list_directory', { path: ws });
      assert.ok(l.ok, l.text);
      assert.ok(l.text.split('\n').includes(`[FILE] ${name}`), l.text);

      for (const [tool, args] of [
        ['read_text_file', { path: secret }],
        ['read_file', { path: secret }],
        ['get_file_info', { path: secret }],
        ['read_text_file', { path: path.join(ws, '.env') }],
      ]) {
        const r = await callTool(srv.client, tool, args);
        assert.ok(!r.all.includes(secretText) && !r.all.includes(envText), `${tool} leaked: ${r.all}`);
        assert.ok(!r.ok, `${tool}(${args.path}) succeeded inside the bundle: ${r.text}`);
      }
      // Writing outside the workspace fails too (read-only root).
      const out = await callTool(srv.client, 'write_file', { path: path.join(outside, 'planted.txt'), content: 'x' });
      assert.ok(!out.ok, out.text);
      assert.ok(!fs.existsSync(path.join(outside, 'planted.txt')));
    } finally {
      await srv.close();
    }
  });

  it('the README lists what the bundle cannot express', { skip }, () => {
    const text = fs.readFileSync(path.join(bundle, 'README.md'), 'utf8');
    assert.match(text, /runc run --bundle /);
    for (const want of ['Landlock', 'audit', 'supervisor']) assert.ok(text.includes(want), `README lacks ${want}`);
    const cfg = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    assert.equal(cfg.process.user.uid, NOBODY);
    assert.equal(cfg.root.readonly, true);
    assert.equal(os.userInfo().uid, 0);
  });
});
