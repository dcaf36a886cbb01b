// record-argv.mjs OUT COMMAND [ARG]...: writes COMMAND and its ARGs to OUT
// (a JSON array), then runs them on this process's stdin, stdout and stderr
// and exits with their status. cli.test.mjs puts it between the MCP
// Inspector and mcp-jail, to see what the Inspector passes on.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

const [out, command, ...args] = process.argv.slice(2);
fs.writeFileSync(out, JSON.stringify([command, ...args]));
const child = spawn(command, args, { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (os.constants.signals[signal] ?? 0)));
