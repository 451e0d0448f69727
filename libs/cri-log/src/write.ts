// Writing a CRI log from TypeScript, rotated exactly as the monitor rotates
// its own (native/src/monitor/crilog.c): before a record that would take
// the current file past maxSize, <path>.<N-2> ... <path>.1 and <path> each
// move one up and <path>.<N-1> is dropped; with one file, it starts over.
// The engine keeps its copy of each container's log with it (the monitor's
// goes with the container's runtime state), so that copy is held to the
// same bounds.
import { open, rename, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { InvalidArgumentError, fromNodeError } from '@berth/errors';
import { DEFAULT_LOG_MAX_FILES, DEFAULT_LOG_MAX_SIZE, MAX_RECORD_CONTENT, type LogEntry } from './read';

const NEWLINE = Buffer.from('\n');
import { parseRfc3339Nano } from './time';

export interface LogWriterOptions {
  /** Rotate before a file passes this many bytes; 0 never rotates. Default 10 MiB. */
  maxSize?: number;
  /** Files kept, the current one included (1..1000). Default 5. */
  maxFiles?: number;
}

/** Checks rotation bounds; the error names the bad one (as the caller calls it). */
export function checkLogBounds(maxSize: number, maxFiles: number, names = { size: 'maxSize', files: 'maxFiles' }): void {
  if (!Number.isSafeInteger(maxSize) || maxSize < 0) throw new InvalidArgumentError(`${names.size} ${maxSize} must be a non-negative integer (bytes; 0 never rotates)`, { field: names.size });
  if (!Number.isInteger(maxFiles) || maxFiles < 1 || maxFiles > 1000) throw new InvalidArgumentError(`${names.files} ${maxFiles} must be 1..1000`, { field: names.files });
}

/**
 * Appends lines as CRI records. write() queues (records stay in order and
 * are written in batches); await drained() when pendingBytes grows, and
 * close() to flush. A write error fails drained() and close().
 */
export class LogWriter {
  private fh: FileHandle | null;
  private size: number;
  private queue: Buffer[] = [];
  private queued = 0;
  private flushing: Promise<void> | null = null;
  private error: Error | null = null;
  private closed = false;
  /** A reopen in progress, and the records written meanwhile (for the new file). */
  private reopening: Promise<void> | null = null;
  private held: Buffer[] | null = null;

  private constructor(readonly path: string, private readonly maxSize: number, private readonly maxFiles: number, fh: FileHandle, size: number) {
    this.fh = fh;
    this.size = size;
  }

  static async open(path: string, opts: LogWriterOptions = {}): Promise<LogWriter> {
    const maxSize = opts.maxSize ?? DEFAULT_LOG_MAX_SIZE;
    const maxFiles = opts.maxFiles ?? DEFAULT_LOG_MAX_FILES;
    checkLogBounds(maxSize, maxFiles);
    const { fh, size } = await openCurrent(path);
    return new LogWriter(path, maxSize, maxFiles, fh, size);
  }

  /** Bytes queued and not yet written. */
  get pendingBytes(): number {
    return this.queued;
  }

  /**
   * Queues one line (its trailing newline, if any, ends it: an F record;
   * without one it is a P piece that the reader joins with what follows).
   */
  write(e: LogEntry): void {
    if (this.closed) throw new Error(`log ${this.path} is closed`);
    const full = e.line.length > 0 && e.line[e.line.length - 1] === 10;
    const content = full ? e.line.subarray(0, -1) : e.line;
    // A line holds no newline but its last byte. A long one becomes records
    // of MAX_RECORD_CONTENT at most, as the monitor writes them.
    for (let at = 0; at === 0 || at < content.length; at += MAX_RECORD_CONTENT) {
      const last = at + MAX_RECORD_CONTENT >= content.length;
      const rec = Buffer.concat([Buffer.from(`${e.time} ${e.stream} ${full && last ? 'F' : 'P'} `), content.subarray(at, at + MAX_RECORD_CONTENT), NEWLINE]);
      (this.held ?? this.queue).push(rec);
      this.queued += rec.length;
    }
    // During a reopen the records wait for the new file (reopen flushes them).
    if (!this.held) this.flushing ??= this.flush().finally(() => (this.flushing = null));
  }

  /** Resolves once everything queued so far is written. */
  async drained(): Promise<void> {
    while (this.flushing || this.reopening) {
      await this.reopening?.catch(() => undefined);
      await this.flushing;
    }
    if (this.error) throw this.error;
  }

  /**
   * Closes the file and opens the path again, creating it: records queued
   * from the call on go to the file at the path, not to one renamed away
   * (kubelet rotates a CRI log by renaming it, then asks the runtime to
   * reopen it); records queued before it go to the file that was open.
   * A failure to open fails this call, and drained() and close() after it.
   */
  async reopen(): Promise<void> {
    if (this.closed) throw new Error(`log ${this.path} is closed`);
    while (this.reopening) await this.reopening.catch(() => undefined);
    // Writes from here on wait in `held` (no flush starts for them) while
    // the flush of what came before ends and the file changes.
    const held: Buffer[] = [];
    this.held = held;
    const swap = (async () => {
      try {
        while (this.flushing) await this.flushing;
        if (this.error) throw this.error;
        const old = this.fh;
        this.fh = null;
        await old?.close();
        const { fh, size } = await openCurrent(this.path);
        this.fh = fh;
        this.size = size;
      } catch (e) {
        this.error ??= fromNodeError(e, `reopen log ${this.path}`);
        this.queue = [];
        this.queued = 0;
        held.length = 0;
        throw this.error;
      } finally {
        this.held = null;
        this.queue.push(...held);
      }
      if (this.queue.length) this.flushing ??= this.flush().finally(() => (this.flushing = null));
    })();
    this.reopening = swap;
    try {
      await swap;
    } finally {
      if (this.reopening === swap) this.reopening = null;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    try {
      await this.drained();
    } finally {
      const fh = this.fh;
      this.fh = null;
      await fh?.close();
    }
  }

  private async flush(): Promise<void> {
    try {
      while (this.queue.length && !this.error) {
        // As many records as fit in the current file (at least one in an empty one).
        let n = 0;
        let bytes = 0;
        while (n < this.queue.length) {
          const len = this.queue[n]!.length;
          if (this.maxSize > 0 && this.size + bytes > 0 && this.size + bytes + len > this.maxSize) break;
          bytes += len;
          n++;
        }
        if (n === 0) {
          await this.rotate();
          continue;
        }
        const batch = this.queue.splice(0, n);
        await this.fh!.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, bytes));
        this.size += bytes;
        this.queued -= bytes;
      }
    } catch (e) {
      this.error = fromNodeError(e, `write log ${this.path}`);
      this.queue = [];
      this.queued = 0;
    }
  }

  private async rotate(): Promise<void> {
    await this.fh!.close();
    this.fh = null;
    if (this.maxFiles === 1) {
      await truncate(this.path, 0).catch(ignoreENOENT);
    } else {
      await unlink(`${this.path}.${this.maxFiles - 1}`).catch(ignoreENOENT);
      for (let i = this.maxFiles - 1; i > 1; i--) await rename(`${this.path}.${i - 1}`, `${this.path}.${i}`).catch(ignoreENOENT);
      await rename(this.path, `${this.path}.1`).catch(ignoreENOENT);
    }
    const { fh, size } = await openCurrent(this.path);
    this.fh = fh;
    this.size = size;
  }
}

