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
  /** RFC3339Nano time of the first record this entry holds. */
  time: string;
  stream: LogStream;
  /**
   * A line with its trailing newline; or, without one, a piece of a line
   * (at most MAX_RECORD_CONTENT bytes) that the next entries of the same
   * stream continue. The last entry of a stream may also lack its newline
   * when the process ended mid-line.
   */
  line: Buffer;
}

/** Docker's json-file and the monitor's defaults: 10 MiB files, 5 of them. */
export const DEFAULT_LOG_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_LOG_MAX_FILES = 5;

/**
 * Content bytes of one record at most, as the monitor writes them
 * (CRILOG_MAX_CONTENT) and Docker splits its log messages: a longer line is
 * passed on as pieces of this size, never held whole, so reading a log takes
 * bounded memory whatever the container printed.
 */
export const MAX_RECORD_CONTENT = 16 * 1024;

export interface ReadLogOptions {
  /** Files kept by rotation (the writer's maxFiles); default 5. */
  maxFiles?: number;
  /** Only the last N lines (after filtering) of what exists now; absent or negative: all; 0: none. */
  tail?: number;
  /** Only lines at or after / at or before these times (ns since the epoch; a line's time is its first record's). */
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

/** One record (or, for an oversize one, a piece of it) as found in a file. */
interface RawRecord {
  time: string;
  stream: LogStream;
  /** false for P, and for every piece of an oversize record but its last. */
  full: boolean;
  content: Buffer;
  /** Byte offset of the record in its file, and the file's index in the set read (set by feed). */
  offset: number;
  file: number;
}

/** A record's header: "<time> <stream> <P|F> ", never this long in a well-formed log. */
const MAX_HEADER = 128;

/**
 * Splits file bytes into records. Memory stays bounded: a record longer than
 * MAX_RECORD_CONTENT (a log written before records were capped, a foreign
 * one) is passed on in pieces as it arrives, and a line that is no record
 * (no header within MAX_HEADER bytes) is skipped without being kept.
 */
class RecordParser {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Offset of the record being read. */
  private recOffset = 0;
  /** The header of an oversize record whose content is being passed on. */
  private header: { time: string; stream: LogStream; full: boolean } | null = null;
  /** In a line that is no record: drop until its newline. */
  private skipping = false;

  /** Forgets a torn record (the reader moved to another file: records never span files). */
  reset(): void {
    this.pending = [];
    this.pendingLen = 0;
    this.header = null;
    this.skipping = false;
  }

  push(chunk: Buffer, offset: number, out: RawRecord[]): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.pendingLen === 0 && !this.header && !this.skipping) this.recOffset = offset + start;
      if (!this.skipping && end > start) {
        this.pending.push(Buffer.from(chunk.subarray(start, end)));
        this.pendingLen += end - start;
      }
      if (nl < 0) {
        this.overflow(out);
        return;
      }
      this.complete(out);
      start = nl + 1;
    }
  }

  private take(): Buffer {
    const b = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
    this.pending = [];
    this.pendingLen = 0;
    return b;
  }

  /** A record without its newline yet: pass on what exceeds a piece. */
  private overflow(out: RawRecord[]): void {
    if (this.skipping) return;
    if (!this.header) {
      if (this.pendingLen < MAX_HEADER) return;
      const buf = this.take();
      const h = parseHeader(buf);
      if (!h) {
        this.skipping = true;
        return;
      }
      this.header = h.header;
      this.pending = [buf.subarray(h.contentAt)];
      this.pendingLen = buf.length - h.contentAt;
    }
    if (this.pendingLen < MAX_RECORD_CONTENT) return;
    const buf = this.take();
    let at = 0;
    for (; buf.length - at >= MAX_RECORD_CONTENT; at += MAX_RECORD_CONTENT) {
      out.push({ ...this.header, full: false, content: buf.subarray(at, at + MAX_RECORD_CONTENT), offset: this.recOffset, file: 0 });
    }
    if (at < buf.length) {
      this.pending = [buf.subarray(at)];
      this.pendingLen = buf.length - at;
    }
  }

  private complete(out: RawRecord[]): void {
    if (this.skipping) {
      this.skipping = false;
      this.take();
      return;
    }
    const buf = this.take();
    let header = this.header;
    let content = buf;
    this.header = null;
    if (!header) {
      // A malformed record is skipped rather than failing the whole read (a
      // torn write after a crash, a foreign line).
      const h = parseHeader(buf);
      if (!h) return;
      header = h.header;
      content = buf.subarray(h.contentAt);
    }
    let at = 0;
    for (; content.length - at > MAX_RECORD_CONTENT; at += MAX_RECORD_CONTENT) {
      out.push({ ...header, full: false, content: content.subarray(at, at + MAX_RECORD_CONTENT), offset: this.recOffset, file: 0 });
    }
    out.push({ ...header, content: content.subarray(at), offset: this.recOffset, file: 0 });
  }
}

