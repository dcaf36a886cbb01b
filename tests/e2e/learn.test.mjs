// End-to-end test of `mcp-jail learn`: the reference filesystem server run
// through `learn` by the real SDK client (tools listed, a file read, one
// written, the directory listed), the profile it writes, then `run` with
// that profile doing the same session, and `check` of it: writes only in the
// workspace, network none. Credentials planted in the workspace and the
// home stay unread while learning and are not granted. Two sessions with
// different tools widen one file; a third identical one leaves it as it is.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/learn.test.mjs

import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  E2E_DIR, callTool, eventually, helloWorkspace, hex, jailSuite, mkTempDir, modeDefinitions, modeTest, prepareMode,
  runCollect, serverEntry, serverFile, startServer, withServer,
} from './jailed.mjs';

const PKG = '@modelcontextprotocol/server-filesystem';
const TEST_TIMEOUT = 120_000;
const HOOK_TIMEOUT = 120_000;

function prepareLearnMode(kind) {
  const ctx = prepareMode(kind);
  if (ctx.skip) return ctx;
  ctx.helloText = `hello from the host ${hex()}\n`;
  ctx.ws = helloWorkspace(ctx, 'mcpjail-e2e-learn-', ctx.helloText);
  const base = path.dirname(ctx.ws);
  // A credential in the workspace: hidden while learning, hidden in the result.
  ctx.envSecret = `MCPJAIL-E2E-ENV-SECRET-${hex(16)}`;
  fs.writeFileSync(path.join(ctx.ws, '.env'), `TOKEN=${ctx.envSecret}\n`, { mode: 0o644 });
  // Where the profiles go: writable by the launching user.
  ctx.out = path.join(base, 'out');
  fs.mkdirSync(ctx.out, { mode: 0o755 });
  if (process.getuid() === 0) {
    execFileSync('chown', ['-R', `${ctx.jailUid}:${ctx.jailGid}`, ctx.ws]);
    fs.chownSync(ctx.out, ctx.host.uid, ctx.host.gid);
  }
  ctx.entry = serverEntry(ctx, PKG);
  return ctx;
}

const jailArgv = (ctx, args) => {
  const argv = [...ctx.prefix, ctx.jailBin, ...args];
  return { command: argv[0], args: argv.slice(1), env: ctx.env };
};

// One session of the server through `learn` (or `run`): `fn` drives the
// client; resolves once mcp-jail has exited, with its stderr.
async function session(ctx, jailArgs, fn) {
  const server = [process.execPath, ctx.entry, ctx.ws];
  const spec = jailArgv(ctx, [...jailArgs, '--', ...server]);
  const srv = await withServer(spec, async (s) => {
    await fn(s.client);
    return s;
  });
  return srv.stderr();
}

const learnArgs = (file) => ['learn', '-o', file, '--name', 'fs-learned'];

async function readWriteList(client, ctx, name) {
  const { tools } = await client.listTools();
  assert.ok(tools.some((t) => t.name === 'write_file'), 'no write_file tool');
  const r = await callTool(client, 'read_text_file', { path: path.join(ctx.ws, 'hello.txt') });
  assert.ok(r.ok, r.text);
  assert.equal(r.text, ctx.helloText);
  const content = `written ${hex()}\n`;
  const w = await callTool(client, 'write_file', { path: path.join(ctx.ws, name), content });
  assert.ok(w.ok, w.text);
  assert.equal(fs.readFileSync(path.join(ctx.ws, name), 'utf8'), content, 'the write did not reach the host');
  const l = await callTool(client, 'list_directory', { path: ctx.ws });
  assert.ok(l.ok, l.text);
  assert.ok(l.text.includes('[FILE] hello.txt'), l.text);
  const s = await callTool(client, 'read_text_file', { path: path.join(ctx.ws, '.env') });
  assert.ok(!s.all.includes(ctx.envSecret), `the workspace's .env was read: ${s.all}`);
}

