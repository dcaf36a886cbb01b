// `mcp-jail export k8s`: the manifests it writes for the built-in filesystem
// and fetch profiles and for a custom profile (limits, tmpfs, an allowlist
// with names, CIDRs and allow_private; as a Pod and as a Deployment) are
// validated against the Kubernetes API schemas (kubernetes-models, pinned in
// package.json), and the CiliumNetworkPolicy against the structure of
// Cilium's documented CRD fields (checked here by hand: the CRD is not in
// kubernetes-models).
//
//   MCPJAIL_BIN=/abs/path/to/mcp-jail node --test tests/e2e/export-k8s.test.mjs
//
// No privileges, no cluster.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { Pod } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';

import { JAIL, mkTempDir, rmQuiet } from './jailed.mjs';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const models = { Pod, Deployment, NetworkPolicy };

function readTree(dir) {
  const out = {};
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (r.endsWith('.json')) out[r] = JSON.parse(fs.readFileSync(path.join(dir, r), 'utf8'));
    }
  };
  walk('');
  return out;
}

// ---- Cilium: the structure of CiliumNetworkPolicy (cilium.io/v2) -------------
// Fields as Cilium documents them: spec.endpointSelector (a label selector),
// spec.egress[] and spec.egressDeny[] rules with toEndpoints, toCIDR,
// toCIDRSet, toEntities, toFQDNs[] {matchName | matchPattern}, toPorts[]
// {ports[] {port, protocol}, rules {dns[] {matchName | matchPattern}}}.

const EGRESS_KEYS = new Set(['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toFQDNs', 'toPorts',
  'toGroups', 'toRequires', 'toNodes', 'icmps', 'authentication']);
const DENY_KEYS = new Set(['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toPorts', 'toGroups',
  'toRequires', 'toNodes', 'icmps']);
const PROTOCOLS = new Set(['TCP', 'UDP', 'SCTP', 'ANY']);
const NAME_RE = /^[-a-zA-Z0-9_]+(\.[-a-zA-Z0-9_]+)*\.?$/;
const PATTERN_RE = /^[-a-zA-Z0-9_.*]+$/;

function isCidr(s) {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const v6 = m[1].includes(':');
  return Number(m[2]) <= (v6 ? 128 : 32);
}

function checkSelector(sel, where) {
  assert.equal(typeof sel, 'object', `${where}: a label selector`);
  for (const k of Object.keys(sel)) assert.ok(['matchLabels', 'matchExpressions'].includes(k), `${where}: unknown field ${k}`);
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    assert.equal(typeof k, 'string');
    assert.equal(typeof v, 'string', `${where}.matchLabels.${k} must be a string`);
  }
}

function checkSelectorEntry(s, where) {
  const keys = Object.keys(s);
  assert.equal(keys.length, 1, `${where}: exactly one of matchName or matchPattern`);
  if (keys[0] === 'matchName') assert.match(s.matchName, NAME_RE, `${where}.matchName`);
  else if (keys[0] === 'matchPattern') assert.match(s.matchPattern, PATTERN_RE, `${where}.matchPattern`);
  else assert.fail(`${where}: unknown field ${keys[0]}`);
}

