#!/usr/bin/env node
// Demo: the official MCP filesystem server, jailed by mcp-jail, driven by the
// official MCP SDK client.
//
//   cd tests/e2e && npm ci
//   node demo.mjs /path/to/mcp-jail          # or: MCPJAIL_BIN=/path/to/mcp-jail node demo.mjs
//   node demo.mjs /path/to/mcp-jail --verbose   # also print the launcher's stderr (audit events)
//
// Everything it creates lives in fresh temporary directories that are removed
// at the end. Exit status 0 means the jail behaved as expected.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { callTool, hex, mkTempDir, startServer } from './jailed.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVER_PKG = path.join(HERE, 'node_modules', '@modelcontextprotocol', 'server-filesystem');
const SERVER = path.join(SERVER_PKG, 'dist', 'index.js');

const argv = process.argv.slice(2);
const verbose = argv.includes('--verbose') || argv.includes('-v');
const positional = argv.filter((a) => !a.startsWith('-'));
const jailArg = positional[0] ?? process.env.MCPJAIL_BIN;

if (argv.includes('--help') || argv.includes('-h') || !jailArg) {
  console.log('usage: node demo.mjs [/path/to/mcp-jail] [--verbose]   (or set MCPJAIL_BIN)');
  process.exit(jailArg ? 0 : 2);
}
const JAIL = path.resolve(jailArg);
if (!fs.existsSync(SERVER)) {
  console.error(`The filesystem server is not installed. Run "npm ci" in ${HERE} first.`);
  process.exit(2);
}
try {
  fs.accessSync(JAIL, fs.constants.X_OK);
} catch {
  console.error(`${JAIL} is not an executable file.`);
  process.exit(2);
}

