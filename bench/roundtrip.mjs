// MCP round trip: the real filesystem server, N tools/call round trips from
// the real SDK client, bare vs. through the jail, alternating rounds.
//   node bench/roundtrip.mjs [CALLS] [ROUNDS]     (MCPJAIL_BIN or build/mcp-jail)
import { Client } from '../tests/e2e/node_modules/@modelcontextprotocol/sdk/dist/esm/client/index.js';
import { StdioClientTransport } from '../tests/e2e/node_modules/@modelcontextprotocol/sdk/dist/esm/client/stdio.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const jail = process.env.MCPJAIL_BIN || path.join(here, '..', 'build', 'mcp-jail');
const server = path.join(here, '..', 'tests', 'e2e', 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
const calls = Number(process.argv[2] || 1000);
const rounds = Number(process.argv[3] || 5);

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpjail-bench-'));
fs.chmodSync(ws, 0o777);
fs.writeFileSync(path.join(ws, 'data.txt'), 'x'.repeat(1024));
if (process.getuid() === 0) fs.chownSync(ws, 65534, 65534);

async function measure(jailed) {
  const command = jailed ? jail : process.execPath;
  const args = jailed
    ? ['run', 'filesystem', '--var', `WORKSPACE=${ws}`, '--audit-log', 'none', '--', process.execPath, server, ws]
    : [server, ws];
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore' }));
  const file = path.join(ws, 'data.txt');
  for (let i = 0; i < 50; i++) await client.callTool({ name: 'read_text_file', arguments: { path: file } });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const r = await client.callTool({ name: 'read_text_file', arguments: { path: file } });
    if (r.isError) throw new Error('tool failed: ' + JSON.stringify(r.content));
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await client.close();
  return ms;
}

const bare = [], jailed = [];
for (let r = 0; r < rounds; r++) {
  bare.push(await measure(false));
  jailed.push(await measure(true));
}
fs.rmSync(ws, { recursive: true, force: true });
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const b = median(bare), j = median(jailed);
console.log(`calls per round: ${calls}, rounds: ${rounds}`);
console.log(`bare   : median ${b.toFixed(1)} ms (${(b * 1000 / calls).toFixed(1)} us per call)  rounds ${bare.map((x) => x.toFixed(0)).join(' ')}`);
console.log(`jailed : median ${j.toFixed(1)} ms (${(j * 1000 / calls).toFixed(1)} us per call)  rounds ${jailed.map((x) => x.toFixed(0)).join(' ')}`);
console.log(`difference: ${(((j - b) / b) * 100).toFixed(2)}%`);
