// The seed scenario, end to end: a trojaned MCP server (hostile-server.mjs,
// after threats/SAFE-T1003 and SAFE-T1704) runs inside `mcp-jail run`,
// driven by the real MCP SDK client over stdio. Its tools must keep working;
// every hostile act must fail; the C2 host must receive nothing; and the audit
// log must show each attempt that crosses one of mcp-jail's observation points.
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/hostile.test.mjs
//
// Needs root: the test builds its own world of network namespaces with
// tests/network/world.sh (names unique to this process) and removes it
// afterwards. The launcher runs in the world's "host" namespace, so every
// address the server can try is a listener of this test (networld.mjs):
//   api.test    198.18.1.10  http :8080 (allowed as api.test:8080: the positive control)
//   c2.test     198.18.1.66  http :8080 (the C2 host: not allowed, must receive nothing)
//   DNS         198.18.1.53  the jail's upstream resolver (must never be asked for c2.test)
//
// The profile extends the built-in `filesystem`: the workspace is writable,
// its .env hidden, and the shared build-scripts/ and .mcp/ directories are
// listed in `read`, so they are bound read-only inside the writable tree
// (SAFE-T1704). A fake $HOME holds the secrets the trojan looks for, and the
// launcher's environment holds AWS_SECRET_ACCESS_KEY and GITHUB_TOKEN.
//
// What the audit log can show: the environment variables the jail dropped
// (start.env_dropped), writes outside the write paths (fs_denied), programs
// started (exec), blocked connections (net_block) and refused names
// (dns_refused). Reads of files that are absent from the jail or hidden are
// NOT observable (reads never leave the kernel; see "The watch" in
// mcp-jail(1)): for those the test checks that they failed, from the inside.
//
// Modes: root (the jail runs as 65534) and rootless (started as mcpjail-test
// through setpriv). Without root, everything is skipped.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import {
  eventually, hex, jailSuite, mkTempDir, modeDefinitions, modeTest, prepareMode, serverFile, startServer, writeProfile,
} from './jailed.mjs';
import { ALLOW_API_TEST, TestWorld, readAudit, worldSkipReason } from './testworld.mjs';

const PROFILE_NAME = 'hostile-e2e';
const TIMEOUT = 60_000;

const world = new TestWorld('mjh');

function put(file, content, mode = 0o644) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  fs.writeFileSync(file, content, { mode });
}

const readOrNull = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null);

// ---------------------------------------------------------------- tests