function parseHeader(rec: Buffer): { header: { time: string; stream: LogStream; full: boolean }; contentAt: number } | null {
  const s1 = rec.indexOf(32);
  const s2 = s1 < 0 || s1 > MAX_HEADER ? -1 : rec.indexOf(32, s1 + 1);
  if (s2 < 0 || s2 > MAX_HEADER || rec.length < s2 + 3 || rec[s2 + 2] !== 32) return null;
  const stream = rec.subarray(s1 + 1, s2).toString();
  if (stream !== 'stdout' && stream !== 'stderr') return null;
  const tag = rec[s2 + 1];
  if (tag !== 0x50 /* P */ && tag !== 0x46 /* F */) return null;
  return { header: { time: rec.subarray(0, s1).toString(), stream, full: tag === 0x46 }, contentAt: s2 + 3 };
}

/** Where a record starts: the file's index in the set read, and the offset in it. */
interface Position {
  file: number;
  offset: number;
}

/** What a line start is told, and decides: whether the line is passed on. */
type LineStart = (stream: LogStream, time: string, rec: RawRecord, otherOpen: boolean) => boolean;

const NEWLINE = Buffer.from('\n');

/**
 * Records -> entries, per stream (stdout and stderr interleave). A line's
 * pieces are joined up to MAX_RECORD_CONTENT bytes (a line that reached the
 * log in several writes comes out whole, as Docker's 16 KiB messages do);
 * past that, each MAX_RECORD_CONTENT bytes go out as an entry without a
 * newline. Whether a line is passed on is decided at its first record.
 */
class LineAssembler {
  private readonly open = new Map<LogStream, { keep: boolean; time: string; parts: Buffer[]; bytes: number }>();

  constructor(public onStart: LineStart, public onEnd: (stream: LogStream) => void = () => {}) {}

  /** A stream in the middle of a line nobody wants (a read that starts after the line's first record). */
  skipLineOf(stream: LogStream): void {
    this.open.set(stream, { keep: false, time: '', parts: [], bytes: 0 });
  }

  isOpen(stream: LogStream): boolean {
    return this.open.has(stream);
  }

  record(r: RawRecord, out: LogEntry[]): void {
    let o = this.open.get(r.stream);
    if (!o) {
      const other: LogStream = r.stream === 'stdout' ? 'stderr' : 'stdout';
      o = { keep: this.onStart(r.stream, r.time, r, this.open.has(other)), time: r.time, parts: [], bytes: 0 };
      this.open.set(r.stream, o);
    }
    if (o.keep) {
      if (o.bytes === 0) o.time = r.time;
      o.parts.push(r.content);
      o.bytes += r.content.length;
      if (o.bytes > MAX_RECORD_CONTENT || (!r.full && o.bytes === MAX_RECORD_CONTENT)) {
        const all = Buffer.concat(o.parts, o.bytes);
        let at = 0;
        for (; all.length - at > MAX_RECORD_CONTENT || (!r.full && all.length - at === MAX_RECORD_CONTENT); at += MAX_RECORD_CONTENT) {
          out.push({ time: o.time, stream: r.stream, line: all.subarray(at, at + MAX_RECORD_CONTENT) });
          o.time = r.time;
        }
        o.parts = at < all.length ? [all.subarray(at)] : [];
        o.bytes = all.length - at;
      }
    }
    if (!r.full) return;
    this.open.delete(r.stream);
    if (o.keep) out.push({ time: o.time, stream: r.stream, line: Buffer.concat([...o.parts, NEWLINE]) });
    this.onEnd(r.stream);
  }

