// The namespaces service's gRPC layer: maps berth.namespaces.v1 onto
// @berth/runtime's Runtime and publishes container exits to NATS.
//
// Where things live:
//   ${run}/namespaces/<id>/        the runtime's state dirs (survive a service
//                                  restart, not a reboot, like the containers)
//   ${run}/<type>ns/<id>           namespace handles
//   ${run}/namespaces-meta/<id>/   this layer's own per-container files:
//                                  annotations.json, exit-published
//   ${run}/namespaces-seccomp/     the shim's compiled seccomp programs, one
//                                  file per profile (docs/design/shim.md)
//   ${root}/namespaces/logs/       CRI logs (docker logs survives a reboot)
//
// Exit events: every container that is not stopped gets one watcher (a
// live output attachment whose end means the exit, which close() can drop:
// Runtime.wait cannot be cancelled). An event is published once per
// container, marked by exit-published, so exits that happened while the
// service was down are published by the next start's recover pass and never
// twice. Exec exits are published live only (namespacesExecExited).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, isFailedPrecondition, isNotFound, isUnavailable } from '@berth/errors';
import { subjects } from '@berth/events';
import { send, stateDir, type AsyncHandlers, type ServiceContext, type ServiceModule } from '@berth/kit';
import type { eventsV1, namespacesV1 } from '@berth/proto';
import { Runtime, berthShim, type Attachment, type ContainerSpec, type ContainerState, type ExitStatus, type ProcessSpec } from '@berth/runtime';
import { rfc3339ToNanos } from '@berth/cri-log';
import { processFromWire, specFromWire } from './spec-wire';

/** How long an exec's stdio is kept for its Attach before it is dropped. */
const EXEC_IO_CLAIM_MS = 60_000;
const DEFAULT_STOP_SECONDS = 10;

export function exitToWire(e: ExitStatus): namespacesV1.ExitStatus {
  return { exitCode: e.exitCode, signal: e.signal ?? '', exitedAt: e.exitedAt, oomKilled: e.oomKilled === true };
}

/** "15", "SIGTERM" or "TERM" as the runtime takes it (number or SIG name). */
function signalOf(s: string, field: string): string | number {
  if (s === '') throw new InvalidArgumentError(`${field} is required: a signal number or name (SIGTERM)`, { field });
  if (/^\d+$/.test(s)) return Number(s);
  const name = s.toUpperCase();
  return name.startsWith('SIG') ? name : `SIG${name}`;
}

/** Per-container files of this layer, beside (not inside) the runtime's state. */
class MetaStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  private path(id: string, name: string): string {
    return join(this.dir, id, name);
  }
  // setAnnotations and remove run on every create and delete: on the
  // threadpool, as a sync unlink/rmdir/open on ext4 waited 5-40 ms for the
  // journal on a busy machine, on the event loop every service shares.
  async setAnnotations(id: string, a: Record<string, string>): Promise<void> {
    await mkdir(join(this.dir, id), { recursive: true, mode: 0o700 });
    await writeFile(this.path(id, 'annotations.json'), JSON.stringify(a), { mode: 0o600 });
  }
  annotations(id: string): Record<string, string> {
    try {
      return JSON.parse(readFileSync(this.path(id, 'annotations.json'), 'utf8')) as Record<string, string>;
    } catch {
      return {};
    }
  }
  exitPublished(id: string): boolean {
    return existsSync(this.path(id, 'exit-published'));
  }
  markExitPublished(id: string): void {
    mkdirSync(join(this.dir, id), { recursive: true, mode: 0o700 });
    writeFileSync(this.path(id, 'exit-published'), new Date().toISOString(), { mode: 0o600 });
  }
  async remove(id: string): Promise<void> {
    await rm(join(this.dir, id), { recursive: true, force: true });
  }
}

function stateToWire(st: ContainerState, annotations: Record<string, string>): namespacesV1.ContainerState {
  return {
    id: st.id,
    status: st.status,
    pid: st.pid,
    monitorPid: st.monitorPid ?? 0,
    namespacePaths: st.namespaces,
    createdAt: st.createdAt,
    startedAt: st.startedAt ?? '',
    exit: st.exit ? exitToWire(st.exit) : null,
    annotations,
  };
}

/**
 * Watches containers for their exit and publishes each exit once. One
 * watcher per container; close() drops them all (the containers go on).
 */
class ExitWatcher {
  private readonly watching = new Map<string, Attachment | null>();
  private closed = false;

  constructor(
    private readonly runtime: Runtime<ContainerSpec, ProcessSpec>,
    private readonly meta: MetaStore,
    private readonly ctx: ServiceContext,
  ) {}

