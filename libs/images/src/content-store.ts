// The content store (after containerd's content service): immutable blobs
// addressed by sha256 digest, written through resumable ingests.
//
// Layout under `root`:
//   blobs/sha256/<hex>          committed, verified blobs (read-only once there)
//   ingest/<sha256(ref)>/       one in-progress write per ref:
//     ref                       the ref (so `status` can list them)
//     data                      bytes received so far; its size is the offset
//     expected                  JSON {digest,size} the writer promised, if any
//
// Invariants:
// - A blob appears under blobs/ only after its size and digest were checked,
//   by rename(2) from the ingest dir (same filesystem, so atomic). Readers never
//   see partial content.
// - A mismatch raises DataLoss and discards the ingest: resuming would only
//   append to bytes already known to be wrong.
// - One writer per ref at a time (the ref is locked in this process); a second
//   opener waits if it asks to, else gets Unavailable. Reopening a ref after a
//   crash or an interrupted download resumes at the data file's size.
// - The rename and the lease bookkeeping happen under `commitLock`, which the
//   garbage collector also holds for its whole sweep, so a blob is never both
//   visible and unprotected.
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  DataLossError, FailedPreconditionError, InvalidArgumentError, NotFoundError, UnavailableError, fromNodeError, isNotFound,
} from '@berth/errors';
import { digestHex, isSha256Digest } from './digest.js';
import type { LeaseManager } from './leases.js';
import { Mutex } from '@berth/kit';

export interface ContentInfo {
  digest: string;
  size: number;
  /** When the blob was committed (the file's mtime). */
  committedAt: Date;
}

export interface IngestStatus {
  ref: string;
  /** Bytes written so far: where a resumed write continues. */
  offset: number;
  expected: { digest?: string; size?: number } | undefined;
  startedAt: Date;
  updatedAt: Date;
}

export interface WriterOptions {
  /** Names the write; the same ref resumes the same partial data. */
  ref: string;
  /** What the bytes must turn out to be; checked as they arrive and at commit. */
  expected?: { digest?: string; size?: number };
  /** Lease that protects the ingest and, after commit, the blob. */
  leaseId?: string;
  /** Wait for a concurrent writer of the same ref instead of failing. */
  wait?: boolean;
}

/** The buffers of `bufs` after the first `skip` bytes (for short writev results). */
function sliceFrom(bufs: Uint8Array[], skip: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const b of bufs) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

const refKey = (ref: string) => createHash('sha256').update(ref).digest('hex');

export class ContentStore {
  readonly root: string;
  /** Held by commit's rename and by the garbage collector's sweep. */
  readonly commitLock = new Mutex();
  private readonly locked = new Map<string, Promise<void>>();
  /** Open writers by ref key: their offset includes bytes not yet flushed to `data`. */
  private readonly live = new Map<string, ContentWriter>();

  constructor(root: string, private readonly leases: LeaseManager) {
    this.root = root;
  }

  async init(): Promise<void> {
    // Owner-only, also when an older berth made them 0755: a private image's
    // layers (and whatever secret a build left in one) are not other users' to read.
    for (const d of [this.root, join(this.root, 'blobs'), join(this.root, 'blobs', 'sha256'), join(this.root, 'ingest')]) {
      await fs.mkdir(d, { recursive: true, mode: 0o700 });
      await fs.chmod(d, 0o700);
    }
  }

  blobPath(digest: string): string {
    if (!isSha256Digest(digest)) throw new InvalidArgumentError(`digest ${JSON.stringify(digest)} is not a sha256 digest`, { field: 'digest' });
    return join(this.root, 'blobs', 'sha256', digestHex(digest));
  }

