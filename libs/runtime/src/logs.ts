// Reading a container's CRI log (docker logs / the Logs rpc): the files the
// monitor writes and rotates (<path>.<n> oldest ... <path>.1, <path>),
// records joined back into lines (P pieces up to the next F of the same
// stream), filtered, and optionally followed until the container exits.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';

export interface LogEntry {
  /** RFC3339Nano time the monitor read the line's first piece. */
  time: string;
  stream: 'stdout' | 'stderr';
  /** The line, with its trailing newline when it had one. */
  line: Buffer;
}

export interface ReadLogOptions {
  /** Files kept by rotation (the container's logMaxFiles); default 5. */
  maxFiles?: number;
  /** Only the last N lines (after filtering); 0 or absent: all. */
  tail?: number;
  /** Only lines at or after / before these RFC3339 times. */
  since?: string;
  until?: string;
  /** Streams to include; both when neither is set. */
  stdout?: boolean;
  stderr?: boolean;
  /**
   * Keep reading new lines until this settles (the container's exit), then
   * drain what was written before it. Absent: stop at the end of the files.
   */
  follow?: Promise<unknown>;
}

/** Nanoseconds since the epoch of an RFC3339 time (any fraction length, Z or offset). */
export function rfc3339ToNanos(s: string, field = 'time'): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  const ms = m ? Date.parse(`${m[1]}${m[3]}`) : NaN;
  if (!m || Number.isNaN(ms)) throw new InvalidArgumentError(`${field} ${JSON.stringify(s)} is not an RFC3339 time (2006-01-02T15:04:05.999999999Z)`, { field });
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** Joins CRI records into lines; one per reader (partials are per stream). */
class LineJoiner {
  private readonly partial = new Map<string, { time: string; parts: Buffer[] }>();
  private rest: Buffer = Buffer.alloc(0);

  /** Feeds file bytes; returns completed lines. */
  push(chunk: Buffer): LogEntry[] {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: LogEntry[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
      this.record(buf.subarray(start, nl), out);
      start = nl + 1;
    }
    this.rest = Buffer.from(buf.subarray(start));
    return out;
  }

  /** Lines still waiting for their F (the process exited mid-line). */
  flush(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const [stream, p] of this.partial) out.push({ time: p.time, stream: stream as LogEntry['stream'], line: Buffer.concat(p.parts) });
    this.partial.clear();
    return out;
  }

  private record(rec: Buffer, out: LogEntry[]): void {
    // <time> <stream> <P|F> <content>; a malformed record is skipped rather
    // than failing the whole read (a torn write after a crash).
    const s1 = rec.indexOf(32);
    const s2 = s1 < 0 ? -1 : rec.indexOf(32, s1 + 1);
    if (s2 < 0 || rec.length < s2 + 3 || rec[s2 + 2] !== 32) return;
    const time = rec.subarray(0, s1).toString();
    const stream = rec.subarray(s1 + 1, s2).toString();
    if (stream !== 'stdout' && stream !== 'stderr') return;
    const tag = rec[s2 + 1];
    const content = rec.subarray(s2 + 3);
    const p = this.partial.get(stream);
    if (tag === 0x50 /* P */) {
      if (p) p.parts.push(Buffer.from(content));
      else this.partial.set(stream, { time, parts: [Buffer.from(content)] });
      return;
    }
    if (tag !== 0x46 /* F */) return;
    const parts = p ? [...p.parts, content, Buffer.from('\n')] : [content, Buffer.from('\n')];
    this.partial.delete(stream);
    out.push({ time: p?.time ?? time, stream, line: Buffer.concat(parts) });
  }
}

