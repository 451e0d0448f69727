// The Events rpc: filters as `docker events --filter` takes them, and a
// bounded in-memory history so `--since` can replay recent events (the
// durable history is the NATS JetStream stream service.ts publishes to).
import { InvalidArgumentError } from '@berth/errors';
import { labelMatches } from './container-store';
import type { ContainerEvent } from './events';

const KEYS = ['container', 'image', 'event', 'label', 'type', 'network', 'volume'];

export function validateEventFilters(filters: Record<string, string[]>): void {
  for (const k of Object.keys(filters)) {
    if (!KEYS.includes(k)) throw new InvalidArgumentError(`invalid filter "${k}": accepted filters are ${KEYS.join(', ')}`, { field: 'filter' });
  }
}

/** OR within a key, AND across keys. container= matches id, id prefix or name. */
export function eventMatches(ev: ContainerEvent, filters: Record<string, string[]>): boolean {
  const f = filters;
  if (f.type && !f.type.includes('container')) return false;
  if (f.container && !f.container.some((c) => c === ev.name || ev.id.startsWith(c))) return false;
  if (f.image && !f.image.some((i) => i === ev.image || (!i.includes(':') && ev.image === `${i}:latest`) || ev.image.split(':')[0] === i)) return false;
  if (f.event && !f.event.includes(ev.action)) return false;
  if (f.label && !f.label.every((l) => labelMatches(ev.labels, l))) return false;
  return true;
}

/** The last `capacity` events, for replay. */
export class EventHistory {
  private readonly buf: ContainerEvent[] = [];
  constructor(private readonly capacity = 1000) {}
  push(ev: ContainerEvent): void {
    this.buf.push(ev);
    if (this.buf.length > this.capacity) this.buf.shift();
  }
  /** Events with time >= sinceMs and <= untilMs matching filters, oldest first. */
  since(sinceMs: number, untilMs: number | undefined, filters: Record<string, string[]>): ContainerEvent[] {
    return this.buf.filter((e) => e.time >= sinceMs && (untilMs === undefined || e.time <= untilMs) && eventMatches(e, filters));
  }
}