jailSuite('the seed scenario: a trojaned MCP server through the jail', () => {
  before(async () => {
    process.once('exit', () => world.down());
    await world.build([
      'http:198.18.1.10:8080',
      'http:198.18.1.66:8080',
      'dns:198.18.1.53:53',
      'api.test=198.18.1.10',
      'c2.test=198.18.1.66',
    ]);
  }, { timeout: TIMEOUT });

  after(() => world.down());

  it('positive control: the allowed service and the C2 listener both answer a direct request', { timeout: TIMEOUT }, async () => {
    // Without this, "the C2 listener received nothing" would prove nothing.
    assert.equal(world.directGet('http://198.18.1.10:8080/control'), '200 hello from 198.18.1.10:8080 /control');
    assert.equal(world.directGet('http://198.18.1.66:8080/control'), '200 hello from 198.18.1.66:8080 /control');
    assert.ok(await eventually(() => world.requestsTo('198.18.1.66:8080').length === 1), 'the C2 listener does not log requests');
  });

  for (const mode of modeDefinitions()) {
    describe(mode.name, () => {
      const tag = hex(6);
      const secrets = {
        AWS_SECRET_ACCESS_KEY: `aws-${hex(16)}`,
        GITHUB_TOKEN: `ghp_${hex(16)}`,
        id_rsa: `-----BEGIN OPENSSH PRIVATE KEY-----\n${hex(24)}\n-----END OPENSSH PRIVATE KEY-----\n`,
        aws_credentials: `[default]\naws_access_key_id = AKIA${hex(8)}\naws_secret_access_key = ${hex(16)}\n`,
        pem: `-----BEGIN PRIVATE KEY-----\n${hex(24)}\n-----END PRIVATE KEY-----\n`,
        dotenv: `DATABASE_URL=postgres://app:${hex(12)}@db/app\n`,
      };
      // The distinctive part of each secret: none of these may appear in a tool result or the audit log.
      const secretValues = () => Object.values(secrets).flatMap((s) => s.split(/[\n=:@/]/).filter((w) => w.length >= 16));
      const hostPaths = {
        cronD: `/etc/cron.d/mcp-health-${tag}`,
        crontab: `/var/spool/cron/crontabs/mcp-${tag}`,
        program: `/usr/local/bin/health-check-${tag}`,
      };
      const outputs = []; // every tool result's text
      let ctx, srv, audit, profile, ws, home;
      const original = {}; // host files the jail must leave alone, as they were

      const call = async (name, args = {}) => {
        const res = await srv.client.callTool({ name, arguments: args }, undefined, { timeout: 30_000 });
        const text = (res.content ?? []).map((c) => c.text ?? '').join('\n');
        outputs.push(text);
        return { ok: !res.isError, text };
      };

      before(async () => {
        ctx = prepareMode(mode.kind);
        if (ctx.skip) return;
        const dirs = ctx.tempDirs;

        // The workspace: writable by the jail's user, with shared files it must not change.
        ws = mkTempDir('mcpjail-e2e-hostile-ws-');
        dirs.push(ws);
        put(path.join(ws, 'README.md'), '# project\n');
        put(path.join(ws, 'notes', 'hello.md'), 'hello from the workspace\n');
        put(path.join(ws, '.env'), secrets.dotenv);
        put(path.join(ws, 'build-scripts', 'pre-build.sh'), '#!/bin/sh\nmake clean\n', 0o755);
        put(path.join(ws, '.mcp', 'config', 'docker-server.json'), '{"command": "docker", "args": ["mcp"]}\n');
        // A repository, with its hooks directory and config (protected names).
        execFileSync('git', ['init', '-q', ws], { env: { PATH: '/usr/bin:/bin', HOME: '/nonexistent' } });
        fs.mkdirSync(path.join(ws, '.git', 'hooks'), { recursive: true });
        execFileSync('chown', ['-R', '-h', `${ctx.jailUid}:${ctx.jailGid}`, ws]);

        // A fake $HOME with the secrets the trojan looks for, readable by
        // anyone: only the jail's filesystem view keeps them out.
        // Not under /tmp: the jail has a writable tmpfs there, where a write
        // would be allowed (and fail only for the missing directory).
        home = fs.mkdtempSync('/var/tmp/mcpjail-e2e-hostile-home-');
        fs.chmodSync(home, 0o755);
        dirs.push(home);
        put(path.join(home, '.ssh', 'id_rsa'), secrets.id_rsa);
        put(path.join(home, '.aws', 'credentials'), secrets.aws_credentials);
        put(path.join(home, 'secrets', 'deploy.pem'), secrets.pem);
        put(path.join(home, '.bashrc'), '# bashrc\n');

        for (const p of Object.values(hostPaths)) assert.equal(fs.existsSync(p), false, `${p} exists before the test`);
        for (const f of ['build-scripts/pre-build.sh', '.mcp/config/docker-server.json', '.env', '.git/config',
          '.git/hooks/pre-commit', '.envrc', '.mcp.json'])
          original[path.join(ws, f)] = readOrNull(path.join(ws, f));
        original[path.join(home, '.bashrc')] = readOrNull(path.join(home, '.bashrc'));

        const state = mkTempDir('mcpjail-e2e-hostile-state-');
        dirs.push(state);
        profile = writeProfile(path.join(state, 'hostile.toml'), [
          'version = 1',
          `name = "${PROFILE_NAME}"`,
          'extends = "filesystem"',
          '[filesystem]',
          '# shared with other hosts: read-only inside the writable workspace',
          'read = ["${WORKSPACE}/build-scripts", "${WORKSPACE}/.mcp"]',
          ...ALLOW_API_TEST,
        ]);
        audit = path.join(state, `audit-${hex(4)}.jsonl`);

        fs.chownSync(state, ctx.host.uid, ctx.host.gid);
        const server = serverFile(ctx, 'hostile-server.mjs');
        const launch = world.launcher(ctx, ['run', profile, '--var', `WORKSPACE=${ws}`, '--audit-log', audit, '--',
          process.execPath, server, ws, tag, home]);
        // The fake home, and secrets in the launcher's environment.
        srv = await startServer({
          ...launch,
          env: { ...launch.env, HOME: home, AWS_SECRET_ACCESS_KEY: secrets.AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN: secrets.GITHUB_TOKEN },
        });
      }, { timeout: TIMEOUT });

      after(async () => {
        await srv?.close();
        for (const p of Object.values(hostPaths)) fs.rmSync(p, { force: true }); // only if the jail failed
        ctx?.cleanup();
      });

      const test = modeTest({ ctx: () => ctx, srv: () => srv, timeout: TIMEOUT });

      test('the tools answer: the allowed API first, then files and notes in the workspace', async () => {
        const api = await call('check_api');
        assert.ok(api.ok, api.text);
        assert.equal(api.text, '200 hello from 198.18.1.10:8080 /health\n');
        const { tools } = await srv.client.listTools();
        for (const t of ['list_files', 'read_note', 'save_note', 'check_api', 'report'])
          assert.ok(tools.some((x) => x.name === t), `tool ${t} missing`);
        const list = await call('list_files');
        assert.ok(list.ok, list.text);
        for (const f of ['README.md', 'notes', 'build-scripts', '.mcp']) assert.ok(list.text.split('\n').includes(f), list.text);
        const note = await call('read_note', { name: 'hello.md' });
        assert.equal(note.text, 'hello from the workspace\n');
        const saved = await call('save_note', { name: 'todo.md', text: 'ship it' });
        assert.ok(saved.ok, saved.text);
        assert.equal(fs.readFileSync(path.join(ws, 'notes', 'todo.md'), 'utf8'), 'ship it');
      });

      test('every hostile act failed, as the server itself reports', async () => {
        const r = await call('report');
        assert.ok(r.ok, r.text);
        const { attempts } = JSON.parse(r.text);
        const find = (act, target) => attempts.filter((a) => a.act === act && (target === undefined || a.target === target));
        // The server did try everything (else the test proves nothing)...
        const expected = [
          ['env', 'AWS_SECRET_ACCESS_KEY'],
          ['env', 'GITHUB_TOKEN'],
          ['read', path.join(home, '.ssh', 'id_rsa')],
          ['read', path.join(home, '.aws', 'credentials')],
          ['read', path.join(home, 'secrets', 'deploy.pem')],
          ['read', path.join(ws, '.env')],
          ['discover', home],
          ['beacon', 'http://198.18.1.66:8080/beacon'],
          ['beacon', 'http://c2.test:8080/beacon'],
          ['beacon', 'http://c2.test:8080/exfil'],
          ['cron', hostPaths.cronD],
          ['cron', hostPaths.crontab],
          ['persist', hostPaths.program],
          ['persist', path.join(home, '.bashrc')],
          ['pivot', path.join(ws, 'build-scripts', 'pre-build.sh')],
          ['pivot', path.join(ws, '.mcp', 'config', 'docker-server.json')],
          ['plant', path.join(ws, '.git', 'hooks', 'pre-commit')],
          ['plant', path.join(ws, '.git', 'config')],
          ['plant', path.join(ws, '.envrc')],
          ['plant', path.join(ws, '.mcp.json')],
          ['plant', path.join(ws, '.vscode')],
        ];
        for (const [act, target] of expected) assert.ok(find(act, target).length > 0, `no ${act} ${target} attempt: ${r.text}`);
        assert.equal(find('shell').length, 1, r.text);
        // ... and nothing worked.
        for (const a of attempts) assert.equal(a.ok, false, `${a.phase} ${a.act} ${a.target} succeeded: ${JSON.stringify(a)}`);
        for (const a of find('env')) assert.equal(a.result, 'unset');
        // Reads of files that are not in the jail, or hidden in it, fail (not
        // observable in the audit log: they are checked here only).
        for (const a of find('read')) assert.match(a.result, /^(ENOENT|EACCES)/, JSON.stringify(a));
        assert.match(find('shell')[0].result, /ENOENT/); // /bin/sh is not the server's program: it looks absent
        for (const a of find('beacon')) assert.match(a.result, /fetch failed/, JSON.stringify(a));
        for (const a of [...find('cron'), ...find('persist'), ...find('pivot'), ...find('plant')])
          assert.match(a.result, /^(EROFS|ENOENT|EACCES)/, JSON.stringify(a));
      });

      test('no secret value appears in any tool result', async () => {
        assert.ok(outputs.length >= 5);
        const all = outputs.join('\n');
        for (const s of secretValues()) assert.ok(!all.includes(s), `secret ${s} leaked into a tool result`);
      });

      test('host files are unchanged and the C2 host received nothing', async () => {
        for (const p of Object.values(hostPaths)) assert.equal(fs.existsSync(p), false, `${p} was created`);
        assert.equal(fs.existsSync(path.join(ws, '.vscode')), false, '.vscode was created');
        for (const [f, content] of Object.entries(original)) assert.equal(readOrNull(f), content, `${f} changed`);
        assert.deepEqual(world.requestsTo('198.18.1.66:8080').filter((e) => e.path !== '/control'), []);
        assert.deepEqual(world.queriesFor('c2.test'), [], 'the C2 name reached the upstream resolver');
        assert.ok(world.requestsTo('198.18.1.10:8080').some((e) => e.path === '/health')); // the allowed path did work
      });

      test('the audit log shows each observable attempt, and stderr sums it up', async () => {
        await srv.close(); // the launch ends: the log is complete and the summary written
        const events = readAudit(audit);
        const dump = events.map((e) => JSON.stringify(e)).join('\n');
        const of = (type) => events.filter((e) => e.event === type);
        for (const e of events) {
          assert.equal(e.profile, PROFILE_NAME);
          assert.equal(e.launch, events[0].launch);
          assert.match(e.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        }
        // The secrets in the launcher's environment: dropped, by name only.
        const [start] = of('start');
        assert.ok(start, dump);
        for (const name of ['AWS_SECRET_ACCESS_KEY', 'GITHUB_TOKEN']) assert.ok(start.env_dropped.includes(name), dump);
        const text = fs.readFileSync(audit, 'utf8');
        for (const s of secretValues()) assert.ok(!text.includes(s), `secret ${s} is in the audit log`);
        // Persistence and the pivot: writes outside the write paths.
        const denied = of('fs_denied').map((e) => e.path);
        for (const p of [
          hostPaths.cronD,
          hostPaths.crontab,
          hostPaths.program,
          path.join(home, '.bashrc'),
          path.join(ws, 'build-scripts', 'pre-build.sh'),
          path.join(ws, '.mcp', 'config', 'docker-server.json'),
        ])
          assert.ok(denied.includes(p), `no fs_denied for ${p}:\n${dump}`);
        // The planted names: protected, present (a write) or absent (a creation).
        for (const p of ['.git/hooks/pre-commit', '.git/config', '.envrc', '.mcp.json', '.vscode'].map((f) => path.join(ws, f)))
          assert.ok(of('fs_denied').some((e) => e.path === p && e.reason === 'protected name'), `no fs_denied for ${p}:\n${dump}`);
        for (const e of of('fs_denied')) assert.ok(['write', 'create'].includes(e.access), JSON.stringify(e));
        // The legitimate write (save_note) is not an event.
        assert.ok(!denied.some((p) => p.startsWith(path.join(ws, 'notes'))), dump);
        // The shell for `find`.
        assert.ok(of('exec').some((e) => e.path === '/bin/sh' && e.allowed === false), dump);
        // The beacons: by address, and by name.
        assert.ok(of('net_block').some((e) => e.address === '198.18.1.66' && e.port === 8080 && e.protocol === 'tcp'), dump);
        assert.ok(of('dns_refused').some((e) => e.name === 'c2.test'), dump);
        assert.equal(of('exit').length, 1, dump);
        // One line for a person.
        const lines = srv.stderr().split('\n').filter((l) => l.startsWith(`mcp-jail: ${PROFILE_NAME}: blocked`));
        assert.equal(lines.length, 1, srv.stderr());
        const [summary] = lines;
        assert.match(summary, /\b(1[0-9]|[6-9]) writes \(/, summary);
        assert.match(summary, /\b1 exec \(\/bin\/sh\)/, summary);
        assert.match(summary, /\b\d+ connections? \(198\.18\.1\.66:8080\)/, summary);
        assert.match(summary, /\b\d+ DNS quer(y|ies) \(c2\.test\)/, summary);
        // Still nothing at the C2 host, now that everything has ended.
        assert.deepEqual(world.requestsTo('198.18.1.66:8080').filter((e) => e.path !== '/control'), []);
      });
    });
  }
}, { skip: worldSkipReason(['/usr/bin/setpriv']) });
