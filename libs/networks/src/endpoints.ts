// The endpoints table: every container's attachment records, in memory, as
// the manager last saved them (store.ts persists each container's list).
// Readers that await between decisions read it again at each one: an attach
// running meanwhile puts its record here before it makes anything.
import type { EndpointRecord } from './store';
import type { Attachment } from './types';

export class EndpointTable {
  private readonly byContainer = new Map<string, EndpointRecord[]>();

  /** The container's records, in attach order; [] when it has none. */
  of(containerId: string): EndpointRecord[] {
    return this.byContainer.get(containerId) ?? [];
  }

  /** Every record, attaching ones included. */
  all(): EndpointRecord[] {
    return [...this.byContainer.values()].flat();
  }

  /** Every record on the named network. */
  attachedTo(network: string): EndpointRecord[] {
    return this.all().filter((e) => e.network === network);
  }

  /** A snapshot of (container id, records) pairs. */
  entries(): [string, EndpointRecord[]][] {
    return [...this.byContainer];
  }

  containerIds(): string[] {
    return [...this.byContainer.keys()];
  }

  /** Replaces the container's records; an empty list removes the container. */
  set(containerId: string, eps: EndpointRecord[]): void {
    if (eps.length) this.byContainer.set(containerId, eps);
    else this.byContainer.delete(containerId);
  }
}

/** The record as the API shows it: bookkeeping fields dropped, arrays copied. */
export function publicView(r: EndpointRecord): Attachment {
  const { phase: _p, conflist: _c, dns: _d, datapath: _dp, requestedIp: _r, requestedMac: _m, links: _l, createdAtMs: _t, ...a } = r;
  return { ...a, ports: a.ports.map((p) => ({ ...p })), aliases: [...a.aliases] };
}