function checkPorts(toPorts, where, { l7 }) {
  assert.ok(Array.isArray(toPorts), `${where} is a list`);
  toPorts.forEach((tp, i) => {
    for (const k of Object.keys(tp)) assert.ok(['ports', 'rules'].includes(k), `${where}[${i}]: unknown field ${k}`);
    assert.ok(Array.isArray(tp.ports) && tp.ports.length > 0, `${where}[${i}].ports`);
    for (const p of tp.ports) {
      assert.equal(typeof p.port, 'string', `${where}[${i}].ports[].port is a string`);
      assert.ok(/^\d+$/.test(p.port) && Number(p.port) >= 1 && Number(p.port) <= 65535, `port ${p.port}`);
      assert.ok(PROTOCOLS.has(p.protocol), `protocol ${p.protocol}`);
    }
    if (tp.rules) {
      assert.ok(l7, `${where}[${i}]: L7 rules are not allowed here`);
      for (const k of Object.keys(tp.rules)) assert.ok(['dns', 'http', 'kafka', 'l7proto', 'l7'].includes(k), `unknown rule ${k}`);
      assert.ok(Array.isArray(tp.rules.dns), `${where}[${i}].rules.dns`);
      tp.rules.dns.forEach((d, j) => checkSelectorEntry(d, `${where}[${i}].rules.dns[${j}]`));
      assert.ok(tp.ports.every((p) => p.port === '53'), 'DNS rules only on port 53');
    }
  });
}

function checkCilium(cnp, name) {
  assert.equal(cnp.apiVersion, 'cilium.io/v2');
  assert.equal(cnp.kind, 'CiliumNetworkPolicy');
  assert.match(cnp.metadata.name, DNS_LABEL);
  assert.equal(cnp.metadata.name, name);
  for (const k of Object.keys(cnp.spec)) assert.ok(['endpointSelector', 'egress', 'egressDeny', 'ingress', 'ingressDeny',
    'labels', 'description', 'enableDefaultDeny'].includes(k), `spec: unknown field ${k}`);
  checkSelector(cnp.spec.endpointSelector, 'spec.endpointSelector');
  assert.equal(cnp.spec.endpointSelector.matchLabels['app.kubernetes.io/name'], name);
  assert.ok(Array.isArray(cnp.spec.egress) && cnp.spec.egress.length > 0, 'spec.egress');
  const dnsPatterns = new Set();
  const fqdns = [];
  cnp.spec.egress.forEach((r, i) => {
    const where = `spec.egress[${i}]`;
    for (const k of Object.keys(r)) assert.ok(EGRESS_KEYS.has(k), `${where}: unknown field ${k}`);
    if (r.toEndpoints) r.toEndpoints.forEach((s, j) => checkSelector(s, `${where}.toEndpoints[${j}]`));
    if (r.toFQDNs) {
      assert.ok(Array.isArray(r.toFQDNs) && r.toFQDNs.length > 0);
      r.toFQDNs.forEach((s, j) => checkSelectorEntry(s, `${where}.toFQDNs[${j}]`));
      fqdns.push(...r.toFQDNs);
      assert.ok(r.toPorts, `${where}: names without ports`);
      checkPorts(r.toPorts, `${where}.toPorts`, { l7: false });
    } else if (r.toPorts) {
      checkPorts(r.toPorts, `${where}.toPorts`, { l7: true });
      for (const tp of r.toPorts) for (const d of tp.rules?.dns ?? []) dnsPatterns.add(d.matchPattern ?? d.matchName);
    }
  });
  // Every allowed name can be resolved through the DNS proxy.
  for (const f of fqdns) {
    const want = f.matchName ?? f.matchPattern;
    assert.ok(dnsPatterns.has(want) || dnsPatterns.has('*'), `no DNS rule lets ${want} be resolved`);
  }
  for (const [i, r] of (cnp.spec.egressDeny ?? []).entries()) {
    for (const k of Object.keys(r)) assert.ok(DENY_KEYS.has(k), `spec.egressDeny[${i}]: unknown field ${k}`);
    for (const c of r.toCIDRSet ?? []) {
      assert.ok(isCidr(c.cidr), `egressDeny cidr ${c.cidr}`);
      for (const e of c.except ?? []) assert.ok(isCidr(e), `except ${e}`);
    }
  }
  return { fqdns, dnsPatterns };
}

// ---- the Kubernetes objects -------------------------------------------------