// ------------------------------------------------------------ presentation

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : String(s));
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const red = paint('31');
const yellow = paint('33');
const say = (s = '') => console.log(s);
const step = (n, s) => say(`\n${bold(`[${n}]`)} ${s}`);
const short = (s, n = 90) => {
  const one = String(s).replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 3)}...` : one;
};

// ------------------------------------------------------------ setup

const asRoot = process.getuid() === 0;
const tempDirs = [];
function tempDir(prefix) {
  const d = mkTempDir(prefix);
  tempDirs.push(d);
  return d;
}
function cleanup() {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const ws = path.join(tempDir('mcpjail-demo-'), 'workspace');
fs.mkdirSync(ws, { mode: 0o755 });
fs.writeFileSync(path.join(ws, 'README.txt'), 'This directory is the only writable place inside the jail.\n');
// As root the jailed server runs as nobody (65534): hand it the workspace.
if (asRoot) execFileSync('chown', ['-R', '65534:65534', ws]);

const secretDir = tempDir('mcpjail-demo-secret-');
const secretFile = path.join(secretDir, 'api-token.txt');
const secretText = `TOP-SECRET-${hex()}`;
fs.writeFileSync(secretFile, `${secretText}\n`, { mode: 0o644 }); // world-readable on purpose
const home = os.homedir();

const serverVersion = JSON.parse(fs.readFileSync(path.join(SERVER_PKG, 'package.json'), 'utf8')).version;

// The server is told it may use the workspace AND the secret's directory AND
// $HOME: only the jail stands between it and those files.
const serverArgs = [SERVER, ws, secretDir, home];

const connect = (command, args) => startServer({ command, args });
const call = callTool;

// ------------------------------------------------------------ the demo

let failures = 0;
const verdict = (good, msg) => {
  if (!good) failures++;
  return good ? green(msg) : red(msg);
};

say(bold('mcp-jail demo'));
say(`  server    : @modelcontextprotocol/server-filesystem ${serverVersion}`);
say(`  launcher  : ${JAIL} run filesystem --var WORKSPACE=<workspace> -- node ...`);
say(`  running as: ${asRoot ? 'root (the server inside the jail runs as uid 65534)' : `uid ${process.getuid()} (rootless)`}`);
say(`  workspace : ${ws}`);
say(`  secret    : ${secretFile}  ${dim('(world-readable, outside the workspace)')}`);
say(`  ${dim('The server itself is told it may read the workspace, the secret\'s directory and $HOME.')}`);

let jailed;
try {
  jailed = await connect(JAIL, ['run', 'filesystem', '--var', `WORKSPACE=${ws}`, '--', process.execPath, ...serverArgs]);
} catch (err) {
  say(red(`\nCould not start the jailed server: ${err.message}`));
  process.exit(1);
}

try {
  step(1, 'Connected through the jail over stdio. Tools offered by the server:');
  const { tools } = await jailed.client.listTools();
  const names = tools.map((t) => t.name);
  for (let i = 0; i < names.length; i += 4) say(`    ${names.slice(i, i + 4).join(', ')}`);

  const note = path.join(ws, 'notes.txt');
  const noteText = `written from inside the jail at ${new Date().toISOString()}`;
  step(2, `write_file ${note}`);
  const w = await call(jailed.client, 'write_file', { path: note, content: noteText });
  const onHost = fs.existsSync(note) ? fs.readFileSync(note, 'utf8') : null;
  say(`    server says: ${short(w.text)}`);
  say(`    on the host: ${verdict(w.ok && onHost === noteText, onHost === noteText ? 'file is there with the right content' : 'file missing or different')}`);

  step(3, `read_text_file ${note}`);
  const r = await call(jailed.client, 'read_text_file', { path: note });
  say(`    ${verdict(r.ok && r.text === noteText, r.ok ? `"${short(r.text)}"` : `failed: ${short(r.text)}`)}`);

  step(4, `read_text_file ${secretFile}`);
  let bareResult = null;
  try {
    const bare = await connect(process.execPath, serverArgs);
    bareResult = await call(bare.client, 'read_text_file', { path: secretFile });
    await bare.close();
  } catch (err) {
    bareResult = { ok: false, text: err.message };
  }
  const bareLeak = bareResult.ok && bareResult.text.includes(secretText);
  say(`    without mcp-jail: ${bareLeak ? yellow(`READ   "${short(bareResult.text)}"`) : dim(`not read (${short(bareResult.text, 60)})`)}`);
  const j = await call(jailed.client, 'read_text_file', { path: secretFile });
  const jailLeak = j.text.includes(secretText);
  say(`    with mcp-jail:    ${jailLeak ? verdict(false, `LEAKED "${short(j.text)}"`) : verdict(true, `BLOCKED (${short(j.text, 70)})`)}`);

  step(5, `list_directory ${home}  ${dim('($HOME of the user who started the jail)')}`);
  const h = await call(jailed.client, 'list_directory', { path: home });
  const homeVisible = h.ok && h.text.trim() !== '';
  say(`    with mcp-jail:    ${homeVisible ? verdict(false, `VISIBLE: ${short(h.text)}`) : verdict(true, h.ok ? 'empty' : `BLOCKED (${short(h.text, 70)})`)}`);

  if (verbose) {
    say(`\n${bold('launcher + server stderr')} ${dim('(the launcher\'s messages and JSON-lines audit events)')}`);
    for (const line of jailed.stderr().trimEnd().split('\n')) say(`    ${dim(line)}`);
  }

  say(`\n${bold('Summary')}`);
  say(`  workspace read/write through the jail : ${w.ok && r.ok ? green('works') : red('BROKEN')}`);
  say(`  secret outside the workspace          : ${jailLeak ? red('LEAKED') : green('blocked by the jail')}${bareLeak ? dim(' (the same server without the jail hands it out)') : ''}`);
  say(`  $HOME                                 : ${homeVisible ? red('VISIBLE') : green('not visible')}`);
  say(failures === 0 ? green('\nmcp-jail kept the server inside its workspace.') : red(`\n${failures} check(s) failed.`));
} finally {
  await jailed.close();
}
process.exitCode = failures === 0 ? 0 : 1;
