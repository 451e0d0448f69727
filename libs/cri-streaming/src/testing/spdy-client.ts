// A minimal SPDY/3.1 client for tests: upgrades an HTTP request the way client-go's spdy round
// tripper does, opens streams with headers, sends data and FIN, and records what the server sends.
// The real clients (crictl, kubelet) are tested in cri-streaming.crictl.test.ts.
import * as net from 'node:net';
import {
  ControlType,
  FLAG_FIN,
  FrameParser,
  controlStreamId,
  decodeHeaderBlock,
  encodeDataFrame,
  encodeHeaderBlock,
  encodePing,
  encodeSynStream,
  type Frame,
} from '../spdy/frames';
import { HeaderDeflater, HeaderInflater } from '../spdy/header-compression';

export interface ClientStream {
  id: number;
  replied: boolean;
  reset: number | undefined;
  /** Everything the server sent on it. */
  data: Buffer;
  /** The server's FIN arrived. */
  finished: boolean;
}

export interface UpgradeResponse {
  status: number;
  headers: Record<string, string[]>;
  body: string;
}

export class TestSpdyClient {
  readonly streams = new Map<number, ClientStream>();
  readonly pings: number[] = [];
  goAway = false;
  closed = false;
  private nextId = 1;
  private readonly deflater = new HeaderDeflater();
  private readonly inflater = new HeaderInflater();
  private readonly parser = new FrameParser();
  private chain: Promise<void> = Promise.resolve();
  private waiters: Array<() => void> = [];

  private constructor(private readonly socket: net.Socket) {}

  /**
   * Sends `method path` with the SPDY upgrade headers and the given protocols. Resolves with the
   * client once upgraded, or with the HTTP answer when the server refused.
   */
  static async connect(
    baseUrl: string,
    path: string,
    protocols: string[],
    opts: { method?: string; upgrade?: string } = {},
  ): Promise<{ client?: TestSpdyClient; response: UpgradeResponse }> {
    const url = new URL(baseUrl);
    const socket = net.connect(Number(url.port), url.hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const lines = [
      `${opts.method ?? 'POST'} ${path} HTTP/1.1`,
      `Host: ${url.host}`,
      'Connection: Upgrade',
      `Upgrade: ${opts.upgrade ?? 'SPDY/3.1'}`,
      'Content-Length: 0',
      ...protocols.map((p) => `X-Stream-Protocol-Version: ${p}`),
    ];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    let buf = Buffer.alloc(0);
    const head = await new Promise<{ text: string; rest: Buffer }>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        socket.pause();
        resolve({ text: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) });
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.once('end', () => resolve({ text: buf.toString('latin1'), rest: Buffer.alloc(0) }));
    });
    const [statusLine = '', ...headerLines] = head.text.split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string[]> = {};
    for (const line of headerLines) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim().toLowerCase();
      (headers[k] ??= []).push(line.slice(i + 1).trim());
    }
    if (status !== 101) {
      socket.resume();
      const body = await new Promise<string>((resolve) => {
        let text = head.rest.toString();
        socket.on('data', (c: Buffer) => (text += c.toString()));
        socket.once('close', () => resolve(text));
        socket.once('end', () => resolve(text));
      });
      socket.destroy();
      return { response: { status, headers, body } };
    }
    const client = new TestSpdyClient(socket);
    socket.on('data', (c: Buffer) => client.onData(c));
    socket.on('close', () => {
      // after the frames that arrived before the close are handled
      client.chain = client.chain.then(() => {
        client.closed = true;
        client.wake();
      });
    });
    socket.on('error', () => undefined);
    if (head.rest.length > 0) client.onData(head.rest);
    socket.resume();
    return { client, response: { status, headers, body: '' } };
  }

  /** Opens a stream (SYN_STREAM) with the given headers; `fin` closes our half at once. */
  open(headers: Record<string, string>, fin = false): number {
    const id = this.nextId;
    this.nextId += 2;
    this.streams.set(id, { id, replied: false, reset: undefined, data: Buffer.alloc(0), finished: false });
    this.socket.write(encodeSynStream(id, this.deflater.compress(encodeHeaderBlock(headers)), { fin }));
    return id;
  }

  send(id: number, data: string | Buffer, fin = false): void {
    this.socket.write(encodeDataFrame(id, Buffer.from(data), fin));
  }

  finish(id: number): void {
    this.socket.write(encodeDataFrame(id, Buffer.alloc(0), true));
  }

  ping(id: number): void {
    this.socket.write(encodePing(id));
  }

  /** Writes raw bytes on the socket (malformed frames). */
  raw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }

  stream(id: number): ClientStream {
    const s = this.streams.get(id);
    if (!s) throw new Error(`no stream ${id}`);
    return s;
  }

  /** Waits until `cond` holds (re-checked on every frame) or the socket closes; false if it closed first. */
  async until(cond: () => boolean): Promise<boolean> {
    for (;;) {
      if (cond()) return true;
      if (this.closed) return cond();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private onData(chunk: Buffer): void {
    const frames = this.parser.push(chunk);
    this.chain = this.chain.then(async () => {
      for (const f of frames) await this.handle(f);
      this.wake();
    });
  }

  private async handle(frame: Frame): Promise<void> {
    if (frame.kind === 'data') {
      const s = this.streams.get(frame.streamId);
      if (!s) return;
      s.data = Buffer.concat([s.data, frame.data]);
      if (frame.flags & FLAG_FIN) s.finished = true;
      return;
    }
    switch (frame.type) {
      case ControlType.SynReply: {
        decodeHeaderBlock(await this.inflater.decompress(frame.payload.subarray(4)));
        const s = this.streams.get(controlStreamId(frame));
        if (s) {
          s.replied = true;
          if (frame.flags & FLAG_FIN) s.finished = true;
        }
        return;
      }
      case ControlType.RstStream: {
        const s = this.streams.get(controlStreamId(frame));
        if (s) s.reset = frame.payload.readUInt32BE(4);
        return;
      }
      case ControlType.Ping:
        this.pings.push(frame.payload.readUInt32BE(0));
        return;
      case ControlType.GoAway:
        this.goAway = true;
        return;
      default:
        return;
    }
  }
}
