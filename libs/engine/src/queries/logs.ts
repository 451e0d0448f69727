// docker logs, from the engine's copy of the container's log (the log
// mirror; @berth/cri-log reads it). A follow ends when the container stops,
// once the reader drained what it wrote, or is removed. And the reopen of
// that copy at its path, after kubelet renamed the file to rotate it.
import { FailedPreconditionError } from '@berth/errors';
import { readLog, type LogEntry, type ReadLogOptions } from '@berth/cri-log';
import type { EngineContext } from '../context';
import type { ContainerEvent } from '../events';
import { logBoundsOf } from '../types';

/** docker logs options (Engine.logs): the reader's, with follow as a flag. */
export interface LogsOptions extends Omit<ReadLogOptions, 'follow' | 'maxFiles'> {
  follow?: boolean;
}

export class ContainerLogs {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * docker logs, from the engine's copy of the container's log. With follow,
   * the stream also ends when the container stops (after draining what it
   * wrote) or is removed, unless the caller's signal ends it first.
   */
  async *logs(ref: string, opts: LogsOptions = {}): AsyncGenerator<LogEntry> {
    const c = this.ctx.store.find(ref);
    const { follow, ...rest } = opts;
    const live = c.state === 'running' || c.state === 'paused' || c.state === 'restarting';
    const maxFiles = logBoundsOf(c.hostConfig).maxFiles;
    if (!follow || !live) {
      yield* readLog(c.logPath, { ...rest, maxFiles });
      return;
    }
    let onEvent: (ev: ContainerEvent) => void = () => {};
    // The mirror has written all the process wrote once it reports the exit
    // (namespaces ends its Logs stream at the exit, and the engine commits
    // the exit after that): the reader then drains the rest and ends.
    const stopped = new Promise<void>((res) => {
      onEvent = (ev) => {
        if (ev.id === c.id && (ev.action === 'exited' || ev.action === 'removed')) res();
      };
    });
    this.ctx.events.on('event', onEvent);
    try {
      yield* readLog(c.logPath, { ...rest, maxFiles, follow: stopped });
    } finally {
      this.ctx.events.off('event', onEvent);
    }
  }

  /**
   * The CRI's ReopenContainerLog: the engine's copy of a running container's
   * log closes its file and opens the log path again, so what follows goes
   * to a new file there (kubelet renamed the old one). A container that is
   * not running has no log being written: FailedPrecondition, as containerd
   * and CRI-O answer (the CRI lets a runtime refuse it then).
   */
  async reopen(ref: string): Promise<void> {
    const c = this.ctx.store.find(ref);
    if (c.state !== 'running' && c.state !== 'paused') {
      throw new FailedPreconditionError(`container ${c.name} is not running (state: ${c.state}): its log is not being written, nothing to reopen`, { field: 'id' });
    }
    await this.ctx.ports.namespaces.reopenLog(c.id);
  }
}
