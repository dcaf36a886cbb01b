// The Python server of pyserver/ (standard library only) for the end-to-end
// tests: built into a wheel offline, installed with pip (--no-index) into
// venvs by the tests that use it (python.test.mjs, wrap-catalog.test.mjs).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { E2E_DIR, succeeds } from './jailed.mjs';

export const PY = '/usr/bin/python3';
const PATH_ENV = '/usr/local/bin:/usr/bin:/bin';

// Why the Python tests cannot run here, or null.
export function pythonSkipReason() {
  if (!fs.existsSync(PY)) return `${PY} is missing`;
  if (!succeeds([PY, '-c', 'import venv, setuptools, wheel, pip'])) {
    return 'python3-venv, python3-pip, python3-setuptools or python3-wheel is missing: run scripts/install-deps';
  }
  return null;
}

// The wheel, built once with Debian's setuptools and wheel, offline, from a
// copy of pyserver/ (a build writes into its source tree).
export function buildWheel(work) {
  const src = path.join(work, 'src');
  fs.cpSync(path.join(E2E_DIR, 'pyserver'), src, { recursive: true });
  const wheels = path.join(work, 'wheels');
  execFileSync(PY, ['-m', 'pip', 'wheel', '--no-index', '--no-build-isolation', '--no-deps', '--quiet', '-w', wheels, src], {
    env: { PATH: PATH_ENV, HOME: work, PIP_NO_CACHE_DIR: '1', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [whl] = fs.readdirSync(wheels).filter((f) => f.endsWith('.whl'));
  assert.ok(whl, `no wheel built in ${wheels}`);
  execFileSync('chmod', ['-R', 'a+rX', work]);
  return path.join(wheels, whl);
}
