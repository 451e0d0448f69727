// Attach, as Docker clients use it: `docker run` attaches to a *created*
// container, then asks for wait, then starts it. The engine's Attach needs a
// running process and, with logs=true, replays everything the process wrote
// since its start; so an attach that arrives before the start waits here
// until the container runs (a start through this gateway wakes it at once,
// one made elsewhere is seen on the engine's event stream), then attaches
// with logs=true: nothing written between the start and the attach is lost.
//
// AutoRemove: a container created with it carries AUTO_REMOVE_LABEL instead
// of the engine's auto_remove, and this gateway removes it once it exited
// *and* every attached client has its output: left to the engine, a short
// command (`docker run --rm busybox echo hi`) could be gone before the
// attach reached it, output and all. The exit code survives because wait
// (condition=removed) takes it from the exit, not from the removal. A
// gateway restart finds labelled containers again (adoptAutoRemove).
import { isFailedPrecondition, isNotFound } from '@berth/errors';
import type { Logger } from '@berth/kit';
import type { engineV1 } from '@berth/proto';
import { LONG_CALL, type Backends } from './backends';
import { AUTO_REMOVE_LABEL } from './create';
import type { StreamConn } from './streams';

export interface AttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  /** Docker's logs=1: replay what the container wrote before live output. */
  logs: boolean;
  detachKeys: string;
}

type AttachCall = ReturnType<Backends['engine']['Attach']>;

/** Attaches and auto-removals in flight, per container id. */
export class Lifecycle {
  /** Attaches waiting for their container to start. */
  private readonly waitingStart = new Map<string, Set<() => void>>();
  /** Live engine Attach calls (for resize) and their count (auto-removal waits for 0). */
  private readonly active = new Map<string, Set<AttachCall>>();
  private readonly drained = new Map<string, Set<() => void>>();
  /** Containers whose exit this gateway watches to remove them. */
  private readonly watching = new Set<string>();
  private closed = false;
  private readonly aborts = new Set<AbortController>();

  constructor(private readonly b: Backends, private readonly log: Logger) {}

  /** A start (through this gateway or seen in events) wakes the attaches waiting for it. */
  started(id: string): void {
    const waiters = this.waitingStart.get(id);
    this.waitingStart.delete(id);
    for (const w of waiters ?? []) w();
  }

  /** Sends a terminal size to the container's live attach streams. */
  resize(id: string, width: number, height: number): boolean {
    const calls = this.active.get(id);
    for (const c of calls ?? []) c.write({ resize: { width, height } });
    return (calls?.size ?? 0) > 0;
  }

  private hold(id: string, call: AttachCall): () => void {
    let set = this.active.get(id);
    if (!set) this.active.set(id, (set = new Set()));
    set.add(call);
    return () => {
      set.delete(call);
      if (set.size) return;
      this.active.delete(id);
      for (const cb of this.drained.get(id) ?? []) cb();
      this.drained.delete(id);
    };
  }

  private pendingCount(id: string): number {
    return (this.active.get(id)?.size ?? 0) + (this.waitingStart.get(id)?.size ?? 0);
  }

