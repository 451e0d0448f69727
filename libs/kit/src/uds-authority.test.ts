import * as http2 from 'node:http2';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthorityRewriter, listenAuthorityProxy } from './uds-authority';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function h2Server(socket: string): Promise<{ authorities: string[] }> {
  const seen = { authorities: [] as string[] };
  const srv = http2.createServer();
  srv.on('stream', (stream, headers) => {
    seen.authorities.push(String(headers[':authority']));
    stream.respond({ ':status': 200, 'x-path': String(headers[':path']) }, { endStream: true });
  });
  await new Promise<void>((r) => srv.listen(socket, () => r()));
  cleanups.push(() => srv.close());
  return seen;
}

function request(socket: string, authority: string, paths: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const session = http2.connect('http://localhost', { createConnection: () => net.connect(socket) });
    session.on('error', reject);
    const results: string[] = [];
    const next = (i: number): void => {
      if (i === paths.length) {
        session.close();
        resolve(results);
        return;
      }
      const req = session.request({ ':path': paths[i], ':authority': authority, 'x-big': 'v'.repeat(i === 1 ? 40000 : 10) });
      req.on('response', (h) => {
        results.push(`${h[':status']} ${h['x-path']}`);
        req.resume();
        req.on('end', () => next(i + 1));
      });
      req.on('error', (e) => results.push(`error ${e.message}`) && next(i + 1));
      req.end();
    };
    next(0);
  });
}

describe('authority proxy', () => {
  it('lets a client that sends the socket path as :authority through (nghttp2 resets it otherwise)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-authority-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const inner = path.join(dir, 'inner.sock');
    const outer = path.join(dir, 'outer.sock');
    const seen = await h2Server(inner);
    const direct = await request(inner, outer, ['/a']);
    expect(direct[0]).toMatch(/^error/);
    const proxy = await listenAuthorityProxy(outer, inner);
    cleanups.push(() => proxy.close());
    expect(fs.statSync(outer).mode & 0o777).toBe(0o660);
    // three requests on one connection: the client indexes :authority and refers to it later,
    // and the second one's headers need CONTINUATION frames
    expect(await request(outer, outer, ['/a', '/b', '/c'])).toEqual(['200 /a', '200 /b', '200 /c']);
    expect(seen.authorities).toEqual(['localhost', 'localhost', 'localhost']);
    // a valid authority is kept
    await request(outer, 'example.test:80', ['/d']);
    expect(seen.authorities.at(-1)).toBe('example.test:80');
  });
});

describe('AuthorityRewriter', () => {
  it('refuses a header block that does not decode instead of forwarding it', () => {
    const r = new AuthorityRewriter();
    const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
    // HEADERS, END_HEADERS, stream 1, payload: an indexed field with index 0x7e (no such entry)
    const bad = Buffer.from([0, 0, 1, 1, 4, 0, 0, 0, 1, 0xfe]);
    expect(() => r.push(Buffer.concat([preface, bad]))).toThrow();
  });
});