  async info(digest: string): Promise<ContentInfo> {
    try {
      const st = await fs.stat(this.blobPath(digest));
      return { digest, size: st.size, committedAt: st.mtime };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`content ${digest} not found`, { field: 'digest' });
      throw fromNodeError(e, `stat content ${digest}`);
    }
  }

  async has(digest: string): Promise<boolean> {
    try {
      await this.info(digest);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async list(): Promise<ContentInfo[]> {
    const dir = join(this.root, 'blobs', 'sha256');
    const out: ContentInfo[] = [];
    for (const name of await fs.readdir(dir)) {
      try {
        const st = await fs.stat(join(dir, name));
        out.push({ digest: `sha256:${name}`, size: st.size, committedAt: st.mtime });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fromNodeError(e, `stat content ${name}`);
      }
    }
    return out;
  }

  /** Removes a blob; NotFound if absent. Reachability is the caller's concern (see gc.ts). */
  async delete(digest: string): Promise<void> {
    try {
      await fs.unlink(this.blobPath(digest));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`content ${digest} not found`, { field: 'digest' });
      throw fromNodeError(e, `delete content ${digest}`);
    }
  }

  /** Streams a blob from `offset` (bytes), at most `length` bytes. */
  async readStream(digest: string, opts: { offset?: number; length?: number } = {}): Promise<ReadStream> {
    const info = await this.info(digest);
    const start = opts.offset ?? 0;
    if (start < 0 || start > info.size) throw new InvalidArgumentError(`offset ${start} is outside ${digest} (size ${info.size})`, { field: 'offset' });
    const end = opts.length === undefined ? undefined : start + opts.length - 1;
    const highWaterMark = 1 << 20;
    if (end !== undefined && end < start) return createReadStream(this.blobPath(digest), { start, end: start - 1, highWaterMark });
    return createReadStream(this.blobPath(digest), { start, highWaterMark, ...(end === undefined ? {} : { end }) });
  }

  /** Reads a whole blob into memory; refuses blobs above `limit` bytes (manifests, configs). */
  async readBytes(digest: string, limit = 16 << 20): Promise<Buffer> {
    const info = await this.info(digest);
    if (info.size > limit) throw new FailedPreconditionError(`content ${digest} is ${info.size} bytes, over the ${limit} byte limit for documents`, { field: 'digest' });
    return fs.readFile(this.blobPath(digest));
  }

  /** Opens (or resumes) the ingest for `opts.ref`. Close or commit the writer to release the ref. */
  async openWriter(opts: WriterOptions): Promise<ContentWriter> {
    if (!opts.ref) throw new InvalidArgumentError('ingest ref must not be empty', { field: 'ref' });
    const exp = opts.expected;
    if (exp?.digest !== undefined && !isSha256Digest(exp.digest)) {
      throw new InvalidArgumentError(`expected digest ${JSON.stringify(exp.digest)} is not a sha256 digest`, { field: 'digest' });
    }
    const key = refKey(opts.ref);
    for (;;) {
      const held = this.locked.get(key);
      if (!held) break;
      if (!opts.wait) throw new UnavailableError(`ref ${opts.ref} is locked: another write to it is in progress; retry later`, { field: 'ref' });
      await held;
    }
    let release!: () => void;
    this.locked.set(key, new Promise<void>((r) => (release = r)));
    const unlock = () => {
      this.locked.delete(key);
      this.live.delete(key);
      release();
    };
    try {
      if (opts.leaseId) this.leases.addResource(opts.leaseId, 'ingest', opts.ref);
      const dir = join(this.root, 'ingest', key);
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      await fs.writeFile(join(dir, 'ref'), opts.ref, { mode: 0o600 });
      const expectedFile = join(dir, 'expected');
      let previous: { digest?: string; size?: number } | undefined;
      try {
        previous = JSON.parse(await fs.readFile(expectedFile, 'utf8')) as typeof previous;
      } catch {
        previous = undefined;
      }
      const dataPath = join(dir, 'data');
      // A resumed ingest that was promised different content starts over.
      if (exp && previous && (previous.digest !== exp.digest || previous.size !== exp.size)) {
        await fs.rm(dataPath, { force: true });
      }
      if (exp) await fs.writeFile(expectedFile, JSON.stringify(exp));
      const fh = await fs.open(dataPath, 'a+');
      // Node's hash state cannot be saved, so resuming re-reads what is there.
      const hash = createHash('sha256');
      let offset = 0;
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        offset += bytesRead;
      }
      const writer = new ContentWriter(this, opts.ref, dir, fh, hash, offset, exp, opts.leaseId, unlock);
      this.live.set(key, writer);
      return writer;
    } catch (e) {
      unlock();
      throw fromNodeError(e, `open ingest ${opts.ref}`);
    }
  }

  /** State of one ingest; NotFound when there is none. */
  async status(ref: string): Promise<IngestStatus> {
    const dir = join(this.root, 'ingest', refKey(ref));
    const live = this.live.get(refKey(ref));
    return this.readStatus(dir).then((st) => (live ? { ...st, offset: live.offset } : st)).catch((e) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`no ingest in progress for ref ${ref}`, { field: 'ref' });
      throw fromNodeError(e, `status of ingest ${ref}`);
    });
  }

  async listStatuses(): Promise<IngestStatus[]> {
    const base = join(this.root, 'ingest');
    const out: IngestStatus[] = [];
    for (const name of await fs.readdir(base)) {
      try {
        out.push(await this.readStatus(join(base, name)));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fromNodeError(e, `status of ingest ${name}`);
      }
    }
    return out;
  }

  /** Discards an ingest that is not being written; FailedPrecondition while it is. */
  async abort(ref: string): Promise<void> {
    const key = refKey(ref);
    if (this.locked.has(key)) throw new FailedPreconditionError(`ingest ${ref} is being written; cancel the writer instead`, { field: 'ref' });
    await this.status(ref);
    await fs.rm(join(this.root, 'ingest', key), { recursive: true, force: true });
  }

  /** True while a writer holds `ref` in this process. */
  isWriting(ref: string): boolean {
    return this.locked.has(refKey(ref));
  }

  /**
   * Adds an existing blob to a lease (a pull that finds a layer already here
   * must still protect it until its image record exists). NotFound if absent.
   */
  async protect(digest: string, leaseId: string): Promise<void> {
    await this.commitLock.run(async () => {
      await this.info(digest);
      this.leases.addResource(leaseId, 'content', digest);
    });
  }

  /** Writes a whole stream or buffer as one blob and commits it. */
  async writeBlob(
    source: Readable | AsyncIterable<Uint8Array> | Buffer,
    opts: WriterOptions,
  ): Promise<{ digest: string; size: number }> {
    if (opts.expected?.digest && (await this.has(opts.expected.digest))) {
      if (opts.leaseId) await this.commitLock.run(() => this.leases.addResource(opts.leaseId!, 'content', opts.expected!.digest!));
      const info = await this.info(opts.expected.digest);
      if (opts.expected.size !== undefined && info.size !== opts.expected.size) {
        throw new DataLossError(`content ${info.digest} is ${info.size} bytes in the store, but ${opts.expected.size} were expected`, { field: 'size' });
      }
      return { digest: info.digest, size: info.size };
    }
    const w = await this.openWriter({ ...opts, wait: true });
    try {
      if (w.offset > 0) await w.truncate(0);
      if (Buffer.isBuffer(source)) await w.write(source);
      else for await (const chunk of source) await w.write(chunk as Uint8Array);
      return await w.commit();
    } catch (e) {
      await w.close();
      throw e;
    }
  }

  private async readStatus(dir: string): Promise<IngestStatus> {
    const ref = await fs.readFile(join(dir, 'ref'), 'utf8');
    const st = await fs.stat(join(dir, 'data')).catch(() => undefined);
    const dst = await fs.stat(dir);
    let expected: IngestStatus['expected'];
    try {
      expected = JSON.parse(await fs.readFile(join(dir, 'expected'), 'utf8')) as IngestStatus['expected'];
    } catch {
      expected = undefined;
    }
    return { ref, offset: st?.size ?? 0, expected, startedAt: dst.birthtime, updatedAt: st?.mtime ?? dst.mtime };
  }

  /** @internal commit step, called by ContentWriter. */
  async commitIngest(w: { ref: string; dir: string; leaseId: string | undefined }, digest: string): Promise<void> {
    const target = this.blobPath(digest);
    await this.commitLock.run(async () => {
      if (w.leaseId) this.leases.addResource(w.leaseId, 'content', digest);
      try {
        await fs.access(target);
        // Someone committed the same content first: ours is redundant.
      } catch {
        await fs.rename(join(w.dir, 'data'), target);
        await fs.chmod(target, 0o444);
      }
    });
    await fs.rm(w.dir, { recursive: true, force: true });
  }
}

