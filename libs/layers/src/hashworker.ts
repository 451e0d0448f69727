// sha256 on a worker thread. Hashing the uncompressed stream (the DiffID)
// costs ~2.5 ms per MiB on the main thread, a quarter of what unpacking a
// layer of small files spends there; a worker takes it off the thread that
// makes the syscalls. One worker per process, shared by every apply and
// unref'd (it never keeps the process alive). It exits once no hash has been
// open for IDLE_EXIT_MS: an idle worker is a whole isolate (~10 MiB resident,
// docs/design/memory.md) that a service held forever after its first pull;
// the layers of one pull come back to back and share it. A hash of at most
// INLINE_MAX_BYTES never reaches the worker: its chunks are held and hashed
// on the main thread at digest (at most ~2.5 ms), so a small layer (a build
// step's commit) never waits for a worker to start (70-150 ms here at load
// 9-11, its first digest 0.3-1.2 s); a larger one starts it while the layer
// still streams. Chunks are copied into a fresh ArrayBuffer and transferred: the
// caller's buffers may be slices of a pool (zlib's output, net sockets) and
// must not be detached.
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.t === 'u') {
    let h = hashes.get(m.id);
    if (!h) { h = createHash('sha256'); hashes.set(m.id, h); }
    h.update(new Uint8Array(m.b));
  } else if (m.t === 'd') {
    const h = hashes.get(m.id) || createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, hex: h.digest('hex') });
  } else if (m.t === 'x') {
    hashes.delete(m.id);
  }
});
`;

/** How long the worker outlives the last open hash. */
export const IDLE_EXIT_MS = 5_000;
/** Up to this many bytes a hash is computed on the main thread. */
export const INLINE_MAX_BYTES = 1024 * 1024;

let worker: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
let busy = 0;
/** Hashes started and not yet digested or discarded. */
let open = 0;
let idleTimer: NodeJS.Timeout | undefined;

/** Whether the shared worker thread exists (it exits when idle). */
export function hashWorkerRunning(): boolean {
  return worker !== null;
}

function opened(): void {
  open++;
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
}

function settled(): void {
  if (--open > 0) return;
  idleTimer = setTimeout(retire, IDLE_EXIT_MS);
  idleTimer.unref();
}

function retire(): void {
  idleTimer = undefined;
  const w = worker;
  if (!w || open > 0) return;
  // Nothing is waiting on it (every hash settled): a new hash starts a new one.
  worker = null;
  void w.terminate();
}

function shared(): Worker {
  if (worker) return worker;
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.unref();
  w.on('message', (m: { id: number; hex: string }) => {
    const p = waiting.get(m.id);
    waiting.delete(m.id);
    if (--busy === 0) w.unref();
    p?.resolve(m.hex);
  });
  w.on('error', (e) => {
    for (const p of waiting.values()) p.reject(e);
    waiting.clear();
    worker = null;
  });
  worker = w;
  return w;
}

/** An incremental sha256 whose work happens on the shared worker once it is larger than INLINE_MAX_BYTES. */
export class OffThreadSha256 {
  private readonly id = nextId++;
  private w: Worker | undefined;
  /** The chunks so far while the hash is small (own copies); undefined once it went to the worker. */
  private held: Uint8Array<ArrayBuffer>[] | undefined = [];
  private heldBytes = 0;
  private finished = false;

  constructor() {
    opened();
  }

  update(chunk: Buffer): void {
    const copy = new Uint8Array(chunk);
    if (this.held) {
      this.held.push(copy);
      this.heldBytes += copy.length;
      if (this.heldBytes <= INLINE_MAX_BYTES) return;
      const held = this.held;
      this.held = undefined;
      this.w = shared();
      for (const c of held) this.send(c);
      return;
    }
    this.send(copy);
  }

  private send(copy: Uint8Array<ArrayBuffer>): void {
    this.w!.postMessage({ t: 'u', id: this.id, b: copy.buffer }, [copy.buffer]);
  }

  /** "sha256:<hex>" of everything passed to update. */
  digest(): Promise<string> {
    const counted = !this.finished; // a discarded hash was settled already
    this.finished = true;
    if (this.held) {
      const h = createHash('sha256');
      for (const c of this.held) h.update(c);
      this.held = undefined;
      if (counted) settled();
      return Promise.resolve(`sha256:${h.digest('hex')}`);
    }
    const w = this.w!;
    if (busy++ === 0) w.ref();
    return new Promise((resolve, reject) => {
      waiting.set(this.id, {
        resolve: (hex) => {
          if (counted) settled();
          resolve(`sha256:${hex}`);
        },
        reject: (e) => {
          if (counted) settled();
          reject(e);
        },
      });
      w.postMessage({ t: 'd', id: this.id });
    });
  }

  /** Drops the state of an abandoned hash. */
  discard(): void {
    if (!this.finished) {
      if (this.held) this.held = undefined;
      else this.w!.postMessage({ t: 'x', id: this.id });
      settled();
    }
    this.finished = true;
  }
}
