// Reading a container's CRI log (docker logs; kubelet's format,
// kubernetes/cri-api "Container logs"):
//
//   <RFC3339Nano time> <stdout|stderr> <P|F> <content>\n
//
// "P" marks a piece of a line (split when long, or flushed before its
// newline); the pieces up to and including the next "F" of the same stream
// are one line. Rotation renames <path> -> <path>.1 -> ... -> <path>.<N-1>
// (larger = older), so the whole log is <path>.<N-1>, ..., <path>.1, <path>.
//
// One reader for both copies of a log: the monitor's (namespaces service)
// and the engine's copy of it (write.ts). Retention is bounded: a follower
// that falls more than maxFiles-1 rotations behind the writer (40 MiB with
// the defaults) finds the files dropped meanwhile gone, as with Docker's
// json-file driver; it goes on with what is there.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseRfc3339Nano } from './time';

export type LogStream = 'stdout' | 'stderr';

export interface LogEntry {
  /** RFC3339Nano time the line's first piece was read. */
  time: string;
  stream: LogStream;
  /** The line, with its trailing newline when it had one. */
  line: Buffer;
}

/** Docker's json-file and the monitor's defaults: 10 MiB files, 5 of them. */
export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;

export interface ReadLogOptions {
  /** Files kept by rotation (the writer's maxFiles); default 5. */
  maxFiles?: number;
  /** Only the last N lines (after filtering) of what exists now; absent or negative: all; 0: none. */
  tail?: number;
  /** Only lines at or after / at or before these times (ns since the epoch). */
  sinceNs?: bigint;
  untilNs?: bigint;
  /** Streams to include; both when neither is set. */
  stdout?: boolean;
  stderr?: boolean;
  /**
   * Keep reading new lines until this settles (the container's exit), then
   * drain what was written before it; a line past untilNs ends it too.
   * Absent: stop at the end of the files.
   */
  follow?: Promise<unknown>;
  /** Ends a follow at once (the client went away): nothing more is read. */
  signal?: AbortSignal;
  /**
   * While following, look at the files at least this often (ms; default
   * 1000) even without a change notice: inotify is not on every filesystem.
   */
  pollMs?: number;
}

/** Joins CRI records into lines; one per reader (pieces are per stream). */
class LineJoiner {
  private readonly partial = new Map<LogStream, { time: string; parts: Buffer[] }>();
  private rest: Buffer = Buffer.alloc(0);

  /** Feeds file bytes; returns the lines they complete. */
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

  /** Lines still waiting for their F (the process exited mid-line), without a newline. */
  flush(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const [stream, p] of this.partial) out.push({ time: p.time, stream, line: Buffer.concat(p.parts) });
    this.partial.clear();
    return out;
  }

  private record(rec: Buffer, out: LogEntry[]): void {
    // A malformed record is skipped rather than failing the whole read (a
    // torn write after a crash, a foreign line).
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
    const parts = p ? [...p.parts, content, NEWLINE] : [content, NEWLINE];
    this.partial.delete(stream);
    out.push({ time: p?.time ?? time, stream, line: Buffer.concat(parts) });
  }
}

const NEWLINE = Buffer.from('\n');

