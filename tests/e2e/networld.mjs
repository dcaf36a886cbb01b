// The listeners of the network e2e test's world (run by fetch.test.mjs inside
// a network namespace it created, through `ip netns exec`):
//   http:ADDR:PORT   answers every request with "hello from ADDR:PORT <path>"
//   dns:ADDR:PORT    A/AAAA records from name=ADDR arguments (UDP), NXDOMAIN otherwise
//   NAME=ADDR        a record
// Every request and query is printed as a JSON line on stdout; "ready" first.
import http from 'node:http';
import dgram from 'node:dgram';
import net from 'node:net';

const log = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const records = new Map();
const listens = [];
for (const arg of process.argv.slice(2)) {
  const m = /^(http|dns):(.+):(\d+)$/.exec(arg);
  if (m) {
    listens.push({ kind: m[1], addr: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3]) });
    continue;
  }
  const [name, addr] = arg.split('=');
  if (!records.has(name)) records.set(name, []);
  records.get(name).push(addr);
}

function readName(buf, off) {
  const labels = [];
  while (off < buf.length && buf[off] !== 0) {
    const len = buf[off];
    if (len > 63 || off + 1 + len > buf.length) return null;
    labels.push(buf.subarray(off + 1, off + 1 + len).toString('latin1').toLowerCase());
    off += 1 + len;
  }
  return { name: labels.join('.'), end: off + 1 };
}

function answer(q) {
  if (q.length < 12 || q[2] & 0x80) return null;
  const n = readName(q, 12);
  if (!n || n.end + 4 > q.length) return null;
  const qtype = q.readUInt16BE(n.end);
  const question = q.subarray(12, n.end + 4);
  const addrs = (records.get(n.name) ?? []).filter((a) => (qtype === 1 ? net.isIPv4(a) : qtype === 28 && net.isIPv6(a)));
  const rrs = addrs.map((a) => {
    const rdata = qtype === 1 ? Buffer.from(a.split('.').map(Number)) : ipv6Bytes(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(qtype, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  const h = Buffer.alloc(12);
  q.copy(h, 0, 0, 2);
  h.writeUInt16BE(0x8400 | (q[2] & 1 ? 0x100 : 0) | (records.has(n.name) ? 0 : 3), 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(rrs.length, 6);
  log({ kind: 'dns', name: n.name, qtype });
  return Buffer.concat([h, question, ...rrs]);
}

function ipv6Bytes(a) {
  const [head, tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

let pending = listens.length;
const ready = () => {
  if (--pending === 0) log({ kind: 'ready' });
};
for (const l of listens) {
  if (l.kind === 'http') {
    const srv = http.createServer((req, res) => {
      log({ kind: 'http', local: `${l.addr}:${l.port}`, path: req.url, from: req.socket.remoteAddress });
      res.end(`hello from ${l.addr}:${l.port} ${req.url}\n`);
    });
    srv.listen(l.port, l.addr, ready);
  } else {
    const sock = dgram.createSocket(net.isIPv6(l.addr) ? 'udp6' : 'udp4');
    sock.on('message', (msg, rinfo) => {
      const out = answer(msg);
      if (out) sock.send(out, rinfo.port, rinfo.address);
    });
    sock.bind(l.port, l.addr, ready);
  }
}
