// End-to-end: three host configurations as users write them, each rewritten
// by `mcp-jail wrap`, and every wrapped entry started exactly as its host
// starts it (command, args, env from the wrapped file; VS Code's
// ${workspaceFolder} and ${input:...} filled in, Cursor's envFile loaded)
// and driven by the real MCP SDK client. Root and rootless.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/wrap-catalog.test.mjs
//
// Claude Desktop (mcpServers): filesystem (node), memory with
//   MEMORY_FILE_PATH, everything with a secret in "env", GitHub (npx; the
//   catalog's allowlist checked in `check`'s plan, never called: tests do not
//   reach public addresses).
// VS Code .vscode/mcp.json (servers, inputs): filesystem (npx) on
//   ${workspaceFolder}, sequential-thinking (npx, a profile of its own from
//   the catalog), the Python server of pyserver/ from a venv with a data
//   directory and a secret from ${input:...}. The configuration lies in the
//   filesystem server's workspace: the profiles wrap writes go below
//   XDG_CONFIG_HOME instead.
// Cursor .cursor/mcp.json (envFile): the Python server as `python -m` with
//   its data directory: a server the catalog does not know, whose written
//   profile is least privilege (`check`: no network, writes only its directory).
// Then `wrap` again changes nothing, in the configurations or the profiles.

import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  callTool, fillNpxCache, hex, jailSuite, mkTempDir, modeDefinitions, modeTest, prepareMode, serverEntry, spec,
  startServer, storeEntity,
} from './jailed.mjs';
import { PY, buildWheel, pythonSkipReason } from './pyvenv.mjs';

const FILES = '@modelcontextprotocol/server-filesystem';
const MEMORY = '@modelcontextprotocol/server-memory';
const EVERYTHING = '@modelcontextprotocol/server-everything';
const THINKING = '@modelcontextprotocol/server-sequential-thinking';
const TIMEOUT = 300_000;
const PATH_ENV = '/usr/local/bin:/usr/bin:/bin';

// Runs mcp-jail as the mode's launching user; returns { code, stdout, stderr }.
function jailCommand(ctx, args, env = {}) {
  const argv = [...ctx.prefix, ctx.jailBin, ...args];
  try {
    const stdout = execFileSync(argv[0], argv.slice(1), {
      env: { PATH: PATH_ENV, ...ctx.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8',
    });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    return { code: err.status, stdout: String(err.stdout), stderr: String(err.stderr) };
  }
}

// JSONC (line comments only, as written here) -> object.
const readConfig = (file) => JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, ''));

// What a host does with an entry before it starts it: `vars` filled into
// args and env (VS Code), envFile's lines added to env (Cursor).
function hostStart(ctx, entry, { vars = {}, dir = null } = {}) {
  const fill = (s) => s.replace(/\$\{([^}]+)\}/g, (m, name) => (name in vars ? vars[name] : m));
  const env = Object.fromEntries(Object.entries(entry.env ?? {}).map(([k, v]) => [k, fill(v)]));
  if (entry.envFile) {
    for (const line of fs.readFileSync(path.resolve(dir, entry.envFile), 'utf8').split('\n')) {
      const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
      if (m) env[m[1]] = m[2];
    }
  }
  const argv = [...ctx.prefix, fill(entry.command), ...(entry.args ?? []).map(fill)];
  return startServer({ command: argv[0], args: argv.slice(1), env: { ...ctx.env, ...env } });
}

// The profile a wrapped entry runs with: `run PROFILE ...`.
const profileOf = (entry) => entry.args[1];
const profileName = (file) => /^name = "([^"]+)"$/m.exec(fs.readFileSync(file, 'utf8'))[1];

// The summary of `mcp-jail check`: { network, writes } (writes without the jail's own tmpfs).
function planSummary(ctx, profile) {
  const c = jailCommand(ctx, ['check', profile]);
  assert.equal(c.code, 0, `check ${profile}: ${c.stderr}`);
  const line = (label) => {
    const m = new RegExp(`^  ${label} +(.*)$`, 'm').exec(c.stdout);
    assert.ok(m, `no "${label}" in the plan of ${profile}:\n${c.stdout}`);
    return m[1];
  };
  const writes = line('can write').split(/, (?![^(]*\))/).filter((w) => !w.includes('(tmpfs'));
  return { network: line('network'), writes, text: c.stdout };
}