/** Reads the container log at path (see ReadLogOptions). */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  const maxFiles = opts.maxFiles ?? DEFAULT_LOG_MAX_FILES;
  const { sinceNs, untilNs, signal } = opts;
  const both = !opts.stdout && !opts.stderr;
  const timeOf = (e: LogEntry): bigint | null => parseRfc3339Nano(e.time);
  // Lines are in time order: the first one past `until` ends the read.
  let pastUntil = false;
  const keep = (e: LogEntry): boolean => {
    if (!both && !(e.stream === 'stdout' ? opts.stdout : opts.stderr)) return false;
    if (sinceNs === undefined && untilNs === undefined) return true;
    const t = timeOf(e);
    if (t === null) return false;
    if (untilNs !== undefined && t > untilNs) {
      pastUntil = true;
      return false;
    }
    return sinceNs === undefined || t >= sinceNs;
  };
  const joiner = new LineJoiner();
  const tail = opts.tail !== undefined && opts.tail >= 0 ? opts.tail : -1;
  const held: LogEntry[] = [];
  const hold = (e: LogEntry): void => {
    if (tail === 0) return;
    held.push(e);
    if (tail > 0 && held.length > tail) held.shift();
  };
  const kept = (entries: LogEntry[]): LogEntry[] => entries.filter(keep);

  // History: rotated files oldest first, then the current file up to its
  // end now; with tail, only the last lines of all that. The files are
  // opened as one consistent set first (a rotation between opens shifts the
  // names: a file would be skipped or read twice). With no current file at
  // that moment, the rotated files read are remembered by inode, so the
  // first switch to a current file does not read them again; from then on
  // the current file (held open, so its inode cannot be reused) anchors
  // which files are newer.
  const buf = Buffer.allocUnsafe(64 * 1024);
  const seen = new Set<number>();
  const { rotated, current: first } = await openLogSet(path, maxFiles);
  let current: FileHandle | null = first;
  try {
    for (const fh of rotated.splice(0)) {
      try {
        seen.add((await fh.stat()).ino);
        for (let n; (n = (await fh.read(buf, 0, buf.length, null)).bytesRead) > 0; ) kept(joiner.push(Buffer.from(buf.subarray(0, n)))).forEach(hold);
      } finally {
        await fh.close();
      }
    }
    let currentIno = current ? (await current.stat()).ino : -1;
    const drainCurrent = async (): Promise<LogEntry[]> => {
      const out: LogEntry[] = [];
      if (!current) return out;
      for (let n; (n = (await current.read(buf, 0, buf.length, null)).bytesRead) > 0; ) out.push(...kept(joiner.push(Buffer.from(buf.subarray(0, n)))));
      return out;
    };
    (await drainCurrent()).forEach(hold);
    /**
     * The files written after the one with inode `ino` (now <path>.k, or
     * dropped): <path>.k-1 ... <path>.1 oldest first, then <path>, opened
     * first (an open fd survives further renames) and read after. A rotation
     * between finding k and the opens shifts every name by one, and the file
     * that was at .k-1 would be skipped: one stat after the opens sees `ino`
     * moved, and the set is taken again (a few times at most, so a reader
     * never stalls behind a writer rotating without pause). Files already
     * read in the history while there was no current file (`seen`, ino
     * -1) are left out. Only then: inode numbers of dropped files are
     * reused by new ones.
     */
    const openNewerThan = async (ino: number): Promise<{ newer: FileHandle[]; next: FileHandle | null }> => {
      for (let attempt = 1; ; attempt++) {
        let k = maxFiles;
        for (let i = 1; i < maxFiles; i++) {
          const st = await stat(`${path}.${i}`).catch(() => null);
          if (st && st.ino === ino) {
            k = i;
            break;
          }
        }
        const opened: { fh: FileHandle; ino: number }[] = [];
        for (let i = k - 1; i >= 1; i--) {
          const fh = await open(`${path}.${i}`, 'r').catch(() => null);
          if (fh) opened.push({ fh, ino: (await fh.stat()).ino });
        }
        const next = await open(path, 'r').catch(() => null);
        const moved = k < maxFiles && (await stat(`${path}.${k}`).then((st) => st.ino, () => -1)) !== ino;
        if (moved && attempt < 3) {
          await Promise.all([...opened.map((o) => o.fh.close()), next?.close()]);
          continue;
        }
        const newer: FileHandle[] = [];
        for (const o of opened) {
          if (ino === -1 && seen.has(o.ino)) await o.fh.close(); // read in the history
          else newer.push(o.fh);
        }
        return { newer, next };
      }
    };
    if (!opts.follow || pastUntil || signal?.aborted) {
      // A last line without its newline counts as a line (for tail too).
      kept(joiner.flush()).forEach(hold);
      yield* held.splice(0);
      return;
    }
    yield* held.splice(0);

    // Follow: wake on any change in the log's directory (appends, and the
    // rename + create of a rotation), at least every pollMs, at the end and
    // on abort; read on, switch files when the path names a new inode, and
    // stop after the end once the files are drained.
    let ended = false;
    let wake: (() => void) | null = null;
    const poke = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const end = (): void => {
      ended = true;
      poke();
    };
    opts.follow.then(end, end);
    signal?.addEventListener('abort', poke, { once: true });
    let watcher: FSWatcher | null = null;
    try {
      watcher = watch(dirname(path), (_ev, name) => {
        if (!name || name.toString().startsWith(basename(path))) poke();
      });
    } catch {
      watcher = null; // the directory is gone or not watchable: the poll still runs
    }
    try {
      for (;;) {
        if (signal?.aborted) return;
        const wasEnded = ended;
        yield* await drainCurrent();
        if (pastUntil) return;
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
          const { newer, next } = await openNewerThan(currentIno);
          await current?.close();
          current = null;
          try {
            while (newer.length) {
              current = newer.shift()!;
              yield* await drainCurrent();
              await current.close();
              current = null;
            }
          } finally {
            await Promise.all(newer.map((fh) => fh.close()));
          }
          current = next;
          currentIno = next ? (await next.stat()).ino : -1;
          if (next) seen.clear(); // anchored on the current file from now on
          continue;
        }
        if (wasEnded) break;
        await new Promise<void>((res) => {
          const timer = setTimeout(poke, opts.pollMs ?? 1000);
          wake = () => {
            clearTimeout(timer);
            res();
          };
          if (ended || signal?.aborted) poke();
        });
      }
      yield* kept(joiner.flush());
    } finally {
      watcher?.close();
      signal?.removeEventListener('abort', poke);
    }
  } finally {
    await current?.close();
    await Promise.all(rotated.map((fh) => fh.close()));
  }
}

/**
 * Opens <path>.N-1 ... <path>.1 and <path>, retried until no name moved
 * while they were being opened (each still names the file opened), so the
 * set is what one moment of the log looked like.
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
