import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { buildAnswer, EmbeddedDns, parseQuestion } from './dns';

/** A DNS query for name/type, id 0x1234, RD set. */
function query(name: string, type = 1): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const head = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([head, ...labels, Buffer.from([0]), tail]);
}

function ask(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('no answer')); }, 3000);
    s.on('message', (b) => { clearTimeout(t); s.close(); resolve(b); });
    s.send(msg, port, '127.0.0.1');
  });
}

function askTcp(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: '127.0.0.1', port });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(msg.length);
    let buf = Buffer.alloc(0);
    c.on('connect', () => c.write(Buffer.concat([len, msg])));
    c.on('error', reject);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) { c.destroy(); resolve(buf.subarray(2)); }
    });
  });
}

/** A records of an answer, as dotted quads. */
function answers(b: Buffer): string[] {
  const q = parseQuestion(b)!;
  const out: string[] = [];
  let off = q.end;
  for (let i = 0; i < b.readUInt16BE(6); i++) {
    const rdlen = b.readUInt16BE(off + 10);
    out.push([...b.subarray(off + 12, off + 12 + rdlen)].join('.'));
    off += 12 + rdlen;
  }
  return out;
}

const closers: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('EmbeddedDns', () => {
  it('answers known names case-insensitively, relays the rest, SERVFAILs without upstream', async () => {
    const up: Socket = createSocket('udp4');
    up.on('message', (msg, r) => up.send(buildAnswer(msg, parseQuestion(msg)!, ['192.0.2.77']), r.port, r.address));
    await new Promise<void>((r) => up.bind(0, '127.0.0.1', () => r()));
    closers.push(() => new Promise<void>((r) => up.close(() => r())));
    let upstreams = [{ host: '127.0.0.1', port: up.address().port }];
    const dns = new EmbeddedDns({ address: '127.0.0.1', port: 0, upstreams: () => upstreams });
    await dns.start();
    closers.push(() => dns.stop());
    const port = (dns as unknown as { socket: Socket }).socket.address().port;
    dns.add(['web', 'www'], '10.213.0.2');
    dns.add(['web'], '10.213.0.3');

    const a = await ask(port, query('WEB'));
    expect(a.readUInt16BE(0)).toBe(0x1234);
    expect(a.readUInt16BE(2) & 0x000f).toBe(0);
    expect(answers(a).sort()).toEqual(['10.213.0.2', '10.213.0.3']);
    // Known name, AAAA: NOERROR and no records (no fallthrough to upstream).
    const aaaa = await ask(port, query('www', 28));
    expect(aaaa.readUInt16BE(6)).toBe(0);
    expect(aaaa.readUInt16BE(2) & 0x000f).toBe(0);
    expect(answers(await ask(port, query('example.test')))).toEqual(['192.0.2.77']);
    // The same over TCP (known name; unknown ones relay over TCP to the upstream).
    expect(answers(await askTcp(port, query('www')))).toEqual(['10.213.0.2']);

    // Reverse lookup of a container address: PTR with its first name.
    const ptr = await ask(port, query('2.0.213.10.in-addr.arpa', 12));
    expect(ptr.readUInt16BE(6)).toBe(1);
    expect(ptr.toString('latin1')).toContain('\x03web\x00');

    dns.remove(['web', 'www'], '10.213.0.2');
    expect(dns.lookup('www')).toEqual([]);
    expect(dns.lookup('web')).toEqual(['10.213.0.3']);
    upstreams = [];
    const fail = await ask(port, query('www'));
    expect(fail.readUInt16BE(2) & 0x000f).toBe(2);
  });
});
