// The remotecommand resize stream: the client writes a JSON object per terminal size change,
// {"Width":80,"Height":24} (client-go's TerminalSize, field names matched case-insensitively as Go's
// json decoder does), back to back with no separator. ResizeQueue turns that into the
// AsyncIterable<TerminalSize> the runtime reads.
import type { Readable } from 'node:stream';
import type { TerminalSize } from './runtime';

/** Sizes waiting to be read beyond this are dropped oldest first (only the latest size matters). */
const MAX_QUEUED = 16;
/** A JSON object longer than this without closing is not a size: the stream is abandoned. */
const MAX_OBJECT = 4096;

export class ResizeQueue implements AsyncIterable<TerminalSize> {
  private readonly queued: TerminalSize[] = [];
  private waiter: (() => void) | undefined;
  private ended = false;

  push(size: TerminalSize): void {
    if (this.ended) return;
    this.queued.push(size);
    if (this.queued.length > MAX_QUEUED) this.queued.shift();
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TerminalSize> {
    for (;;) {
      const next = this.queued.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** Parses one JSON object's text into a size; undefined when it is not one. */
export function parseTerminalSize(text: string): TerminalSize | undefined {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof obj !== 'object' || obj === null) return undefined;
  let width: number | undefined;
  let height: number | undefined;
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) continue;
    if (k.toLowerCase() === 'width') width = v;
    if (k.toLowerCase() === 'height') height = v;
  }
  return width === undefined || height === undefined ? undefined : { width, height };
}

/** Feeds the sizes a resize stream carries into `queue`, ending it when the stream ends. */
export function readResizeStream(stream: Readable, queue: ResizeQueue): void {
  let buf = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    for (const ch of chunk) {
      buf += ch;
      if (inString) {
        if (escaped) escaped = false;
        else if (ch === '\\') escaped = true;
        else if (ch === '"') inString = false;
      } else if (ch === '"') inString = true;
      else if (ch === '{') {
        if (depth === 0) start = buf.length - 1;
        depth++;
      } else if (ch === '}' && depth > 0) {
        depth--;
        if (depth === 0) {
          const size = parseTerminalSize(buf.slice(start));
          if (size) queue.push(size);
          buf = '';
          start = -1;
        }
      } else if (depth === 0 && ch.trim() === '') {
        buf = '';
      }
      if (buf.length > MAX_OBJECT) {
        // Go's decoder stops at the first bad value; so do we.
        queue.end();
        stream.destroy();
        return;
      }
    }
  });
  stream.on('end', () => queue.end());
  stream.on('close', () => queue.end());
  stream.on('error', () => queue.end());
}
