// docker stats, for many containers in one stream: readings of the cgroups
// service (CPU, memory, block I/O, pids) and the networks service (counters),
// turned into Docker's numbers by stats.ts. CPU % needs two readings, as
// Docker's precpu: the previous one when it is recent (a stream, or a call
// just before), else one taken STATS_PRIME_MS before the sample.
import { isNotFound } from '@berth/errors';
import type { EngineContext } from '../context';
import { cpuPercent, memoryUsage, type RawCpuMem } from '../stats';

/** One container in a stats sample (berth.engine.v1.ContainerStats). */
export interface StatsSample {
  id: string;
  name: string;
  cpuPercent: number;
  cpuUsageNs: number;
  onlineCpus: number;
  memoryUsage: number;
  memoryLimit: number;
  netRx: number;
  netTx: number;
  blockRead: number;
  blockWrite: number;
  pids: number;
}

/** A stats reading older than this is not used as the previous one (docker's precpu is one collection tick old). */
const STATS_PREV_MAX_AGE_MS = 2000;
/** Without a recent reading, the first of two is taken this long before the sample. */
const STATS_PRIME_MS = 500;

export class ContainerStats {
  /** Each container's last reading and when it was taken (docker's precpu). */
  private readonly prev = new Map<string, { raw: RawCpuMem; at: number }>();

  constructor(private readonly ctx: EngineContext) {}

  /**
   * docker stats for many containers in one stream: one sample per intervalMs
   * while `stream` (else one), until `signal` aborts. `refs` empty = all
   * running (all with `all`); a container that stops mid-stream drops out of
   * later samples. CPU % is computed from two readings, as Docker's precpu:
   * the previous one when it is recent (a stream, or a call just before),
   * else one taken STATS_PRIME_MS before the sample, so a first or
   * --no-stream sample of a busy container is not 0%.
   */
  async *stats(refs: string[], opts: { all?: boolean; stream?: boolean; intervalMs?: number; signal?: AbortSignal } = {}): AsyncGenerator<StatsSample[]> {
    const ids = refs.length ? refs.map((r) => this.ctx.store.find(r).id) : undefined;
    const sleep = (ms: number) => new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void { clearTimeout(t); opts.signal?.removeEventListener('abort', done); resolve(); }
      opts.signal?.addEventListener('abort', done, { once: true });
    });
    for (;;) {
      const recs = ids ? ids.flatMap((id) => { try { return [this.ctx.store.get(id)]; } catch { return []; } }) : this.ctx.store.list({ all: opts.all ?? false });
      const live = (s: string) => s === 'running' || s === 'paused';
      const stale = recs.filter((c) => live(c.state) && !((this.ctx.clock.now() - (this.prev.get(c.id)?.at ?? -Infinity)) <= STATS_PREV_MAX_AGE_MS));
      if (stale.length) {
        await Promise.all(stale.map(async (c) => {
          try {
            this.prev.set(c.id, { raw: await this.ctx.ports.cgroups.readStats(c.id), at: this.ctx.clock.now() });
          } catch (e) {
            if (!isNotFound(e)) throw e;
          }
        }));
        await sleep(STATS_PRIME_MS);
        if (opts.signal?.aborted) return;
      }
      const sample: StatsSample[] = [];
      for (const c of recs) {
        if (!live(c.state)) {
          this.prev.delete(c.id);
          sample.push({ id: c.id, name: c.name, cpuPercent: 0, cpuUsageNs: 0, onlineCpus: 0, memoryUsage: 0, memoryLimit: 0, netRx: 0, netTx: 0, blockRead: 0, blockWrite: 0, pids: 0 });
          continue;
        }
        try {
          const raw = await this.ctx.ports.cgroups.readStats(c.id);
          const net = await this.ctx.ports.networks.readCounters(c.id);
          sample.push({
            id: c.id, name: c.name, cpuPercent: cpuPercent(this.prev.get(c.id)?.raw, raw), cpuUsageNs: raw.cpuUsageNs, onlineCpus: raw.onlineCpus,
            memoryUsage: memoryUsage(raw), memoryLimit: raw.memoryLimit, netRx: net.rx, netTx: net.tx,
            blockRead: raw.blockRead, blockWrite: raw.blockWrite, pids: raw.pids,
          });
          this.prev.set(c.id, { raw, at: this.ctx.clock.now() });
        } catch (e) {
          if (!isNotFound(e)) throw e; // exited between list and read: skip it this round
        }
      }
      yield sample;
      if (!opts.stream || opts.signal?.aborted) return;
      await sleep(opts.intervalMs ?? 1000);
      if (opts.signal?.aborted) return;
    }
  }
}