  /** Publishes the exit of a container that is already stopped, unless done before. */
  publishStopped(id: string, pid: number, exit: ExitStatus | null): void {
    if (!exit || this.meta.exitPublished(id)) return;
    this.publish(id, pid, exit);
  }

  watch(id: string, pid: number): void {
    if (this.closed || this.watching.has(id)) return;
    this.watching.set(id, null);
    void this.run(id, pid);
  }

  private async run(id: string, pid: number): Promise<void> {
    let exit: ExitStatus | null = null;
    try {
      // Output attachments end with the exit frame once output is drained;
      // the output itself is not ours to keep (the monitor logs it).
      const a = await this.runtime.attach(id);
      if (this.closed) {
        a.close();
        return;
      }
      this.watching.set(id, a);
      a.stdout.resume();
      a.stderr.resume();
      exit = await a.exit;
      a.close();
    } catch (e) {
      // Stopped between the state read and the attach: the exit file has it.
      if (!isNotFound(e) && !(e instanceof FailedPreconditionError)) this.ctx.log.warn({ id, err: String(e) }, 'exit watch failed');
    }
    if (this.closed) return;
    this.watching.delete(id);
    if (!exit) {
      try {
        exit = await this.runtime.wait(id);
      } catch (e) {
        if (!isNotFound(e)) this.ctx.log.warn({ id, err: String(e) }, 'no exit status for container');
        return;
      }
    }
    if (this.closed) return;
    this.publish(id, pid, exit);
  }

  /**
   * Publishes an exec'd process's exit (namespacesExecExited). Best effort:
   * only while this instance runs; an exec ending while the service is down
   * is not announced (WaitExec still reports it).
   */
  watchExec(id: string, execId: string, pid: number): void {
    this.runtime.waitExec(id, execId).then(
      (exit) => {
        if (this.closed) return;
        const event: eventsV1.ProcessExitEvent = { containerId: id, execId, pid, exitCode: exit.exitCode, signal: exit.signal ?? '', exitedAt: exit.exitedAt };
        this.ctx.events.publish(subjects.namespacesExecExited, event, id);
      },
      (e: unknown) => {
        if (!this.closed && !isNotFound(e)) this.ctx.log.warn({ id, execId, err: String(e) }, 'no exit status for exec');
      },
    );
  }

  private publish(id: string, pid: number, exit: ExitStatus): void {
    const event: eventsV1.ProcessExitEvent = { containerId: id, execId: '', pid, exitCode: exit.exitCode, signal: exit.signal ?? '', exitedAt: exit.exitedAt };
    this.ctx.events.publish(subjects.namespacesExited, event, id);
    // Deleted meanwhile (Delete kills and removes): nothing left to mark.
    if (existsSync(join(this.runtimeRoot(), id))) this.meta.markExitPublished(id);
  }

  private runtimeRoot(): string {
    return join(this.ctx.paths.run, 'namespaces');
  }

  close(): void {
    this.closed = true;
    for (const a of this.watching.values()) a?.close();
    this.watching.clear();
  }
}

interface PendingExecIo {
  io: Attachment;
  timer: NodeJS.Timeout;
}

