// Reading container logs in the CRI format the namespaces service's monitor
// writes (kubelet's format, kubernetes/cri-api "Container logs"):
//
//   <RFC3339Nano time> <stdout|stderr> <P|F> <content>\n
//
// "P" marks a partial line (the runtime split a long line or flushed before a
// newline); the following entries up to and including an "F" one form one
// logical line. Rotation renames path -> path.1 -> path.2 ... (larger = older),
// so a full read goes path.N, ..., path.1, path.
//
// Follow mode polls the live file (fs.watch misses renames on some
// filesystems and does not fire across a rotation reliably); a rotation is
// noticed when the path's inode changes or the file shrinks, and the old file
// is drained before switching, so no line is lost or repeated.
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fromNodeError, InvalidArgumentError } from '@berth/errors';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  /** Time of the entry (of its first fragment for joined partial lines), as written. */
  time: string;
  /** Nanoseconds since the epoch. */
  timeNs: bigint;
  stream: LogStream;
  /** The logical line without its newline. */
  line: string;
}

export interface ReadLogsOptions {
  /** Keep reading new entries until `signal` aborts (or an entry passes `untilNs`). */
  follow?: boolean;
  /** Only the last N entries of what exists now (before following); undefined or < 0 = all. */
  tail?: number;
  /** Entries at or after this time (ns since epoch). */
  sinceNs?: bigint;
  /** Entries at or before this time (ns since epoch). */
  untilNs?: bigint;
  /** Which streams; default both. */
  stdout?: boolean;
  stderr?: boolean;
  signal?: AbortSignal;
  /** Follow polling interval, ms (default 100). */
  pollMs?: number;
}

const LINE = /^(\S+) (stdout|stderr) ([PF]) (.*)$/s;

/** RFC3339(Nano) -> ns since epoch; null when not a timestamp. */
export function parseRfc3339Nano(s: string): bigint | null {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return null;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
}

/** Docker API style "seconds[.fraction]" since the epoch -> ns. */
export function parseUnixTimestamp(s: string, field = 'since'): bigint {
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(s);
  if (!m) throw new InvalidArgumentError(`invalid timestamp "${s}" for ${field}: expected seconds since the epoch, optionally with a fraction`, { field });
  return BigInt(m[1]!) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

interface Parsed { time: string; timeNs: bigint; stream: LogStream; partial: boolean; content: string }

function parseLine(raw: string): Parsed | null {
  const m = LINE.exec(raw);
  if (!m) return null;
  const timeNs = parseRfc3339Nano(m[1]!);
  if (timeNs === null) return null;
  return { time: m[1]!, timeNs, stream: m[2] as LogStream, partial: m[3] === 'P', content: m[4]! };
}

/** Rotated files of `path`, oldest first, then `path` itself. */
export async function logFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fromNodeError(e, `list log directory ${dir}`);
  }
  const rotated = names
    .map((n) => (n.startsWith(`${base}.`) ? Number(n.slice(base.length + 1)) : NaN))
    .filter((n) => Number.isInteger(n) && n > 0)
    .sort((a, b) => b - a)
    .map((n) => join(dir, `${base}.${n}`));
  return names.includes(base) ? [...rotated, path] : rotated;
}

/**
 * Joins partial fragments per stream (stdout and stderr interleave, and a
 * partial stdout line may be followed by a stderr entry before its F).
 */
class Joiner {
  private pending = new Map<LogStream, { time: string; timeNs: bigint; parts: string[] }>();
  push(p: Parsed): LogEntry | null {
    const cur = this.pending.get(p.stream);
    if (p.partial) {
      if (cur) cur.parts.push(p.content);
      else this.pending.set(p.stream, { time: p.time, timeNs: p.timeNs, parts: [p.content] });
      return null;
    }
    if (cur) {
      this.pending.delete(p.stream);
      return { time: cur.time, timeNs: cur.timeNs, stream: p.stream, line: cur.parts.join('') + p.content };
    }
    return { time: p.time, timeNs: p.timeNs, stream: p.stream, line: p.content };
  }
}