// The [filesystem] arrays of a learned profile: { read: [...], write: [...] }.
function arrays(text) {
  const out = {};
  let key = null;
  for (const line of text.split('\n')) {
    const m = /^([a-z]+) = \[$/.exec(line);
    if (m) key = m[1];
    else if (line === ']') key = null;
    else if (key) {
      const v = /^ {2}"((?:[^"\\]|\\.)*)",/.exec(line);
      if (v) (out[key] ??= []).push(v[1]);
    }
  }
  return out;
}

// What `check` says a profile lets the server write (host paths, not the
// jail's tmpfs), run and reach.
async function planSummary(ctx, profile, server, options = []) {
  const spec = jailArgv(ctx, ['check', profile, ...options, '--', ...server]);
  const r = await runCollect(spec.command, spec.args, { env: spec.env });
  assert.equal(r.code, 0, r.stderr);
  const line = (k) => new RegExp(`^ {2}${k} +(.*)$`, 'm').exec(r.stdout)?.[1] ?? '';
  return { write: line('can write').split(/, (?=\/)/).filter((w) => !w.includes('(tmpfs')),
    run: line('can run'), network: line('network') };
}

// `server` learned into `file` (`drive` leading the session), the profile
// checked by `learned(text)`, then run with it (`rerun` leading the session);
// its probe passes, and its plan has no more writable host paths, the same
// network and programs as the built-in profile `builtin`.
async function learnRunProbe(ctx, { server, file, builtin, learnArgs, drive, learned, rerun }) {
  const srv = await withServer(jailArgv(ctx, ['learn', '-o', file, ...learnArgs, '--', ...server]), async (s) => {
    await drive(s.client);
    return s;
  });
  assert.ok(await eventually(() => fs.existsSync(file)), srv.stderr());
  learned(fs.readFileSync(file, 'utf8'));
  await withServer(jailArgv(ctx, ['run', file, '--', ...server]), (s) => rerun(s.client));
  const probe = jailArgv(ctx, ['probe', file]);
  const p = await runCollect(probe.command, probe.args, { env: probe.env, timeout: 120_000 });
  assert.equal(p.code, 0, `probe of the learned profile:\n${p.stdout}${p.stderr}`);
  const mine = await planSummary(ctx, file, server);
  const theirs = await planSummary(ctx, builtin, server);
  assert.ok(mine.write.length <= theirs.write.length, `${mine.write} vs ${theirs.write}`);
  assert.equal(mine.network, theirs.network);
  assert.equal(mine.run, theirs.run);
}