export const namespacesModule: ServiceModule = {
  name: 'namespaces',
  grpcService: 'berth.namespaces.v1.Namespaces',
  async start(ctx) {
    const root = join(ctx.paths.run, 'namespaces');
    const logDir = join(stateDir('namespaces', ctx.paths), 'logs');
    const seccompCacheDir = join(ctx.paths.run, 'namespaces-seccomp');
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(logDir, { recursive: true, mode: 0o700 });
    mkdirSync(seccompCacheDir, { recursive: true, mode: 0o700 });
    // Also when an older berth made them (logs hold what containers print;
    // the shim trusts a seccomp cache no one else may write).
    for (const d of [root, logDir, seccompCacheDir]) chmodSync(d, 0o700);
    const runtime = new Runtime<ContainerSpec, ProcessSpec>({ root, runDir: ctx.paths.run, logDir, shim: berthShim({ seccompCacheDir }) });
    const meta = new MetaStore(join(ctx.paths.run, 'namespaces-meta'));
    const watcher = new ExitWatcher(runtime, meta, ctx);

    for (const c of runtime.recover()) {
      if (c.status === 'stopped') watcher.publishStopped(c.id, c.pid, c.exit);
      else watcher.watch(c.id, c.pid);
    }

    // An exec's stdio, connected before it started: kept for the Attach that
    // follows so none of its output is missed, dropped if nobody claims it.
    const execIo = new Map<string, PendingExecIo>();
    const execKey = (id: string, execId: string) => `${id}/${execId}`;
    const claimExecIo = (id: string, execId: string): Attachment | undefined => {
      const p = execIo.get(execKey(id, execId));
      if (!p) return undefined;
      clearTimeout(p.timer);
      execIo.delete(execKey(id, execId));
      return p.io;
    };

    const handlers: AsyncHandlers<namespacesV1.NamespacesHandlers> = {
      Create: async (req) => {
        const spec = specFromWire(req.spec);
        if (!existsSync(spec.root.path)) {
          throw new FailedPreconditionError(`spec.root.path ${spec.root.path} does not exist: prepare the root filesystem (layers service) first`, { field: 'spec.root.path' });
        }
        const created = await runtime.create(req.id, spec, {
          stdin: req.stdin,
          ...(req.logMaxSize !== 0 ? { logMaxSize: req.logMaxSize < 0 ? 0 : Number(req.logMaxSize) } : {}),
          ...(req.logMaxFiles > 0 ? { logMaxFiles: req.logMaxFiles } : {}),
        });
        const size = req.spec?.process?.consoleSize;
        if (spec.process.terminal && size && size.width > 0 && size.height > 0) {
          // The pty exists once create returned; size it before init execs.
          const a = await runtime.attach(req.id);
          try {
            a.resize(size.width, size.height);
            // The frame is handed to the socket synchronously; let it flush.
            await new Promise((r) => setImmediate(r));
          } finally {
            a.close();
          }
        }
        await meta.remove(req.id); // leftovers of an earlier container with this id
        await meta.setAnnotations(req.id, req.spec?.annotations ?? {});
        watcher.watch(req.id, created.pid);
        return { pid: created.pid, monitorPid: created.monitorPid, namespacePaths: created.namespaces };
      },
      Start: async (req) => {
        await runtime.start(req.id);
        return {};
      },
      Signal: async (req) => {
        if (req.execId) runtime.signalExec(req.id, req.execId, signalOf(req.signal, 'signal'));
        else runtime.signal(req.id, signalOf(req.signal, 'signal'), { all: req.all });
        return {};
      },
      Stop: async (req) => {
        const seconds = req.timeoutSeconds ?? DEFAULT_STOP_SECONDS;
        const sig = req.stopSignal === '' ? 'SIGTERM' : signalOf(req.stopSignal, 'stop_signal');
        return exitToWire(await runtime.stop(req.id, seconds * 1000, sig));
      },
      Wait: async (req) => exitToWire(await runtime.wait(req.id)),
      State: async (req) => stateToWire(runtime.state(req.id), meta.annotations(req.id)),
      List: async () => ({ containers: runtime.list().map((st) => stateToWire(st, meta.annotations(st.id))) }),
      Delete: async (req) => {
        try {
          await runtime.delete(req.id, { force: req.force });
        } catch (e) {
          if (!(req.force && isNotFound(e))) throw e;
        }
        await meta.remove(req.id);
        return {};
      },
      Exec: async (req) => {
        const proc = processFromWire(req.process, 'process');
        const { pid, io } = await runtime.exec(req.id, req.execId, proc, { stdin: req.stdin });
        const key = execKey(req.id, req.execId);
        const timer = setTimeout(() => {
          execIo.delete(key);
          io.close();
        }, EXEC_IO_CLAIM_MS);
        timer.unref();
        execIo.set(key, { io, timer });
        watcher.watchExec(req.id, req.execId, pid);
        return { pid };
      },
      WaitExec: async (req) => exitToWire(await runtime.waitExec(req.id, req.execId)),
      Attach: async (call, cctx) => {
        const input = call[Symbol.asyncIterator]();
        const first = await input.next();
        if (first.done) return;
        const target = first.value.target;
        if (!target) throw new InvalidArgumentError('target: the first AttachInput must name the process (target.id, target.exec_id)', { field: 'target' });

        const replayLogs = target.logs && target.execId === '';
        /**
         * The log, whole or (limit) its first bytes of each stream. With the
         * counts the monitor gave when it registered us, the replay ends
         * exactly where the live output begins: nothing lost or repeated.
         */
        const replay = async (limit?: { stdout: number; stderr: number }) => {
          const left = limit ? { ...limit } : undefined;
          for await (const e of runtime.logs(target.id, {})) {
            let line = e.line;
            if (left) {
              if (left[e.stream] <= 0) continue;
              if (line.length > left[e.stream]) line = line.subarray(0, left[e.stream]);
              left[e.stream] -= line.length;
            }
            call.write(e.stream === 'stderr' ? { stderr: line } : { stdout: line });
          }
        };
        if (target.execId === '' && runtime.state(target.id).status === 'stopped') {
          // Nothing live to attach to: the log (if asked) and the exit.
          if (replayLogs) await replay();
          const st = runtime.state(target.id);
          if (st.exit) call.write({ exit: exitToWire(st.exit) });
          return;
        }
        let io: Attachment;
        try {
          io = (target.execId !== '' && claimExecIo(target.id, target.execId)) || (await runtime.attach(target.id, target.execId));
        } catch (e) {
          // The process finished as we came: the monitor no longer serves the
          // exec ("no process"; waitExec says NotFound for one that never
          // was), or closed the connection on its way out. The exit is in the
          // record.
          if (!isFailedPrecondition(e) && !isUnavailable(e)) throw e;
          if (target.execId !== '') {
            call.write({ exit: exitToWire(await runtime.waitExec(target.id, target.execId)) });
            return;
          }
          // (The monitor writes the exit file before it closes any client.)
          const st = runtime.state(target.id);
          if (st.status !== 'stopped') throw e;
          if (replayLogs) await replay();
          if (st.exit) call.write({ exit: exitToWire(st.exit) });
          return;
        }
        // Registered first, replayed second: live output waits in the attachment meanwhile.
        if (replayLogs) await replay(io.outputBefore);
        const onAbort = () => io.close();
        cctx.signal.addEventListener('abort', onAbort, { once: true });
        // Writes after close_stdin (or to a gone process) are dropped, not fatal.
        io.stdin.on('error', () => undefined);
        try {
          // Backpressure end to end: a client that does not read pauses the
          // attachment, which pauses the monitor's reads (monitor.md).
          const pump = (s: NodeJS.ReadableStream, kind: 'stdout' | 'stderr') =>
            new Promise<void>((resolve) => {
              s.on('data', (b: Buffer) => {
                if (!call.write(kind === 'stdout' ? { stdout: b } : { stderr: b })) {
                  s.pause();
                  call.once('drain', () => s.resume());
                }
              });
              s.on('end', resolve);
              s.on('close', resolve);
            });
          const output = Promise.all([pump(io.stdout, 'stdout'), pump(io.stderr, 'stderr')]);
          // Input runs beside the output; the client may half-close at any time.
          void (async () => {
            for (let m = await input.next(); !m.done; m = await input.next()) {
              const v = m.value;
              if (v.input === 'stdin' && v.stdin !== undefined) {
                if (!io.stdin.writableEnded) io.stdin.write(v.stdin);
              } else if (v.input === 'resize' && v.resize) {
                try {
                  io.resize(v.resize.width, v.resize.height);
                } catch (e) {
                  cctx.log.info({ err: String(e) }, 'attach: resize ignored');
                }
              } else if (v.input === 'closeStdin' && v.closeStdin && !io.stdin.writableEnded) {
                io.stdin.end();
              }
            }
          })().catch(() => undefined);
          let exit = await io.exit;
          await output;
          if (!exit && !cctx.signal.aborted) {
            // The monitor ended the connection without an exit frame: the
            // process finished before the attach (an exec it no longer
            // serves), or the monitor is gone. The exit file tells.
            exit = target.execId === '' ? runtime.state(target.id).exit : await runtime.waitExec(target.id, target.execId);
          }
          if (exit) call.write({ exit: exitToWire(exit) });
        } finally {
          cctx.signal.removeEventListener('abort', onAbort);
          io.close();
        }
      },
      ListPids: async (req) => ({ processes: runtime.processes(req.id) }),
      Logs: async (req, call, cctx) => {
        const entries = runtime.logs(req.id, {
          follow: req.follow,
          ...(req.tail > 0 ? { tail: req.tail } : {}),
          ...(req.since !== '' ? { sinceNs: rfc3339ToNanos(req.since, 'since') } : {}),
          ...(req.until !== '' ? { untilNs: rfc3339ToNanos(req.until, 'until') } : {}),
          stdout: req.stdout,
          stderr: req.stderr,
          // A cancelled follow ends at once, not at the next line or the exit.
          signal: cctx.signal,
        });
        for await (const e of entries) {
          if (!(await send(call, { time: e.time, stream: e.stream, line: e.line }, cctx.signal))) break;
        }
      },
    };

    return {
      handlers,
      close: async () => {
        watcher.close();
        for (const p of execIo.values()) {
          clearTimeout(p.timer);
          p.io.close();
        }
        execIo.clear();
        runtime.close();
      },
    };
  },
};