function checkNames(obj, where) {
  assert.match(obj.metadata.name, DNS_LABEL, `${where}: metadata.name`);
  const spec = obj.kind === 'Deployment' ? obj.spec.template.spec : obj.spec;
  if (!spec?.containers) return;
  for (const c of spec.containers) {
    assert.match(c.name, DNS_LABEL);
    for (const m of c.volumeMounts ?? []) assert.ok(spec.volumes.some((v) => v.name === m.name), `mount of unknown volume ${m.name}`);
  }
  for (const v of spec.volumes ?? []) assert.match(v.name, DNS_LABEL, `volume name ${v.name}`);
}

function validateAll(files) {
  const kinds = [];
  for (const [file, obj] of Object.entries(files)) {
    if (file.startsWith('profiles/') || file.startsWith('cilium/')) continue;
    const Model = models[obj.kind];
    assert.ok(Model, `${file}: unexpected kind ${obj.kind}`);
    try {
      new Model(obj).validate();
    } catch (err) {
      assert.fail(`${file} does not validate against the ${obj.kind} schema: ${err.message}`);
    }
    checkNames(obj, file);
    kinds.push(obj.kind);
  }
  return kinds.sort();
}

function seccompShape(p) {
  assert.ok(['SCMP_ACT_ERRNO', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_LOG'].includes(p.defaultAction));
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64']);
  assert.ok(p.syscalls.length > 3);
  for (const s of p.syscalls) {
    assert.ok(Array.isArray(s.names) && s.names.length > 0);
    assert.ok(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO'].includes(s.action));
  }
}

describe('mcp-jail export k8s', () => {
  const dirs = [];
  let work;
  before(() => {
    assert.ok(JAIL && path.isAbsolute(JAIL), `MCPJAIL_BIN must be an absolute path, got ${JAIL}`);
    work = mkTempDir('mcpjail-export-k8s-');
    dirs.push(work);
    fs.mkdirSync(path.join(work, 'ws'));
    fs.writeFileSync(path.join(work, 'custom.toml'), [
      'version = 1',
      'name = "Custom_Server"',
      'extends = "base"',
      '[filesystem]',
      `write = ["${path.join(work, 'ws')}"]`,
      'tmpfs = ["/var/cache/app"]',
      '[network]',
      'mode = "allowlist"',
      'allow = ["api.github.com:443", "*.githubusercontent.com:443", "203.0.113.0/24:8080", "10.20.0.0/16:5432", "0.0.0.0/0:8443"]',
      'allow_private = ["10.20.0.0/16"]',
      'dns = ["192.0.2.53"]',
      '[limits]',
      'memory = "300MiB"',
      'cpu = 1.5',
      'pids = 100',
      'tmpfs_size = "16MiB"',
      'wall_time = "10m"',
      '[env]',
      'set = { LOG_LEVEL = "info" }',
      '',
    ].join('\n'));
  });
  after(() => dirs.forEach(rmQuiet));

  const exportK8s = (name, args) => {
    const out = path.join(work, name);
    execFileSync(JAIL, ['export', 'k8s', ...args.slice(0, -1), '-o', out, '--', ...args.at(-1)],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    return readTree(out);
  };

  it('filesystem: a Pod and a NetworkPolicy that validate; no egress', () => {
    const files = exportK8s('fs', ['filesystem', '--var', `WORKSPACE=${path.join(work, 'ws')}`, '--image',
      'node:20-slim', ['node', '/app/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js', path.join(work, 'ws')]]);
    assert.deepEqual(validateAll(files), ['NetworkPolicy', 'Pod']);
    assert.deepEqual(files['networkpolicy.json'].spec.egress, []);
    seccompShape(files['profiles/mcp-jail/filesystem.json']);
    const c = files['pod.json'].spec.containers[0];
    assert.equal(c.securityContext.seccompProfile.localhostProfile, 'profiles/mcp-jail/filesystem.json');
    assert.ok(!('cilium/ciliumnetworkpolicy.json' in files));
  });

  it('fetch: names on ports 80 and 443 through Cilium; DNS to the cluster resolver only', () => {
    const files = exportK8s('fetch', ['fetch', '--image', 'node:20-slim', ['npx', '-y', 'mcp-fetch-server']]);
    assert.deepEqual(validateAll(files), ['NetworkPolicy', 'Pod']);
    const egress = files['networkpolicy.json'].spec.egress;
    assert.equal(egress.length, 1, JSON.stringify(egress));
    assert.deepEqual(egress[0].ports.map((p) => p.port), [53, 53]);
    assert.ok(egress[0].to[0].podSelector, 'DNS to the cluster resolver');
    const { fqdns, dnsPatterns } = checkCilium(files['cilium/ciliumnetworkpolicy.json'], 'fetch');
    assert.deepEqual(fqdns, [{ matchPattern: '*' }]);
    assert.ok(dnsPatterns.has('*'));
  });

  for (const [label, extra, kind] of [['a Pod', [], 'Pod'], ['a Deployment', ['--replicas', '3'], 'Deployment']]) {
    it(`a custom profile as ${label}: limits, volumes, the allowlist`, () => {
      const files = exportK8s(`custom-${kind}`, [path.join(work, 'custom.toml'), '--image', 'ghcr.io/example/server@sha256:' + 'a'.repeat(64),
        '--env', 'MODE=fast', ...extra, ['/usr/local/bin/server', '--stdio']]);
      assert.deepEqual(validateAll(files), ['NetworkPolicy', kind].sort());
      const obj = files[kind === 'Pod' ? 'pod.json' : 'deployment.json'];
      assert.equal(obj.metadata.name, 'custom-server');
      const spec = kind === 'Pod' ? obj.spec : obj.spec.template.spec;
      if (kind === 'Pod') assert.equal(spec.activeDeadlineSeconds, 600);
      else assert.equal(obj.spec.replicas, 3);
      const c = spec.containers[0];
      assert.deepEqual(c.resources.limits, { memory: '300Mi', cpu: '1500m' });
      assert.deepEqual(c.env, [{ name: 'LOG_LEVEL', value: 'info' }, { name: 'MODE', value: 'fast' }]);
      const cache = spec.volumes.find((v) => v.emptyDir?.medium === 'Memory' &&
        c.volumeMounts.find((m) => m.name === v.name).mountPath === '/var/cache/app');
      assert.deepEqual(cache.emptyDir, { medium: 'Memory', sizeLimit: '16Mi' });
      const egress = files['networkpolicy.json'].spec.egress;
      const block = (cidr) => egress.find((r) => r.to.some((t) => t.ipBlock?.cidr === cidr));
      assert.ok(block('203.0.113.0/24'));
      assert.ok(block('10.20.0.0/16'), 'allow_private opens its range');
      const wide = block('0.0.0.0/0');
      assert.ok(wide.to[0].ipBlock.except.includes('10.0.0.0/8'));
      assert.ok(wide.to[0].ipBlock.except.includes('169.254.0.0/16'));
      assert.ok(wide.to.some((t) => t.ipBlock?.cidr === '10.20.0.0/16'), 'allow_private comes back inside 0.0.0.0/0');
      const { fqdns } = checkCilium(files['cilium/ciliumnetworkpolicy.json'], 'custom-server');
      assert.deepEqual(fqdns, [{ matchName: 'api.github.com' }, { matchPattern: '*.githubusercontent.com' }]);
      const deny = files['cilium/ciliumnetworkpolicy.json'].spec.egressDeny[0].toCIDRSet;
      const ten = deny.find((d) => d.cidr === '10.0.0.0/8');
      assert.deepEqual(ten.except, ['10.20.0.0/16']);
      const readme = fs.readFileSync(path.join(work, `custom-${kind}`, 'README.md'), 'utf8');
      assert.match(readme, /kubectl attach -i|"attach", "-i"/);
      assert.match(readme, /## What Kubernetes cannot express/);
    });
  }
});