  /** Lines still waiting for their F (the process exited mid-line): what is held of them, without a newline. */
  flush(out: LogEntry[]): void {
    for (const [stream, o] of this.open) {
      if (o.keep && o.bytes > 0) out.push({ time: o.time, stream, line: Buffer.concat(o.parts, o.bytes) });
      this.onEnd(stream);
    }
    this.open.clear();
  }
}

/**
 * Reads bytes [span.pos, span.to) of a file (to null: to its end now)
 * through parser and lines, one buffer at a time, passing on the entries of
 * each before reading the next (memory stays at a buffer's worth); span.pos
 * follows what was read. `stop` ends it between records (until passed).
 */
async function* feed(fh: FileHandle, span: { pos: number; to: number | null }, parser: RecordParser, lines: LineAssembler, file: number, stop: () => boolean, buf: Buffer): AsyncGenerator<LogEntry> {
  const recs: RawRecord[] = [];
  const entries: LogEntry[] = [];
  while (span.to === null || span.pos < span.to) {
    const want = span.to === null ? buf.length : Math.min(buf.length, span.to - span.pos);
    const { bytesRead } = await fh.read(buf, 0, want, span.pos);
    if (bytesRead === 0) return;
    parser.push(buf.subarray(0, bytesRead), span.pos, recs);
    span.pos += bytesRead;
    for (const r of recs) {
      r.file = file;
      lines.record(r, entries);
      if (stop()) break;
    }
    recs.length = 0;
    yield* entries.splice(0);
    if (stop()) return;
  }
}

/** Runs a feed that passes nothing on (counting). */
async function drain(g: AsyncGenerator<LogEntry>): Promise<void> {
  for await (const _ of g) void _;
}