function suite() {
  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      let ctx;
      before(() => {
        ctx = prepareLearnMode(mode.kind);
      }, { timeout: HOOK_TIMEOUT });
      after(() => ctx?.cleanup());
      const test = modeTest({ ctx: () => ctx, timeout: TEST_TIMEOUT });

      test('learn, then run the same session with the learned profile; check shows writes only in the workspace', async () => {
        const file = path.join(ctx.out, 'fs.learned.toml');
        const stderr = await session(ctx, learnArgs(file), (c) => readWriteList(c, ctx, `learned-${hex(4)}.txt`));
        assert.ok(await eventually(() => fs.existsSync(file)), `no profile written:\n${stderr}`);
        const text = fs.readFileSync(file, 'utf8');
        const a = arrays(text);
        assert.deepEqual(a.write, [ctx.ws], `write is not the workspace alone:\n${text}`);
        assert.match(text, /^mode = "none"/m);
        assert.match(text, /^extends = "base"$/m);
        for (const key of ['read', 'write', 'allow']) {
          for (const v of a[key] ?? []) {
            const line = text.split('\n').find((l) => l.startsWith(`  "${v}",`));
            assert.match(line, /, {2}# \d+ /, `an entry without its evidence: ${line}`);
          }
        }
        for (const r of a.read ?? []) {
          assert.notEqual(r, '/');
          assert.notEqual(r, ctx.host.home);
        }
        assert.ok(a.hide?.includes(`${path.join(ctx.ws, '.env')}`), `the workspace's .env is not hidden:\n${text}`);

        // check: what it can write and reach.
        const check = await runCollect(jailArgv(ctx, []).command,
          [...jailArgv(ctx, ['check', file, '--', process.execPath, ctx.entry, ctx.ws]).args], { env: ctx.env });
        assert.equal(check.code, 0, check.stderr);
        const canWrite = /^ {2}can write {2}(.*)$/m.exec(check.stdout);
        assert.ok(canWrite, check.stdout);
        for (const w of canWrite[1].split(/, (?=\/)/)) {
          assert.ok(w === ctx.ws || w.includes('(tmpfs'), `writable outside the workspace: ${w}\n${check.stdout}`);
        }
        assert.match(check.stdout, /^ {2}network {4}none/m, check.stdout);

        const probe = jailArgv(ctx, ['probe', file]);
        const p = await runCollect(probe.command, probe.args, { env: probe.env, timeout: 120_000 });
        assert.equal(p.code, 0, `probe of the learned profile:\n${p.stdout}${p.stderr}`);
        const learned = await planSummary(ctx, file, [process.execPath, ctx.entry, ctx.ws]);
        const builtin = await planSummary(ctx, 'filesystem', [process.execPath, ctx.entry, ctx.ws],
          ['--var', `WORKSPACE=${ctx.ws}`]);
        assert.ok(learned.write.length <= builtin.write.length, `${learned.write} vs ${builtin.write}`);
        assert.equal(learned.network, builtin.network);

        // run with the learned profile: the same session works.
        await session(ctx, ['run', file], (c) => readWriteList(c, ctx, `run-${hex(4)}.txt`));
      });

      test('sessions accumulate: a different session widens the file, an identical one leaves it byte-identical', async () => {
        const file = path.join(ctx.out, 'acc.learned.toml');
        // 1: only list the tools.
        await session(ctx, learnArgs(file), async (c) => {
          await c.listTools();
        });
        assert.ok(await eventually(() => fs.existsSync(file)));
        const first = fs.readFileSync(file, 'utf8');
        assert.ok(!(arrays(first).write ?? []).includes(ctx.ws), `nothing was written, yet:\n${first}`);
        // 2: write a file: the workspace becomes writable.
        const mtime = fs.statSync(file).mtimeMs;
        await session(ctx, learnArgs(file), (c) => readWriteList(c, ctx, 'acc.txt'));
        assert.ok(await eventually(() => fs.statSync(file).mtimeMs !== mtime));
        const second = fs.readFileSync(file, 'utf8');
        assert.deepEqual(arrays(second).write, [ctx.ws], second);
        // 3: the same session as 2 (the same file name).
        await session(ctx, learnArgs(file), (c) => readWriteList(c, ctx, 'acc.txt'));
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(fs.readFileSync(file, 'utf8'), second, 'an identical session changed the file');
      });

      test('a hostile server learned: the host unchanged, its secrets unread, nothing escape-class granted', async () => {
        const base = mkTempDir('mcpjail-e2e-learn-hostile-');
        ctx.tempDirs.push(base);
        const ws = path.join(base, 'ws');
        fs.mkdirSync(path.join(ws, 'notes'), { recursive: true, mode: 0o755 });
        const home = fs.mkdtempSync('/var/tmp/mcpjail-e2e-learn-home-');
        ctx.tempDirs.push(home);
        fs.chmodSync(home, 0o755);
        const secrets = [`ID-RSA-${hex(16)}`, `AWS-${hex(16)}`, `PEM-${hex(16)}`, `DOTENV-${hex(16)}`];
        const put = (f, t) => {
          fs.mkdirSync(path.dirname(f), { recursive: true, mode: 0o755 });
          fs.writeFileSync(f, t, { mode: 0o644 });
        };
        put(path.join(home, '.ssh', 'id_rsa'), secrets[0]);
        put(path.join(home, '.aws', 'credentials'), secrets[1]);
        put(path.join(home, 'secrets', 'deploy.pem'), secrets[2]);
        put(path.join(ws, '.env'), secrets[3]);
        put(path.join(home, '.bashrc'), '# bashrc\n');
        if (process.getuid() === 0) {
          execFileSync('chown', ['-R', `${ctx.host.uid}:${ctx.host.gid}`, home]);
          execFileSync('chown', ['-R', `${ctx.jailUid}:${ctx.jailGid}`, ws]);
        }
        const tag = hex(4);
        const file = path.join(ctx.out, 'hostile.learned.toml');
        const server = serverFile(ctx, 'hostile-server.mjs');
        const spec = jailArgv(ctx, ['learn', '-o', file, '--name', 'hostile', '--', process.execPath, server, ws, tag, home]);
        const srv = await startServer({ ...spec, env: { ...spec.env, HOME: home } });
        let report;
        try {
          const l = await callTool(srv.client, 'list_files', {});
          assert.ok(l.ok, l.text);
          report = await callTool(srv.client, 'report', {});
        } finally {
          await srv.close();
        }
        for (const t of secrets) assert.ok(!report.all.includes(t), `a secret was read while learning:\n${report.all}`);
        const outside = [`/etc/cron.d/mcp-health-${tag}`, `/var/spool/cron/crontabs/mcp-${tag}`,
          `/usr/local/bin/health-check-${tag}`, path.join(ws, '.envrc'), path.join(ws, '.mcp.json'),
          path.join(ws, '.vscode'), path.join(ws, '.git')];
        for (const f of outside) assert.ok(!fs.existsSync(f), `${f} was created while learning`);
        assert.equal(fs.readFileSync(path.join(home, '.bashrc'), 'utf8'), '# bashrc\n', '~/.bashrc changed');

        assert.ok(await eventually(() => fs.existsSync(file)), `no profile written:\n${srv.stderr()}`);
        const text = fs.readFileSync(file, 'utf8');
        const a = arrays(text);
        for (const v of [...(a.read ?? []), ...(a.write ?? []), ...(a.allow ?? [])]) {
          assert.ok(v !== '/' && v !== home && !v.includes('/.ssh') && !v.includes('/.aws') && !v.endsWith('.pem') &&
            !v.endsWith('/.env') && !v.startsWith('/etc') && !v.startsWith('/usr/local/bin') && !v.startsWith('/var/spool'),
          `the learned profile grants ${v}:\n${text}`);
        }
        assert.match(text, /^mode = "none"/m);
      });

      test('the throw-away layer: writes succeed inside, the host tree stays byte-identical, --write reaches the host; a path only looked at is read', async () => {
        // Root launches run the server as nobody: its tree below /var/tmp.
        // Rootless ones below the user's home (a copy-up below /var/tmp, which
        // root owns, fails in the user namespace).
        const base = process.getuid() === 0 && ctx.kind === 'root'
          ? fs.mkdtempSync('/var/tmp/mcpjail-e2e-layer-')
          : fs.mkdtempSync(path.join(ctx.host.home, 'mcpjail-e2e-layer-'));
        ctx.tempDirs.push(base);
        const tree = path.join(base, 'tree');
        const wdir = path.join(base, 'w');
        const bin = path.join(base, 'bin');
        const flag = path.join(base, 'conf', 'flag.json');
        for (const d of [path.join(tree, 'sub'), wdir, bin, path.dirname(flag)]) fs.mkdirSync(d, { recursive: true, mode: 0o755 });
        fs.writeFileSync(path.join(tree, 'keep.txt'), `kept ${hex()}\n`, { mode: 0o644 });
        fs.writeFileSync(path.join(tree, 'gone.txt'), 'to be removed inside\n', { mode: 0o644 });
        fs.writeFileSync(path.join(tree, 'sub', 'deep.txt'), 'deep\n', { mode: 0o600 });
        fs.writeFileSync(flag, '{}\n', { mode: 0o644 });
        // The tree is not on the command line (that would make it writable on
        // the host): the script names it.
        const script = path.join(bin, 'layer.cjs');
        fs.writeFileSync(script, `const fs = require('fs');
const tree = ${JSON.stringify(tree)};
const out = [];
fs.writeFileSync(tree + '/keep.txt', 'changed inside\\n');
out.push('overwrite=' + fs.readFileSync(tree + '/keep.txt', 'utf8').trim().replace(' ', '_'));
fs.mkdirSync(tree + '/made/deeper', { recursive: true });
fs.writeFileSync(tree + '/made/deeper/new.txt', 'new\\n');
out.push('create=' + fs.readFileSync(tree + '/made/deeper/new.txt', 'utf8').trim());
fs.rmSync(tree + '/gone.txt');
out.push('unlink=' + !fs.existsSync(tree + '/gone.txt'));
fs.appendFileSync(tree + '/sub/deep.txt', 'more\\n');
out.push('append=' + fs.readFileSync(tree + '/sub/deep.txt', 'utf8').split('\\n').length);
fs.writeFileSync(${JSON.stringify(path.join(wdir, 'through.txt'))}, 'through\\n');
out.push('looked=' + fs.existsSync(${JSON.stringify(flag)}));
process.stderr.write('LAYER ' + out.join(' ') + '\\n');
`, { mode: 0o644 });
        if (process.getuid() === 0) execFileSync('chown', ['-R', `${ctx.jailUid}:${ctx.jailGid}`, base]);
        const snapshot = () => {
          const out = [];
          const walk = (d) => {
            for (const n of fs.readdirSync(d).sort()) {
              const f = path.join(d, n);
              const st = fs.lstatSync(f);
              out.push([path.relative(tree, f), st.mode, st.uid, st.gid, st.size, st.mtimeMs,
                st.isFile() ? fs.readFileSync(f, 'hex') : ''].join(' '));
              if (st.isDirectory()) walk(f);
            }
          };
          walk(tree);
          const st = fs.lstatSync(tree);
          return [st.mode, st.uid, st.mtimeMs, ...out].join('\n');
        };
        const before = snapshot();
        const file = path.join(ctx.out, 'layer.learned.toml');
        const spec = jailArgv(ctx, ['learn', '-o', file, '--name', 'layer', '--read', bin, '--write', wdir, '--',
          process.execPath, script]);
        const r = await runCollect(spec.command, spec.args, { env: spec.env });
        assert.equal(r.code, 0, r.stderr);
        // Inside, every write succeeded.
        assert.match(r.stderr, /^LAYER overwrite=changed_inside create=new unlink=true append=3 looked=true$/m, r.stderr);
        // The host's tree is as it was, byte for byte; the --write path got its file.
        assert.equal(snapshot(), before, 'the host tree changed while learning');
        assert.ok(!fs.existsSync(path.join(tree, 'made')), 'a directory made inside reached the host');
        assert.equal(fs.readFileSync(path.join(wdir, 'through.txt'), 'utf8'), 'through\n', 'the --write path was not written');
        // Recorded: the tree as written, with evidence; the flag only looked at.
        const text = fs.readFileSync(file, 'utf8');
        const a = arrays(text);
        assert.ok((a.write ?? []).includes(tree), `the layered tree is not in write:\n${text}`);
        assert.match(text, new RegExp(`^ {2}"${tree}",  # [0-9]+ writes, e\\.g\\. ${tree}/`, 'm'));
        assert.ok((a.write ?? []).includes(wdir), text);
        assert.match(text, new RegExp(`^ {2}"${flag}",  # [0-9]+ existence checks?$`, 'm'), text);
      });

      test('a layer that cannot be mounted stops the launch: 125 naming the layer, the cause and the fix', async (t) => {
        if (ctx.kind !== 'root') return t.skip('needs root to stack overlays in a mount namespace of its own');
        // Two overlays stacked on a top-level directory (in a private mount
        // namespace that only this test's processes share): a third, the
        // layer over it, exceeds the kernel's stacking depth.
        const top = ['/srv', '/media', '/opt', '/mnt'].find((d) => fs.existsSync(d) && fs.lstatSync(d).isDirectory());
        if (!top) return t.skip('no /srv, /media, /opt or /mnt directory to stack overlays on');
        const base = fs.mkdtempSync('/var/tmp/mcpjail-e2e-layer-fail-');
        ctx.tempDirs.push(base);
        for (const d of ['low', 'u1', 'w1', 'l1', 'u2', 'w2']) fs.mkdirSync(path.join(base, d), { mode: 0o755 });
        fs.writeFileSync(path.join(base, 'low', 'f.txt'), 'f\n', { mode: 0o644 });
        const file = path.join(ctx.out, 'stacked.learned.toml');
        const inner = `const { execFileSync, spawnSync } = require('child_process');
const [base, top, bin, file] = process.argv.slice(1);
execFileSync('mount', ['-t', 'overlay', 'o1', '-o', 'lowerdir=' + base + '/low,upperdir=' + base + '/u1,workdir=' + base + '/w1', base + '/l1']);
execFileSync('mount', ['-t', 'overlay', 'o2', '-o', 'lowerdir=' + base + '/l1,upperdir=' + base + '/u2,workdir=' + base + '/w2', top]);
const r = spawnSync(bin, ['learn', '-o', file, '--name', 'stacked', '--', '/bin/true'], { encoding: 'utf8' });
process.stderr.write(r.stderr);
process.exit(r.status ?? 99);
`;
        const r = await runCollect('unshare', ['-m', '--propagation', 'private', '--', process.execPath, '-e', inner, base,
          top, ctx.jailBin, file], { env: ctx.env });
        assert.equal(r.code, 125, r.stderr);
        assert.match(r.stderr, new RegExp(`the throw-away layer over ${top} \\(an overlay: lower ${top} read-only`), r.stderr);
        assert.match(r.stderr, /cannot be mounted: .*Fixes: .*--write/, r.stderr);
        // The positive control: without the stacked mounts, the same learn runs.
        const ok = jailArgv(ctx, ['learn', '-o', path.join(ctx.out, 'unstacked.learned.toml'), '--name', 'unstacked',
          '--', '/bin/true']);
        const r2 = await runCollect(ok.command, ok.args, { env: ok.env });
        assert.equal(r2.code, 0, r2.stderr);
      });

      test('escape-class calls a server tries are reported in the profile, never granted', async () => {
        const file = path.join(ctx.out, 'unshare.learned.toml');
        const spec = jailArgv(ctx, ['learn', '-o', file, '--', '/usr/bin/unshare', '--user', '--map-root-user', 'true']);
        const r = await runCollect(spec.command, spec.args, { env: spec.env });
        assert.equal(r.code, 125, r.stderr);  // unshare fails: the server "crashed"
        const text = fs.readFileSync(file, 'utf8');
        assert.match(text, /^# not granted \(escape class\): unshare, \d+ calls?$/m, text);
        assert.ok(!(arrays(text).allow ?? []).includes('unshare'), text);
        assert.doesNotMatch(text, /^\[seccomp\]/m, text);
      });

      test('--exercise: mcp-jail is the client; the start-up profile runs the server under run', async () => {
        const file = path.join(ctx.out, 'exercise.learned.toml');
        const spec = jailArgv(ctx, ['learn', '--exercise', '-o', file, '--', process.execPath, ctx.entry, ctx.ws]);
        const r = await runCollect(spec.command, spec.args, { env: spec.env });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, '', 'the server\'s answers reached the terminal');
        const text = fs.readFileSync(file, 'utf8');
        assert.ok(!(arrays(text).write ?? []).includes(ctx.ws), `listing wrote nothing:\n${text}`);
        await session(ctx, ['run', file], async (c) => {
          const { tools } = await c.listTools();
          assert.ok(tools.some((t) => t.name === 'read_text_file'));
        });
      });

      test('--exercise with a program that does not speak MCP: 125 and a note', async () => {
        const file = path.join(ctx.out, 'silent.learned.toml');
        const spec = jailArgv(ctx, ['learn', '--exercise', '-o', file, '--', process.execPath, '-e',
          'process.stdin.resume(); setTimeout(() => {}, 600000)']);
        const r = await runCollect(spec.command, spec.args, { env: spec.env, timeout: 90_000 });
        assert.equal(r.code, 125, r.stderr);
        assert.match(r.stderr, /never answered initialize/);
        assert.match(fs.readFileSync(file, 'utf8'), /^# note: the server never answered initialize/m);
      });

      test('memory server: the learned profile runs the same session, no wider than the built-in memory profile', async () => {
        const base = mkTempDir('mcpjail-e2e-learn-mem-');
        ctx.tempDirs.push(base);
        const gdir = path.join(base, 'graph');
        fs.mkdirSync(gdir, { mode: 0o755 });
        if (process.getuid() === 0) fs.chownSync(gdir, ctx.jailUid, ctx.jailGid);
        const entry = serverEntry(ctx, '@modelcontextprotocol/server-memory');
        const file = path.join(ctx.out, 'mem.learned.toml');
        const server = [process.execPath, entry];
        const opts = ['--write', gdir, '--env', `MEMORY_FILE_PATH=${gdir}/memory.jsonl`];
        const name = `e2e-${hex(4)}`;
        const drive = async (c) => {
          const r = await callTool(c, 'create_entities', { entities: [{ name, entityType: 'test', observations: ['x'] }] });
          assert.ok(r.ok, r.text);
          const g = await callTool(c, 'read_graph', {});
          assert.ok(g.ok && g.all.includes(name), g.all);
        };
        await learnRunProbe(ctx, {
          server, file, builtin: 'memory', learnArgs: ['--name', 'mem-learned', ...opts], drive,
          learned: (text) => {
            assert.deepEqual(arrays(text).write, [gdir], text);
            assert.match(text, /^set = \{ MEMORY_FILE_PATH = /m, text);
          },
          // run: the same session, the graph kept on the host.
          rerun: async (c) => {
            const g = await callTool(c, 'read_graph', {});
            assert.ok(g.ok && g.all.includes(name), g.all);
            await drive(c);
          },
        });
      });

      test('everything server: learned, run, probed, no wider than the built-in everything profile', async () => {
        const server = [process.execPath, serverEntry(ctx, '@modelcontextprotocol/server-everything'), 'stdio'];
        const file = path.join(ctx.out, 'everything.learned.toml');
        const drive = async (c) => {
          const msg = `hello ${hex(4)}`;
          let r = await callTool(c, 'echo', { message: msg });
          assert.ok(r.ok && r.text.includes(msg), r.all);
          r = await callTool(c, 'get-sum', { a: 19, b: 23 });
          assert.ok(r.ok && /\b42\b/.test(r.text), r.all);
          await c.listResources();
          await c.listPrompts();
        };
        await learnRunProbe(ctx, {
          server, file, builtin: 'everything', learnArgs: ['--name', 'everything-learned'], drive, rerun: drive,
          learned: (text) => assert.equal(arrays(text).write, undefined, text),
        });
      });

      test('an existing file that is not a learned profile is refused (125) and left as it is', async () => {
        const file = path.join(ctx.out, 'mine.toml');
        fs.writeFileSync(file, 'version = 1\nname = "mine"\n', { mode: 0o666 });
        const spec = jailArgv(ctx, [...learnArgs(file), '--', process.execPath, ctx.entry, ctx.ws]);
        const r = await runCollect(spec.command, spec.args, { env: spec.env });
        assert.equal(r.code, 125, r.stderr);
        assert.match(r.stderr, /not a profile written by mcp-jail learn/);
        assert.equal(fs.readFileSync(file, 'utf8'), 'version = 1\nname = "mine"\n');
      });

      test('a server that fails: 125, and what was observed is written with a note', async () => {
        const file = path.join(ctx.out, 'fail.learned.toml');
        const spec = jailArgv(ctx, [...learnArgs(file), '--', process.execPath, '-e', 'process.exit(3)']);
        const r = await runCollect(spec.command, spec.args, { env: spec.env });
        assert.equal(r.code, 125, r.stderr);
        assert.match(r.stderr, /ended with status 3/);
        assert.match(fs.readFileSync(file, 'utf8'), /^# note: the server ended with status 3/m);
      });
    });
  }
}

jailSuite('mcp-jail learn with the filesystem server', () => {
  before(() => {
    assert.ok(fs.existsSync(path.join(E2E_DIR, 'node_modules', PKG)), `server not installed: run "npm ci" in ${E2E_DIR}`);
  });
  suite();
});
