// berth's HTTP/2 client session against a scripted peer on a unix socket:
// the frames it puts on the wire (flow control both ways, frame sizes, PING,
// END_STREAM) and what it does when a server breaks the protocol (a clear
// error on the call, GOAWAY to the server, never a hang). The same client
// against a real grpc-js server is h2-client.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isUnavailable } from '@berth/errors';
import type { testingV1 } from '@berth/proto';
import { createH2Client } from './h2-client';
import {
  encodeFrame,
  encodeGoaway,
  encodeHeaderBlock,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  ErrorCode,
  Flag,
  type Frame,
  FrameReader,
  FrameType,
  MAX_FRAME_SIZE_LIMIT,
  PREFACE,
  Setting,
} from './h2-frames';
import { H2Session, MAX_BACKLOGGED_ACKS, type StreamEvents, STREAM_WINDOW } from './h2-session';
import { encodeHeaders, type HeaderField } from './hpack';

/** The server end of one connection: every frame the client sent, in order, and a way to wait for the next that matches. */
class Peer {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiter?: () => void;
  private pendingPreface = PREFACE.length;
  private readonly reader = new FrameReader(MAX_FRAME_SIZE_LIMIT);
  closed = false;

  constructor(readonly sock: Socket) {
    sock.on('data', (chunk: Buffer) => {
      if (this.pendingPreface > 0) {
        const take = Math.min(this.pendingPreface, chunk.length);
        this.pendingPreface -= take;
        chunk = chunk.subarray(take);
      }
      for (const f of this.reader.push(chunk)) this.frames.push({ ...f, payload: Buffer.from(f.payload) });
      this.waiter?.();
    });
    sock.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    sock.on('error', () => undefined);
  }

  send(...frames: Buffer[]): void {
    for (const f of frames) this.sock.write(f);
  }