/** Reads the container log at path (see ReadLogOptions). */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  const maxFiles = opts.maxFiles ?? 5;
  const since = opts.since ? rfc3339ToNanos(opts.since, 'since') : null;
  const until = opts.until ? rfc3339ToNanos(opts.until, 'until') : null;
  const both = !opts.stdout && !opts.stderr;
  const keep = (e: LogEntry) => {
    if (!both && !(e.stream === 'stdout' ? opts.stdout : opts.stderr)) return false;
    if (since === null && until === null) return true;
    const t = rfc3339ToNanos(e.time);
    return (since === null || t >= since) && (until === null || t < until);
  };
  const joiner = new LineJoiner();
  const tail = opts.tail && opts.tail > 0 ? opts.tail : 0;
  const held: LogEntry[] = [];
  const emitAll = function* (entries: LogEntry[]) {
    for (const e of entries) if (keep(e)) yield e;
  };

  // History: rotated files oldest first, then the current file up to its
  // end now; with tail, only the last lines of all that. The files are
  // opened as one consistent set first (a rotation between opens shifts the
  // names: a file would be skipped or read twice), and every file read is
  // remembered by inode so following never reads one again.
  const buf = Buffer.allocUnsafe(64 * 1024);
  const seen = new Set<number>();
  const { rotated, current: first } = await openLogSet(path, maxFiles);
  for (const fh of rotated) {
    try {
      seen.add((await fh.stat()).ino);
      for (let n; (n = (await fh.read(buf, 0, buf.length, null)).bytesRead) > 0; ) {
        for (const e of emitAll(joiner.push(Buffer.from(buf.subarray(0, n))))) hold(e);
      }
    } finally {
      await fh.close();
    }
  }
  let current: FileHandle | null = first;
  let currentIno = current ? (await current.stat()).ino : -1;
  if (current) seen.add(currentIno);
  const drainCurrent = async (): Promise<LogEntry[]> => {
    const out: LogEntry[] = [];
    if (!current) return out;
    for (let n; (n = (await current.read(buf, 0, buf.length, null)).bytesRead) > 0; ) out.push(...emitAll(joiner.push(Buffer.from(buf.subarray(0, n)))));
    return out;
  };
  try {
    for (const e of await drainCurrent()) hold(e);
    if (!opts.follow) {
      // A last line without its newline counts as a line (for tail too).
      for (const e of emitAll(joiner.flush())) hold(e);
      yield* held.splice(0);
      return;
    }
    yield* held.splice(0);

    // Follow: wake on any change in the log's directory (appends, and the
    // rename + create of a rotation), read on, switch files when the path
    // names a new inode, and stop after the exit once the file is drained.
    let exited = false;
    let wake: (() => void) | null = null;
    const poke = () => {
      const w = wake;
      wake = null;
      w?.();
    };
    const done = opts.follow.then(
      () => ((exited = true), poke()),
      () => ((exited = true), poke()),
    );
    const watcher = watch(dirname(path), (_ev, name) => {
      if (!name || name.toString().startsWith(basename(path))) poke();
    });
    try {
      for (;;) {
        const wasExited = exited;
        yield* await drainCurrent();
        const st = await stat(path).catch(() => null);
        if (st && st.ino !== currentIno) {
          // The writer moved on to a new file: what it appended to ours
          // between the drain above and the rename is there now; read it.
          yield* await drainCurrent();
          // Rotated, maybe several times since we looked: the file we read
          // is complete (drained above) and is now <path>.k, or gone. Files
          // newer than it are <path>.k-1 ... <path>.1, then <path>; open
          // them all first (an open fd survives further renames), then read
          // them oldest first.
          let k = maxFiles;
          for (let i = 1; i < maxFiles; i++) {
            const s = await stat(`${path}.${i}`).catch(() => null);
            if (s && s.ino === currentIno) {
              k = i;
              break;
            }
          }
          const newer: FileHandle[] = [];
          for (let i = k - 1; i >= 1; i--) {
            const fh = await open(`${path}.${i}`, 'r').catch(() => null);
            if (!fh) continue;
            // Already read (in the history, when there was no current file to track).
            const ino = (await fh.stat()).ino;
            if (seen.has(ino)) await fh.close();
            else {
              seen.add(ino);
              newer.push(fh);
            }
          }
          const next = await open(path, 'r').catch(() => null);
          await current?.close();
          for (const fh of newer) {
            current = fh;
            try {
              yield* await drainCurrent();
            } finally {
              await fh.close();
            }
          }
          current = next;
          currentIno = next ? (await next.stat()).ino : -1;
          if (next) seen.add(currentIno);
          continue;
        }
        if (wasExited) break;
        await new Promise<void>((res) => {
          wake = res;
          if (exited) poke();
        });
      }
      yield* emitAll(joiner.flush());
    } finally {
      watcher.close();
      void done;
    }
  } finally {
    await current?.close();
  }

  /**
   * Opens <path>.N-1 ... <path>.1 and <path>, retried until no name moved
   * while they were being opened (each still names the file opened), so
   * the set is what one moment of the log looked like.
   */
  async function openLogSet(path: string, maxFiles: number): Promise<{ rotated: FileHandle[]; current: FileHandle | null }> {
    const names = [...Array.from({ length: maxFiles - 1 }, (_, k) => `${path}.${maxFiles - 1 - k}`), path];
    for (let attempt = 1; ; attempt++) {
      const fhs = await Promise.all(names.map((n) => open(n, 'r').catch(() => null)));
      const inos = await Promise.all(fhs.map(async (fh) => (fh ? (await fh.stat()).ino : -1)));
      const now = await Promise.all(names.map((n) => stat(n).then((st) => st.ino, () => -1)));
      if (attempt >= 10 || now.every((ino, i) => ino === inos[i])) {
        const rotated = fhs.slice(0, -1).filter((fh): fh is FileHandle => fh !== null);
        return { rotated, current: fhs[fhs.length - 1] ?? null };
      }
      await Promise.all(fhs.map((fh) => fh?.close()));
    }
  }

  function hold(e: LogEntry): void {
    held.push(e);
    if (tail && held.length > tail) held.shift();
  }
}