function suite() {
  let work;
  let wheel;
  before(() => {
    work = mkTempDir('mcpjail-e2e-wrapcat-wheel-');
    wheel = buildWheel(work);
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;
      let dir;
      const cfg = {};
      const written = {};
      const p = {};

      before(() => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        dir = mkTempDir('mcpjail-e2e-wrapcat-');
        ctx.tempDirs.push(dir);
        for (const d of ['claude', 'project/.vscode', 'cursor/.cursor', 'xdg-config', 'ws-node', 'memory', 'pydata',
          'pydata-m']) {
          fs.mkdirSync(path.join(dir, d), { recursive: true });
        }
        p.wsNode = path.join(dir, 'ws-node');
        p.graph = path.join(dir, 'memory', 'graph.jsonl');
        p.project = path.join(dir, 'project');
        p.pydata = path.join(dir, 'pydata');
        p.pydataM = path.join(dir, 'pydata-m');
        p.xdg = path.join(dir, 'xdg-config');
        p.venv = path.join(dir, 'venv');
        p.secret = `secret-${hex(6)}`;
        p.leak = `leak-${hex(6)}`;
        execFileSync('chown', ['-R', `${ctx.host.uid}:${ctx.host.gid}`, dir]);
        // The venv: the launching user's, as pip installs it.
        const asUser = (argv) => {
          const full = [...ctx.prefix, ...argv];
          return execFileSync(full[0], full.slice(1), {
            env: { PATH: PATH_ENV, HOME: ctx.host.home, PIP_NO_CACHE_DIR: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
            stdio: ['ignore', 'pipe', 'pipe'], timeout: 240_000,
          });
        };
        asUser([PY, '-m', 'venv', '--without-pip', p.venv]);
        asUser([PY, '-m', 'pip', '--python', path.join(p.venv, 'bin', 'python'), 'install', '--no-index',
          '--no-build-isolation', '--no-compile', '--quiet', wheel]);

        cfg.claude = path.join(dir, 'claude', 'claude_desktop_config.json');
        fs.writeFileSync(cfg.claude, `${JSON.stringify({
          mcpServers: {
            files: { command: process.execPath, args: [serverEntry(ctx, FILES), p.wsNode] },
            memory: { command: process.execPath, args: [serverEntry(ctx, MEMORY)], env: { MEMORY_FILE_PATH: p.graph } },
            everything: {
              command: process.execPath, args: [serverEntry(ctx, EVERYTHING), 'stdio'],
              env: { EVERYTHING_TOKEN: p.secret },
            },
            github: {
              command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'],
              env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_not_a_real_token' },
            },
          },
        }, null, 2)}\n`);

        cfg.vscode = path.join(p.project, '.vscode', 'mcp.json');
        fs.writeFileSync(cfg.vscode, `{
  // this workspace's servers
  "inputs": [
    { "type": "promptString", "id": "py-token", "description": "Token", "password": true }
  ],
  "servers": {
    "project": { "type": "stdio", "command": "npx", "args": ["-y", ${JSON.stringify(spec(FILES))}, "\${workspaceFolder}"] },
    "think": { "type": "stdio", "command": "npx", "args": ["-y", ${JSON.stringify(spec(THINKING))}] },
    "py": {
      "type": "stdio",
      "command": ${JSON.stringify(path.join(p.venv, 'bin', 'mcpjail-pyserver'))},
      "args": [${JSON.stringify(p.pydata)}],
      "env": { "PY_TOKEN": "\${input:py-token}" }
    }
  }
}
`);

        cfg.cursor = path.join(dir, 'cursor', '.cursor', 'mcp.json');
        fs.writeFileSync(path.join(dir, 'cursor', '.cursor', '.env.mcp'), `PY_SECRET=${p.secret}\n`);
        fs.writeFileSync(cfg.cursor, `${JSON.stringify({
          mcpServers: {
            'py-m': {
              command: path.join(p.venv, 'bin', 'python'), args: ['-m', 'mcpjail_pyserver', p.pydataM], envFile: '.env.mcp',
            },
          },
        }, null, 2)}\n`);

        execFileSync('chown', ['-R', `${ctx.host.uid}:${ctx.host.gid}`, dir]);
        // What the servers write: the jail's user's (root launches run as 65534).
        execFileSync('chown', ['-R', `${ctx.jailUid}:${ctx.jailGid}`, p.wsNode, path.dirname(p.graph), p.project,
          p.pydata, p.pydataM]);
        execFileSync('chown', [`${ctx.host.uid}:${ctx.host.gid}`, path.join(p.project, '.vscode')]);
        for (const [k, f] of Object.entries(cfg)) written[k] = fs.readFileSync(f, 'utf8');
      });

      after(() => ctx?.cleanup());

      const test = modeTest({ ctx: () => ctx, timeout: TIMEOUT });
      const wrapEnv = () => ({ XDG_CONFIG_HOME: p.xdg, LEAKED_VAR: p.leak });

      test('wrap rewrites all three configurations and says what each server gets', () => {
        for (const [k, f] of Object.entries(cfg)) {
          const w = jailCommand(ctx, ['wrap', f], wrapEnv());
          assert.equal(w.code, 0, `${k}: ${w.stderr}`);
          written[k] = fs.readFileSync(f, 'utf8');
        }
        const claude = readConfig(cfg.claude).mcpServers;
        assert.deepEqual(claude.files.args.slice(0, 3), ['run', 'filesystem', '--var']);
        assert.deepEqual(claude.memory.args.slice(0, 2), ['run', 'memory']);
        assert.deepEqual(claude.everything.args.slice(0, 2), ['run', 'everything']);
        assert.ok(claude.everything.args.join(' ').includes('--env EVERYTHING_TOKEN --'));
        assert.equal(profileOf(claude.github), path.join(dir, 'claude', 'claude_desktop_config.mcp-jail', 'github.toml'));
        const vscode = readConfig(cfg.vscode).servers;
        assert.deepEqual(vscode.project.args.slice(0, 4), ['run', 'filesystem', '--var', 'WORKSPACE=${workspaceFolder}']);
        // In the filesystem server's workspace: the profiles are not beside the configuration.
        for (const name of ['think', 'py']) {
          const prof = profileOf(vscode[name]);
          assert.ok(prof.startsWith(`${p.xdg}/mcp-jail/wrap/mcp-`), `${name}: ${prof}`);
          assert.ok(fs.statSync(prof).isFile());
        }
        const cursor = readConfig(cfg.cursor).mcpServers;
        assert.equal(profileOf(cursor['py-m']), path.join(dir, 'cursor', '.cursor', 'mcp.mcp-jail', 'py-m.toml'));
        assert.ok(cursor['py-m'].args.join(' ').includes('--env PY_SECRET --'));
        // The secrets stay in env and envFile: never in the arguments or the profiles.
        for (const f of [cfg.claude, cfg.vscode, cfg.cursor]) {
          const entries = Object.values(readConfig(f).mcpServers ?? readConfig(f).servers);
          for (const e of entries) assert.ok(!e.args.join(' ').includes(p.secret));
        }
      });

      test('GitHub: its profile lets it reach api.github.com:443 and nothing else (plan only)', () => {
        const prof = profileOf(readConfig(cfg.claude).mcpServers.github);
        const plan = planSummary(ctx, prof);
        assert.match(plan.network, /^allowlist: api\.github\.com:443;/);
        assert.deepEqual(plan.writes, []);
        assert.match(plan.text, /^ {2}allow {6}api\.github\.com:443 /m);
      });

      test('filesystem (node) writes its directory; memory keeps its graph at MEMORY_FILE_PATH', async () => {
        const claude = readConfig(cfg.claude).mcpServers;
        let srv = await hostStart(ctx, claude.files);
        try {
          let r = await callTool(srv.client, 'write_file', { path: path.join(p.wsNode, 'note.txt'), content: 'kept' });
          assert.ok(r.ok, `write_file: ${r.text}\n${srv.stderr()}`);
          r = await callTool(srv.client, 'write_file', { path: path.join(dir, 'outside.txt'), content: 'no' });
          assert.ok(!r.ok, 'a write outside the allowed directory succeeded');
        } finally {
          await srv.close();
        }
        assert.equal(fs.readFileSync(path.join(p.wsNode, 'note.txt'), 'utf8'), 'kept');
        assert.ok(!fs.existsSync(path.join(dir, 'outside.txt')));

        const name = `wrapcat-${hex(4)}`;
        srv = await hostStart(ctx, claude.memory);
        try {
          await storeEntity(srv, name, 'through wrap');
        } finally {
          await srv.close();
        }
        assert.ok(fs.readFileSync(p.graph, 'utf8').includes(name), 'the graph is not at MEMORY_FILE_PATH');
      });

      test('everything: the secret of its "env" reaches it, the rest of the host environment does not', async () => {
        const entry = readConfig(cfg.claude).mcpServers.everything;
        const srv = await hostStart(ctx, { ...entry, env: { ...entry.env, LEAKED_VAR: p.leak } });
        try {
          const r = await callTool(srv.client, 'get-env', {});
          assert.ok(r.ok, `get-env: ${r.text}\n${srv.stderr()}`);
          const env = JSON.parse(r.text);
          assert.equal(env.EVERYTHING_TOKEN, p.secret);
          assert.ok(!JSON.stringify(env).includes(p.leak), 'a variable the entry does not set reached the server');
        } finally {
          await srv.close();
        }
      });

      test('VS Code: filesystem (npx) on ${workspaceFolder}, sequential-thinking (npx), a venv server', async () => {
        const vscode = readConfig(cfg.vscode).servers;
        const vars = { workspaceFolder: p.project, 'input:py-token': p.secret };
        fillNpxCache(ctx, 'filesystem', spec(FILES));
        let srv = await hostStart(ctx, vscode.project, { vars });
        try {
          const r = await callTool(srv.client, 'write_file', { path: path.join(p.project, 'from-npx.txt'), content: 'npx' });
          assert.ok(r.ok, `write_file: ${r.text}\n${srv.stderr()}`);
        } finally {
          await srv.close();
        }
        assert.equal(fs.readFileSync(path.join(p.project, 'from-npx.txt'), 'utf8'), 'npx');

        // Its own profile, its own npm cache: filled as wrap's note says.
        const think = profileOf(vscode.think);
        fillNpxCache(ctx, profileName(think), spec(THINKING));
        srv = await hostStart(ctx, vscode.think, { vars });
        try {
          const r = await callTool(srv.client, 'sequentialthinking', {
            thought: 'wrapped', nextThoughtNeeded: false, thoughtNumber: 1, totalThoughts: 1,
          });
          assert.ok(r.ok, `sequentialthinking: ${r.text}\n${srv.stderr()}`);
        } finally {
          await srv.close();
        }
        const plan = planSummary(ctx, think);
        assert.match(plan.network, /^none/);
        assert.deepEqual(plan.writes, []);

        srv = await hostStart(ctx, vscode.py, { vars });
        try {
          const r = await callTool(srv.client, 'write_and_read', { name: 'vscode.txt', text: 'from the venv' });
          assert.ok(r.ok, `write_and_read: ${r.text}\n${srv.stderr()}`);
        } finally {
          await srv.close();
        }
        assert.equal(fs.readFileSync(path.join(p.pydata, 'vscode.txt'), 'utf8'), 'from the venv');
      });

      test('Cursor: python -m with an envFile; its written profile is least privilege', async () => {
        const entry = readConfig(cfg.cursor).mcpServers['py-m'];
        const srv = await hostStart(ctx, entry, { dir: path.dirname(cfg.cursor) });
        try {
          const r = await callTool(srv.client, 'write_and_read', { name: 'cursor.txt', text: 'python -m' });
          assert.ok(r.ok, `write_and_read: ${r.text}\n${srv.stderr()}`);
        } finally {
          await srv.close();
        }
        assert.equal(fs.readFileSync(path.join(p.pydataM, 'cursor.txt'), 'utf8'), 'python -m');
        const prof = profileOf(entry);
        const plan = planSummary(ctx, prof);
        assert.match(plan.network, /^none/);
        assert.deepEqual(plan.writes, [p.pydataM]);
        const text = fs.readFileSync(prof, 'utf8');
        assert.match(text, /mcp-jail learn -o /);
        assert.ok(!text.includes(p.secret));
      });

      test('wrap again changes nothing: configurations and profiles stay as they are', () => {
        const profiles = [
          profileOf(readConfig(cfg.claude).mcpServers.github),
          profileOf(readConfig(cfg.vscode).servers.think),
          profileOf(readConfig(cfg.vscode).servers.py),
          profileOf(readConfig(cfg.cursor).mcpServers['py-m']),
        ];
        const before = profiles.map((f) => [fs.readFileSync(f, 'utf8'), fs.statSync(f).mtimeMs]);
        for (const [k, f] of Object.entries(cfg)) {
          const w = jailCommand(ctx, ['wrap', f], wrapEnv());
          assert.equal(w.code, 0, `${k}: ${w.stderr}`);
          assert.equal(fs.readFileSync(f, 'utf8'), written[k]);
        }
        assert.deepEqual(profiles.map((f) => [fs.readFileSync(f, 'utf8'), fs.statSync(f).mtimeMs]), before);
      });
    });
  }
}

jailSuite('mcp-jail wrap: catalog servers and servers it does not know, as hosts start them', suite,
  { skip: pythonSkipReason() });