  /** The next frame (from the cursor on) that matches; the cursor moves past it. */
  async until(match: (f: Frame) => boolean, what: string): Promise<Frame> {
    for (;;) {
      while (this.cursor < this.frames.length) {
        const f = this.frames[this.cursor++]!;
        if (match(f)) return f;
      }
      if (this.closed) throw new Error(`the client closed the connection before sending ${what}`);
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** Sends a PING and waits for its acknowledgement: the client has acted on everything sent before it. */
  async sync(): Promise<void> {
    const token = Buffer.from(Math.random().toString(36).slice(2, 10).padEnd(8, 'x'));
    this.send(encodeFrame(FrameType.PING, 0, 0, token));
    await this.until((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0 && f.payload.equals(token), 'a PING acknowledgement');
  }

  dataOn(streamId: number): Frame[] {
    return this.frames.filter((f) => f.type === FrameType.DATA && f.streamId === streamId);
  }
}

const settings = (s: Array<[number, number]> = []) => encodeSettings(s);
const headers = (streamId: number, fields: HeaderField[], endStream = false) => encodeHeaderBlock(streamId, encodeHeaders(fields), endStream, 16_384);

let dir: string | undefined;
const servers: Server[] = [];
const sessions: H2Session[] = [];
const peerSockets: Socket[] = [];

afterEach(async () => {
  sessions.splice(0).forEach((s) => s.close());
  peerSockets.splice(0).forEach((s) => s.destroy());
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A unix socket whose connections become Peers; `onPeer` scripts each. */
async function listen(onPeer: (p: Peer) => void = () => undefined): Promise<{ path: string; peer: Promise<Peer> }> {
  dir ??= mkdtempSync(join(tmpdir(), 'berth-h2s-'));
  const path = join(dir, `peer-${servers.length}.sock`);
  let gotPeer!: (p: Peer) => void;
  const peer = new Promise<Peer>((r) => (gotPeer = r));
  const server = createServer((sock) => {
    peerSockets.push(sock);
    const p = new Peer(sock);
    onPeer(p);
    gotPeer(p);
  });
  servers.push(server);
  await new Promise<void>((r, j) => server.once('error', j).listen(path, r));
  return { path, peer };
}

/** Stream events as a list, in the order delivered. */
function recorder(): { events: StreamEvents; log: Array<[string, unknown]> } {
  const log: Array<[string, unknown]> = [];
  return {
    log,
    events: {
      headers: (fields, end) => log.push([end ? 'trailers' : 'headers', fields]),
      data: (chunk) => log.push(['data', chunk.length]),
      end: () => log.push(['end', undefined]),
      reset: (code) => log.push(['reset', code]),
      error: (e) => log.push(['error', e.message]),
    },
  };
}

const REQUEST: HeaderField[] = [[':method', 'POST'], [':scheme', 'http'], [':path', '/x.v1.X/Y'], [':authority', 'localhost']];

describe('HTTP/2 session: flow control', () => {
  it('sends no more DATA than the peer\'s windows allow, cut at its frame size, and a write waits until it is all sent', async () => {
    const { path, peer } = await listen();
    const session = new H2Session(path);
    sessions.push(session);
    const a = session.request(REQUEST, recorder().events);
    const p = await peer;
    p.send(settings([[Setting.INITIAL_WINDOW_SIZE, 1000]]));
    await p.until((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0, 'a SETTINGS acknowledgement');
    const reqHeaders = p.frames.find((f) => f.type === FrameType.HEADERS)!;
    expect(reqHeaders.streamId).toBe(1);

    // Stream window 1000: 1000 bytes go, the rest waits.
    let written = false;
    a.write(Buffer.alloc(5000, 7), () => (written = true));
    a.end();
    await p.sync();
    expect(p.dataOn(1).reduce((n, f) => n + f.payload.length, 0)).toBe(1000);
    expect(written).toBe(false);
    p.send(encodeWindowUpdate(1, 4000));
    const last = await p.until((f) => f.type === FrameType.DATA && (f.flags & Flag.END_STREAM) !== 0, 'END_STREAM');
    expect(last.streamId).toBe(1);
    expect(p.dataOn(1).reduce((n, f) => n + f.payload.length, 0)).toBe(5000);
    expect(written).toBe(true);

    // A second stream: frames cut at 16 KiB, and the connection's window (65535 - 5000 left) holds the rest back.
    p.send(settings([[Setting.INITIAL_WINDOW_SIZE, 1 << 20]]));
    await p.sync();
    const b = session.request(REQUEST, recorder().events);
    b.write(Buffer.alloc(70_000, 1), () => undefined);
    await p.sync();
    const sizes = p.dataOn(3).map((f) => f.payload.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16_384);
    expect(sizes.reduce((n, s) => n + s, 0)).toBe(65_535 - 5000);
    p.send(encodeWindowUpdate(0, 100_000));
    await p.sync();
    expect(p.dataOn(3).reduce((n, f) => n + f.payload.length, 0)).toBe(70_000);
  });

  it('gives a stream\'s window back only as its reader takes the data: a paused reader stops the server', async () => {
    const { path, peer } = await listen();
    const session = new H2Session(path);
    sessions.push(session);
    const { events, log } = recorder();
    const s = session.request(REQUEST, events);
    const p = await peer;
    p.send(settings(), ...headers(1, [[':status', '200']]));
    await p.sync();
    s.pause();
    const frame = Buffer.alloc(16_384, 9);
    const frames = Math.ceil(STREAM_WINDOW / 2 / frame.length) + 1; // past half the window
    for (let i = 0; i < frames; i++) p.send(encodeFrame(FrameType.DATA, 0, 1, frame));
    await p.sync();
    expect(p.frames.some((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1)).toBe(false);
    expect(log.map(([k]) => k)).toEqual(['headers']);

    s.resume();
    const update = await p.until((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1, 'a stream WINDOW_UPDATE');
    expect(update.payload.readUInt32BE(0)).toBeGreaterThanOrEqual(STREAM_WINDOW / 2);

    // Paused again, the trailers wait behind the data sent before them.
    s.pause();
    p.send(encodeFrame(FrameType.DATA, 0, 1, frame), ...headers(1, [['grpc-status', '0']], true));
    await p.sync();
    expect(log.map(([k]) => k)).toEqual(['headers', ...Array<string>(frames).fill('data')]);
    s.resume();
    expect(log.map(([k]) => k)).toEqual(['headers', ...Array<string>(frames + 1).fill('data'), 'trailers', 'end']);
  });

  it('resets a stream whose server sends past its window (FLOW_CONTROL_ERROR)', async () => {
    const { path, peer } = await listen();
    const session = new H2Session(path);
    sessions.push(session);
    const { events, log } = recorder();
    const s = session.request(REQUEST, events);
    s.pause();
    const p = await peer;
    p.send(settings(), ...headers(1, [[':status', '200']]));
    const frame = Buffer.alloc(16_384);
    for (let i = 0; i <= STREAM_WINDOW / frame.length; i++) p.send(encodeFrame(FrameType.DATA, 0, 1, frame));
    const rst = await p.until((f) => f.type === FrameType.RST_STREAM && f.streamId === 1, 'RST_STREAM');
    expect(rst.payload.readUInt32BE(0)).toBe(ErrorCode.FLOW_CONTROL_ERROR);
    s.resume();
    expect(log.at(-1)).toEqual(['error', expect.stringMatching(/FLOW_CONTROL_ERROR: the server sent more DATA than the stream window allows/)]);
  });
});

describe('HTTP/2 session: a server that breaks the protocol', () => {
  const SERVICE = 'berth.testing.v1.Echo';
  const call = async (path: string) =>
    createH2Client<testingV1.EchoDefinition, testingV1.EchoHandlers>(SERVICE, [`unix:${path}`], { timeoutMs: 5000 })
      .SayOnce({ message: 'x' })
      .then(
        () => {
          throw new Error('the call succeeded');
        },
        (e: unknown) => e as Error & { code: string },
      );

  const cases: Array<[string, (p: Peer) => void, RegExp, number | undefined]> = [
    [
      'a frame larger than SETTINGS_MAX_FRAME_SIZE',
      (p) => p.send(settings(), Buffer.from([0x01, 0x86, 0xa0, FrameType.DATA, 0, 0, 0, 0, 1])),
      /FRAME_SIZE_ERROR: the server sent a frame of 100000 bytes .*larger than the 16384 allowed/,
      ErrorCode.FRAME_SIZE_ERROR,
    ],
    ['an HTTP/1.1 answer', (p) => p.send(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')), /first frame is type 0x50, not 0x4 \(SETTINGS\): is it an HTTP\/2/, ErrorCode.PROTOCOL_ERROR],
    [
      'a header block naming a table entry that does not exist',
      (p) => p.send(settings(), encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, Buffer.from([0xbe]))),
      /COMPRESSION_ERROR: HPACK: index 62 is past the end/,
      ErrorCode.COMPRESSION_ERROR,
    ],
    [
      'a header block larger than 64 KiB',
      (p) => {
        const part = Buffer.alloc(16_384, 0x82);
        p.send(settings(), encodeFrame(FrameType.HEADERS, 0, 1, part));
        for (let i = 0; i < 4; i++) p.send(encodeFrame(FrameType.CONTINUATION, 0, 1, part));
      },
      /header block larger than 65536 bytes/,
      ErrorCode.PROTOCOL_ERROR,
    ],
    ['DATA on a stream never opened', (p) => p.send(settings(), encodeFrame(FrameType.DATA, 0, 2, Buffer.alloc(4))), /DATA on stream 2, which this client never opened/, ErrorCode.PROTOCOL_ERROR],
    ['a PING of 4 bytes', (p) => p.send(settings(), encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(4))), /PING of 4 bytes \(8 expected\)/, ErrorCode.FRAME_SIZE_ERROR],
  ];

  it.each(cases)('%s: the call fails with the reason, the server gets GOAWAY', async (_name, script, message, goawayCode) => {
    const { path, peer } = await listen(script);
    const err = await call(path);
    expect(err.code).toBe('Internal');
    expect(String((err as { cause?: { details?: string } }).cause?.details ?? err.message)).toMatch(message);
    const p = await peer;
    const goaway = await p.until((f) => f.type === FrameType.GOAWAY, 'GOAWAY');
    expect(goaway.payload.readUInt32BE(4)).toBe(goawayCode);
  });

  it('a server that floods PINGs without reading the answers is cut off (ENHANCE_YOUR_CALM), not buffered for', async () => {
    const ping = encodeFrame(FrameType.PING, 0, 0, Buffer.alloc(8));
    const flood = Buffer.concat([settings(), ...Array<Buffer>(100_000).fill(ping)]);
    const { path } = await listen((p) => {
      p.sock.pause();
      p.sock.write(flood);
    });
    const err = await call(path);
    expect(err.code).toBe('Internal');
    expect(String((err as { cause?: { details?: string } }).cause?.details)).toMatch(
      new RegExp(`ENHANCE_YOUR_CALM: the server sent more than ${MAX_BACKLOGGED_ACKS} PING or SETTINGS frames without reading`),
    );
  });

  it('GOAWAY below a call and RST_STREAM REFUSED_STREAM are UNAVAILABLE (never processed, safe to retry)', async () => {
    const away = await listen((p) => p.send(settings(), encodeGoaway(0, ErrorCode.NO_ERROR)));
    const e1 = await call(away.path);
    expect(isUnavailable(e1)).toBe(true);
    expect(String((e1 as { cause?: { details?: string } }).cause?.details)).toMatch(/going away \(GOAWAY NO_ERROR\) and did not process the call/);
    const refused = await listen((p) => p.send(settings(), encodeRstStream(1, ErrorCode.REFUSED_STREAM)));
    const e2 = await call(refused.path);
    expect(isUnavailable(e2)).toBe(true);
    expect(String((e2 as { cause?: { details?: string } }).cause?.details)).toMatch(/Stream refused by server/);
  });
});