/** Reads the container log at path (see ReadLogOptions). */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  const maxFiles = opts.maxFiles ?? DEFAULT_LOG_MAX_FILES;
  const { sinceNs, untilNs, signal } = opts;
  const both = !opts.stdout && !opts.stderr;
  // Lines are in time order: the first one past `until` ends the read.
  let pastUntil = false;
  const wanted = (stream: LogStream, time: string): boolean => {
    if (!both && !(stream === 'stdout' ? opts.stdout : opts.stderr)) return false;
    if (sinceNs === undefined && untilNs === undefined) return true;
    const t = parseRfc3339Nano(time);
    if (t === null) return false;
    if (untilNs !== undefined && t > untilNs) {
      pastUntil = true;
      return false;
    }
    return sinceNs === undefined || t >= sinceNs;
  };
  const stopped = (): boolean => pastUntil;
  const tail = opts.tail !== undefined && opts.tail >= 0 ? opts.tail : -1;

  // History: rotated files oldest first, then the current file up to its
  // end now. The files are opened as one consistent set first (a rotation
  // between opens shifts the names: a file would be skipped or read twice).
  // With no current file at that moment, the rotated files read are
  // remembered by inode, so the first switch to a current file does not
  // read them again; from then on the current file (held open, so its
  // inode cannot be reused) anchors which files are newer.
  const buf = Buffer.allocUnsafe(64 * 1024);
  const seen = new Set<number>();
  const { rotated, current: first } = await openLogSet(path, maxFiles);
  let current: FileHandle | null = first;
  let currentPos = 0;
  const history = [...rotated, ...(current ? [current] : [])];
  let parser = new RecordParser();
  let lines = new LineAssembler((stream, time) => wanted(stream, time));
  try {
    for (const fh of rotated) seen.add((await fh.stat()).ino);
    if (tail < 0) {
      // Everything: passed on as it is read.
      for (let i = 0; i < history.length && !pastUntil; i++) {
        const span = { pos: 0, to: null };
        yield* feed(history[i]!, span, parser, lines, i, stopped, buf);
        if (history[i] === current) currentPos = span.pos;
        else parser.reset();
      }
    } else {
      // tail: counted in lines, held as positions, not as lines (the last
      // line alone may be any size). Pass 1 numbers the wanted lines in the
      // order they start and keeps the last `tail` to end, with where each
      // began; pass 2 reads again from the earliest of those, passing on
      // only them. A line still open at the end counts as one of the last.
      type Start = { index: number; stream: LogStream; pos: Position; otherOpen: boolean };
      const starts = new Map<LogStream, Start | null>();
      const ring: Start[] = [];
      let next = 0;
      const counter = new LineAssembler(
        (stream, time, rec, otherOpen) => {
          starts.set(stream, wanted(stream, time) ? { index: next++, stream, pos: { file: rec.file, offset: rec.offset }, otherOpen } : null);
          return false;
        },
        (stream) => {
          const s = starts.get(stream);
          starts.delete(stream);
          if (!s || tail === 0) return;
          ring.push(s);
          if (ring.length > tail) ring.shift();
        },
      );
      const ends: number[] = [];
      for (let i = 0; i < history.length && !pastUntil; i++) {
        const span = { pos: 0, to: null };
        await drain(feed(history[i]!, span, parser, counter, i, stopped, buf));
        ends[i] = span.pos;
        if (history[i] !== current) parser.reset();
      }
      const openAtEnd = (['stdout', 'stderr'] as const).filter((s) => counter.isOpen(s));
      counter.flush([]);
      if (current) currentPos = ends[history.length - 1] ?? 0;
      if (ring.length === 0) {
        // Nothing to show from the history: go on from its end, past the
        // lines it left open (they began before what is to be shown).
        lines = new LineAssembler((stream, time) => wanted(stream, time));
        for (const s of openAtEnd) lines.skipLineOf(s);
      } else {
        const untilSeen = pastUntil;
        pastUntil = false;
        const from = ring.reduce((a, s) => (s.index < a.index ? s : a));
        const selected = new Set(ring.map((s) => s.index));
        let index = from.index;
        parser = new RecordParser();
        lines = new LineAssembler((stream, time) => wanted(stream, time) && selected.has(index++));
        // The other stream was in the middle of an earlier line there.
        if (from.otherOpen) lines.skipLineOf(from.stream === 'stdout' ? 'stderr' : 'stdout');
        for (let i = from.pos.file; i < history.length && !pastUntil; i++) {
          yield* feed(history[i]!, { pos: i === from.pos.file ? from.pos.offset : 0, to: ends[i] ?? 0 }, parser, lines, i, stopped, buf);
          if (history[i] !== current) parser.reset();
        }
        pastUntil ||= untilSeen;
        // What comes after the history is new: wanted lines all pass.
        lines.onStart = (stream, time) => wanted(stream, time);
      }
    }
    if (!opts.follow || pastUntil || signal?.aborted) {
      // A last line without its newline counts as a line.
      yield* flushed(lines);
      return;
    }
    let currentIno = current ? (await current.stat()).ino : -1;
    /** What was appended to the current file since the last read. */
    const drainCurrent = async function* (): AsyncGenerator<LogEntry> {
      if (!current) return;
      const span = { pos: currentPos, to: null };
      try {
        yield* feed(current, span, parser, lines, 0, stopped, buf);
      } finally {
        currentPos = span.pos;
      }
    };
    /** Reads a whole file the writer has moved past, then forgets its torn end. */
    const drainWhole = async function* (fh: FileHandle): AsyncGenerator<LogEntry> {
      yield* feed(fh, { pos: 0, to: null }, parser, lines, 0, stopped, buf);
      parser.reset();
    };
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
        yield* drainCurrent();
        if (pastUntil) return;
        const st = await stat(path).catch(() => null);
        if (st && st.ino !== currentIno) {
          // The writer moved on to a new file: what it appended to ours
          // between the drain above and the rename is there now; read it.
          yield* drainCurrent();
          if (pastUntil) return;
          parser.reset();
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
              const fh = newer.shift()!;
              try {
                yield* drainWhole(fh);
              } finally {
                await fh.close();
              }
              if (pastUntil) return;
            }
          } finally {
            await Promise.all(newer.map((fh) => fh.close()));
          }
          current = next;
          currentPos = 0;
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
      yield* flushed(lines);
    } finally {
      watcher?.close();
      signal?.removeEventListener('abort', poke);
    }
  } finally {
    await current?.close();
    await Promise.all(rotated.map((fh) => fh.close()));
  }
}


/** The rest of the lines left open (the end of the read). */
function* flushed(lines: LineAssembler): Generator<LogEntry> {
  const out: LogEntry[] = [];
  lines.flush(out);
  yield* out;
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