async function openCurrent(path: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'a', 0o600);
  } catch (e) {
    throw fromNodeError(e, `open log ${path}`);
  }
  return { fh, size: (await fh.stat()).size };
}

function ignoreENOENT(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
}

/**
 * Where a copy of a log left off, exactly: the time of its last record and
 * how many records at its end carry that time (across rotated files). A copy
 * made record by record, in order, from a log whose records of one read share
 * a time (the monitor stamps them alike) is a prefix of it: resuming, skip the
 * records older than `time` and the first `count` of those at `time`. (The
 * time alone cannot tell how many of a read's records the copy got before it
 * stopped.) Reads backwards a block at a time, stopping at the first record
 * with another time: memory stays a block plus one record (at most
 * MAX_RECORD_CONTENT of content). null when the log is empty or missing.
 */
export async function lastLogRecords(path: string, maxFiles = DEFAULT_LOG_MAX_FILES): Promise<{ time: bigint; count: number } | null> {
  const block = Buffer.allocUnsafe(64 * 1024);
  let time: bigint | null = null;
  let count = 0;
  /** Counts one record (a line without its newline); false once one has another time. */
  const record = (line: Buffer): boolean => {
    if (line.length === 0) return true;
    const t = parseRfc3339Nano(line.subarray(0, Math.min(64, line.length)).toString('latin1').split(' ', 1)[0] ?? '');
    if (t === null) return true; // not a record (a torn one): not counted
    if (time === null) time = t;
    else if (t !== time) return false;
    count++;
    return true;
  };
  for (let i = 0; i < maxFiles; i++) {
    const p = i === 0 ? path : `${path}.${i}`;
    let fh: FileHandle;
    try {
      fh = await open(p, 'r');
    } catch {
      continue;
    }
    try {
      let end = (await fh.stat()).size;
      // The start of the region after `end` whose first line began before it.
      let tail: Buffer = Buffer.alloc(0);
      while (end > 0) {
        const from = Math.max(0, end - block.length);
        const { bytesRead } = await fh.read(block, 0, end - from, from);
        const buf = Buffer.concat([block.subarray(0, bytesRead), tail]);
        // Lines from the last back; the first may have begun before `from`.
        let stop = buf.length;
        for (let k = buf.length - 1; k >= 0; k--) {
          if (buf[k] !== 10) continue;
          if (!record(buf.subarray(k + 1, stop))) return { time: time!, count };
          stop = k;
        }
        tail = Buffer.from(buf.subarray(0, stop));
        end = from;
      }
      if (!record(tail)) return { time: time!, count };
    } finally {
      await fh.close();
    }
  }
  return time === null ? null : { time, count };
}
