// cgroup v1 OOM notification (Documentation/admin-guide/cgroup-v1/memory.rst,
// "Memory thresholds" / "OOM Control"): write "<eventfd> <fd of
// memory.oom_control>" to the cgroup's cgroup.event_control and the kernel
// signals the eventfd whenever the cgroup enters OOM, and once more when the
// cgroup is removed.
//
// Reading an eventfd blocks, and libuv cannot poll one through net.Socket (it
// is an anon inode, "UNKNOWN" to uv_guess_handle), while fs reads would pin a
// thread-pool thread per container. So one worker thread blocks in
// epoll_wait over every container's eventfd and posts the ready fds to the
// main thread, which does everything else: registration, draining the
// counter, reading oom_kill, callbacks. The worker never reads an fd itself:
// by the time it would, the main thread may have closed that fd and the
// number may name another file (reading 8 bytes of it would corrupt someone
// else's read). Registrations are EPOLLONESHOT so a signalled eventfd is
// reported once, and the main thread re-arms it after draining.
import { Worker } from 'node:worker_threads';
import { openSync, closeSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { eventfd, closeFd, epollCreate, epollAdd, epollMod, epollDel, readEventfd, writeEventfd, EPOLL } from '@berth/sys';
import { writeCgroupFile } from '../cgroupfs';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const sys = require(workerData.sysPath);
parentPort.postMessage('ready');
let running = true;
parentPort.on('message', (m) => { if (m === 'stop') running = false; });
function loop() {
  // A bounded wait lets the worker notice 'stop' and process exit even if the
  // stop eventfd write is lost; 500 ms costs nothing measurable.
  const ready = sys.epollWait(workerData.epfd, 64, 500);
  const fired = [];
  for (const r of ready) {
    if (r.data === workerData.stopFd) { running = false; continue; }
    fired.push(r.data);
  }
  if (fired.length) parentPort.postMessage(fired);
  if (running) setImmediate(loop); else parentPort.close();
}
loop();
`;

function resolveSysPath(): string {
  // Works from dist (CommonJS) and from vitest (which runs the TS sources).
  const base = typeof __filename === 'string' ? __filename : join(process.cwd(), 'index.js');
  return createRequire(base).resolve('@berth/sys');
}

interface Registration {
  dir: string;
  onEvent: () => void;
}

/** One per process: the epoll set and worker shared by every watched cgroup. */
export class OomEventLoop {
  private epfd = -1;
  private stopFd = -1;
  private worker: Worker | undefined;
  private readonly byFd = new Map<number, Registration>();

  /** Registers the memory cgroup at `dir`; onEvent runs on the main thread for each OOM notification. */
  watch(dir: string, onEvent: () => void): { close(): void } {
    this.start();
    const efd = eventfd();
    const ocfd = openSync(join(dir, 'memory.oom_control'), 'r');
    try {
      writeCgroupFile(dir, 'cgroup.event_control', `${efd} ${ocfd}`);
      epollAdd(this.epfd, efd, EPOLL.IN | EPOLL.ONESHOT);
    } catch (e) {
      closeFd(efd);
      throw e;
    } finally {
      // The kernel holds its own reference to the control file once registered.
      closeSync(ocfd);
    }
    const reg: Registration = { dir, onEvent };
    this.byFd.set(efd, reg);
    // Close by identity: after the kernel's removal signal closed this watch,
    // the fd number may already belong to another cgroup's registration.
    return { close: () => this.unwatch(efd, reg) };
  }

  private unwatch(efd: number, reg?: Registration): void {
    const current = this.byFd.get(efd);
    if (!current || (reg && current !== reg)) return;
    this.byFd.delete(efd);
    try {
      epollDel(this.epfd, efd);
    } catch {
      /* already gone */
    }
    closeFd(efd);
    // The worker stays (idle in epoll_wait) for the next container: starting
    // and stopping a thread that loads a native addon per container is churn,
    // and a worker terminated while koffi initialises aborts the process.
  }

  /** Number of cgroups being watched. */
  get size(): number {
    return this.byFd.size;
  }

  private start(): void {
    if (this.worker) return;
    this.epfd = epollCreate();
    this.stopFd = eventfd();
    epollAdd(this.epfd, this.stopFd);
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { epfd: this.epfd, stopFd: this.stopFd, sysPath: resolveSysPath() } });
    // Notifications must not keep a service (or a test run) alive on their
    // own, but the process must not exit while the worker is still loading
    // koffi (a worker torn down inside addon initialisation aborts the
    // process): it stays ref'd until it says it is ready.
    const worker = this.worker;
    worker.on('message', (msg: number[] | 'ready') => {
      if (msg === 'ready') {
        worker.unref();
        return;
      }
      for (const fd of msg) {
        const reg = this.byFd.get(fd);
        if (!reg) continue; // unwatched since the worker saw it
        if (!existsSync(reg.dir)) {
          // The kernel signals every registered eventfd when the cgroup goes away.
          this.unwatch(fd);
          continue;
        }
        readEventfd(fd); // drain (non-blocking; 0 if a stale report)
        epollMod(this.epfd, fd, EPOLL.IN | EPOLL.ONESHOT);
        reg.onEvent();
      }
    });
  }

  /**
   * Stops the worker (service shutdown). Graceful only: the stop eventfd wakes
   * epoll_wait and the worker returns on its own. Never Worker.terminate():
   * terminating while the worker is inside koffi's addon initialisation is a
   * fatal error for the whole process (napi_throw during termination).
   */
  shutdown(): void {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    for (const efd of [...this.byFd.keys()]) this.unwatch(efd);
    const epfd = this.epfd;
    const stopFd = this.stopFd;
    worker.postMessage('stop');
    writeEventfd(stopFd);
    // Close the epoll set only after the worker has left epoll_wait.
    worker.once('exit', () => {
      closeFd(stopFd);
      closeFd(epfd);
    });
  }
}

export const oomEventLoop = new OomEventLoop();