  /** Resolves once no client is attached to (or waiting to attach to) the container, or after maxMs. */
  private async allDetached(id: string, maxMs: number): Promise<void> {
    if (!this.pendingCount(id)) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, maxMs);
      t.unref();
      let set = this.drained.get(id);
      if (!set) this.drained.set(id, (set = new Set()));
      set.add(() => { clearTimeout(t); resolve(); });
    });
  }

  /**
   * Streams the container's output to `conn` (and `conn`'s input to its
   * stdin) until the process exits or the client goes away. `state` is the
   * container's state when the attach arrived.
   */
  async attach(id: string, state: string, o: AttachOptions, conn: StreamConn): Promise<void> {
    let replay = o.logs;
    if (state !== 'running' && state !== 'paused') {
      // Before the start: wait for it, then replay everything since it.
      const ok = await this.waitForStart(id, conn);
      if (!ok) return;
      replay = true;
    }
    const ac = new AbortController();
    this.aborts.add(ac);
    const call = this.b.engine.Attach({ signal: ac.signal });
    const release = this.hold(id, call);
    call.write({ start: { id, stdin: o.stdin, stdout: o.stdout, stderr: o.stderr, logs: replay, detachKeys: o.detachKeys } });
    if (o.stdin) {
      conn.onInput(
        (d) => call.write({ stdin: d }),
        // Half-close: stdin ends for the process, output keeps coming.
        () => call.write({ closeStdin: true }),
      );
    }
    conn.onClose(() => ac.abort());
    let got = false;
    try {
      await new Promise<void>((resolve, reject) => {
        call.on('data', (m: engineV1.AttachResponse__Output) => {
          got = true;
          if (m.msg === 'output' && m.output) conn.output(m.output.stream === 'stderr' ? 'stderr' : 'stdout', m.output.data);
        });
        call.on('end', () => resolve());
        call.on('error', (e: unknown) => (ac.signal.aborted ? resolve() : reject(e)));
      });
    } catch (e) {
      // Exited before the attach reached it: its output is in the log.
      if (!got && (isFailedPrecondition(e) || isNotFound(e))) await this.replayLog(id, o, conn);
      else this.log.debug({ id, err: String(e) }, 'attach ended with an error');
    } finally {
      release();
      this.aborts.delete(ac);
      conn.end();
    }
  }

  private async replayLog(id: string, o: AttachOptions, conn: StreamConn): Promise<void> {
    try {
      await this.b.engine.WaitContainer({ id, condition: 'not-running' }, LONG_CALL);
      const logs = this.b.engine.Logs({ id, follow: false, since: '', until: '', stdout: o.stdout, stderr: o.stderr });
      for await (const m of logs as AsyncIterable<engineV1.LogEntry__Output>) {
        conn.output(m.stream === 'stderr' ? 'stderr' : 'stdout', Buffer.concat([m.line, Buffer.from((m as { partial?: boolean }).partial ? '' : '\n')]));
      }
    } catch (e) {
      if (!isNotFound(e)) this.log.debug({ id, err: String(e) }, 'log replay after a missed attach failed');
    }
  }

  /** true once the container runs; false when the client left or the container went away. */
  private async waitForStart(id: string, conn: StreamConn): Promise<boolean> {
    const ac = new AbortController();
    this.aborts.add(ac);
    try {
      return await new Promise<boolean>((resolve) => {
        let set = this.waitingStart.get(id);
        if (!set) this.waitingStart.set(id, (set = new Set()));
        const wake = () => resolve(true);
        set.add(wake);
        conn.onClose(() => { set.delete(wake); resolve(false); });
        // A start made elsewhere (berth start, another gateway): the engine's events say so.
        const events = this.b.engine.Events({ since: String(Math.floor(Date.now() / 1000) - 1), until: '', filters: { container: { values: [id] } } }, { signal: ac.signal });
        events.on('data', (ev: engineV1.Event__Output) => {
          if (ev.action === 'started' || ev.action === 'restarted') resolve(true);
          if (ev.action === 'removed') resolve(false);
        });
        events.on('error', () => undefined);
        // It may have started between the client's request and the subscription.
        this.b.engine.InspectContainer({ id, size: false }).then((r) => {
          const s = r.summary?.state;
          if (s === 'running' || s === 'paused') resolve(true);
        }, () => resolve(false));
      });
    } finally {
      this.waitingStart.get(id)?.clear();
      this.waitingStart.delete(id);
      ac.abort();
      this.aborts.delete(ac);
    }
  }

  /**
   * Watches a labelled container from its start: at its exit, once clients
   * have its output, removes it (with its anonymous volumes, as --rm does).
   */
  watchAutoRemove(id: string): void {
    if (this.watching.has(id) || this.closed) return;
    this.watching.add(id);
    const ac = new AbortController();
    this.aborts.add(ac);
    void (async () => {
      try {
        await this.b.engine.WaitContainer({ id, condition: 'not-running' }, { ...LONG_CALL, signal: ac.signal });
        await this.allDetached(id, 10_000);
        if (this.closed) return;
        await this.b.engine.RemoveContainer({ id, force: true, removeVolumes: true });
      } catch (e) {
        if (!isNotFound(e) && !this.closed) this.log.warn({ id, err: String(e) }, 'AutoRemove: removing the exited container failed');
      } finally {
        this.watching.delete(id);
        this.aborts.delete(ac);
      }
    })();
  }

  /** At the gateway's start: labelled containers that exited meanwhile go, running ones are watched. */
  async adoptAutoRemove(): Promise<void> {
    const { containers } = await this.b.engine.ListContainers({ all: true, filters: { label: { values: [`${AUTO_REMOVE_LABEL}=true`] } }, limit: 0, size: false });
    for (const c of containers) if (c.state !== 'created') this.watchAutoRemove(c.id);
  }

  close(): void {
    this.closed = true;
    for (const ac of this.aborts) ac.abort();
    this.aborts.clear();
  }
}