/** Reads whole lines from a file handle from `offset`; keeps an unterminated tail for next time. */
class LineReader {
  private rest = '';
  constructor(private fh: FileHandle, public offset = 0) {}
  async readLines(): Promise<string[]> {
    const out: string[] = [];
    const buf = Buffer.alloc(64 * 1024);
    for (;;) {
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      const text = this.rest + buf.subarray(0, bytesRead).toString('utf8');
      const parts = text.split('\n');
      this.rest = parts.pop()!;
      out.push(...parts);
    }
    return out;
  }
  close(): Promise<void> { return this.fh.close(); }
}

/**
 * Yields log entries per the options: the existing content (rotated files
 * first; `tail` keeps only the last N matching entries), then, with follow,
 * new entries as they are written, across rotations.
 */
export async function* readLogs(path: string, opts: ReadLogsOptions = {}): AsyncGenerator<LogEntry> {
  const wantStdout = opts.stdout ?? true;
  const wantStderr = opts.stderr ?? true;
  const tail = opts.tail !== undefined && opts.tail >= 0 ? opts.tail : -1;
  const joiner = new Joiner();
  const match = (e: LogEntry): boolean =>
    (e.stream === 'stdout' ? wantStdout : wantStderr) &&
    (opts.sinceNs === undefined || e.timeNs >= opts.sinceNs) &&
    (opts.untilNs === undefined || e.timeNs <= opts.untilNs);
  const pastUntil = (e: LogEntry): boolean => opts.untilNs !== undefined && e.timeNs > opts.untilNs;

  // Phase 1: what exists now. The live file stays open for follow.
  const files = await logFiles(path);
  const ring: LogEntry[] = [];
  let live: LineReader | null = null;
  let liveIno = -1;
  // An entry already past `until`: following could only yield nothing more.
  let reachedUntil = false;
  for (const f of files) {
    let fh: FileHandle;
    try { fh = await open(f, 'r'); } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // rotated away meanwhile
      throw fromNodeError(e, `open log ${f}`);
    }
    const reader = new LineReader(fh);
    for (const raw of await reader.readLines()) {
      const p = parseLine(raw);
      if (!p) continue; // a torn or foreign line: skip rather than fail the whole read
      const e = joiner.push(p);
      if (e && pastUntil(e)) reachedUntil = true;
      if (!e || !match(e)) continue;
      if (tail < 0) yield e;
      else if (tail > 0) { ring.push(e); if (ring.length > tail) ring.shift(); }
    }
    if (f === path) { live = reader; liveIno = (await fh.stat()).ino; } else await reader.close();
  }
  for (const e of ring) yield e;
  if (!opts.follow || reachedUntil) { await live?.close(); return; }

  // Phase 2: follow.
  const pollMs = opts.pollMs ?? 100;
  try {
    while (!opts.signal?.aborted) {
      if (live) {
        for (const raw of await live.readLines()) {
          const p = parseLine(raw);
          if (!p) continue;
          const e = joiner.push(p);
          if (!e) continue;
          if (pastUntil(e)) return;
          if (match(e)) yield e;
        }
      }
      // Rotated or truncated? Drain done above; switch to the new file.
      let st: { ino: number; size: number } | null = null;
      try { st = await stat(path); } catch { st = null; }
      if (st && (st.ino !== liveIno || (live && st.size < live.offset))) {
        if (live && st.ino === liveIno) live.offset = 0; // truncated in place (copytruncate)
        else {
          // Read anything written to the old file between our last read and the rename.
          if (live) {
            for (const raw of await live.readLines()) {
              const p = parseLine(raw);
              const e = p && joiner.push(p);
              if (e && match(e)) yield e;
            }
            await live.close();
          }
          try {
            live = new LineReader(await open(path, 'r'));
            liveIno = st.ino;
          } catch { live = null; liveIno = -1; }
        }
        continue;
      }
      await sleep(pollMs, opts.signal);
    }
  } finally {
    await live?.close().catch(() => {});
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** One entry as `docker logs` prints it (timestamps adds Docker's RFC3339Nano prefix). */
export function formatLogEntry(e: LogEntry, timestamps: boolean): string {
  return timestamps ? `${e.time} ${e.line}\n` : `${e.line}\n`;
}