/**
 * One open ingest. Bytes are appended with `write`; `commit` verifies them and
 * makes the blob visible; `close` keeps the partial data for a later resume;
 * `abort` throws it away.
 */
export class ContentWriter {
  private done = false;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private fileOffset: number;

  constructor(
    private readonly store: ContentStore,
    readonly ref: string,
    readonly dir: string,
    private fh: fs.FileHandle,
    private hash: Hash,
    private _offset: number,
    private readonly expected: { digest?: string; size?: number } | undefined,
    readonly leaseId: string | undefined,
    private readonly unlock: () => void,
  ) {
    this.fileOffset = _offset;
  }

  /** Bytes written so far (where a resumed download should continue). */
  get offset(): number {
    return this._offset;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new FailedPreconditionError(`ingest ${this.ref} is already closed`, { field: 'ref' });
    const size = this.expected?.size;
    if (size !== undefined && this._offset + chunk.length > size) {
      await this.abort();
      throw new DataLossError(`ingest ${this.ref}: received more than the expected ${size} bytes; partial data discarded`, { field: 'size' });
    }
    this.hash.update(chunk);
    this._offset += chunk.length;
    // Registries send 16-64 KiB chunks; writing them one by one costs a
    // thread-pool round trip each. Batch up to 1 MiB per writev.
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const bufs = this.pending;
      const total = this.pendingBytes;
      this.pending = [];
      this.pendingBytes = 0;
      let written = 0;
      while (written < total) {
        const { bytesWritten } = await this.fh.writev(sliceFrom(bufs, written), this.fileOffset + written);
        written += bytesWritten;
      }
      this.fileOffset += total;
    }
  }

  /** Drops everything after `offset` (used when a server ignores a Range request). */
  async truncate(offset: number): Promise<void> {
    if (offset !== 0) throw new InvalidArgumentError('ingests can only be truncated to 0', { field: 'offset' });
    this.pending = [];
    this.pendingBytes = 0;
    await this.fh.truncate(0);
    this.hash = createHash('sha256');
    this._offset = 0;
    this.fileOffset = 0;
  }

  /**
   * Verifies size and digest (the writer's expectations and `expected`) and
   * moves the blob into place. DataLoss on mismatch, with the ingest discarded.
   */
  async commit(expected?: { digest?: string; size?: number }): Promise<{ digest: string; size: number }> {
    if (this.done) throw new FailedPreconditionError(`ingest ${this.ref} is already closed`, { field: 'ref' });
    const digest = `sha256:${this.hash.digest('hex')}`;
    const size = this._offset;
    const wantSize = expected?.size ?? this.expected?.size;
    const wantDigest = expected?.digest ?? this.expected?.digest;
    if (wantSize !== undefined && size !== wantSize) {
      await this.abort();
      throw new DataLossError(`ingest ${this.ref}: got ${size} bytes, expected ${wantSize}; partial data discarded`, { field: 'size' });
    }
    if (wantDigest !== undefined && digest !== wantDigest) {
      await this.abort();
      throw new DataLossError(`ingest ${this.ref}: content digest is ${digest}, expected ${wantDigest}; partial data discarded`, { field: 'digest' });
    }
    try {
      await this.flush();
      await this.fh.datasync();
      await this.fh.close();
      this.done = true;
      await this.store.commitIngest(this, digest);
    } finally {
      this.done = true;
      this.unlock();
    }
    return { digest, size };
  }

  /** Releases the ref and keeps the partial data for a resume. */
  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.flush().catch(() => undefined);
      await this.fh.close();
    } finally {
      this.unlock();
    }
  }

  /** Releases the ref and deletes the partial data. */
  async abort(): Promise<void> {
    const wasDone = this.done;
    this.done = true;
    try {
      if (!wasDone) await this.fh.close();
      await fs.rm(this.dir, { recursive: true, force: true });
    } finally {
      if (!wasDone) this.unlock();
    }
  }
}
