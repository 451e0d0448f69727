// The embedded DNS of berth's networks: one responder per network with name
// resolution (user-defined bridge networks), listening on its gateway, and
// the names each attachment registers there (name, aliases, short id).
// What a client resolves depends on who asks (the client's address picks its
// record): the names of every network the client is on, its --link aliases
// (for it alone), and for unknown names its own --dns upstreams or the
// service's.
import type { EndpointTable } from './endpoints';
import { EmbeddedDns, type Upstream } from './dns';
import type { EndpointRecord } from './store';
import type { Network } from './types';

export interface DnsRegistryOptions {
  /** UDP port of every responder (53; tests change it). */
  port: number;
  /** Where unknown names go, read at each relay (set once the host's resolv.conf is read). */
  upstreams: () => Upstream[];
  table: EndpointTable;
}

export class DnsRegistry {
  private readonly servers = new Map<string, EmbeddedDns>();

  constructor(private readonly opts: DnsRegistryOptions) {}

  /** Starts the responder of network n on its gateway; a no-op when it runs. */
  async start(n: Network): Promise<void> {
    if (this.servers.has(n.name)) return;
    const { table } = this.opts;
    const server = new EmbeddedDns({
      address: n.gateway,
      port: this.opts.port,
      upstreams: this.opts.upstreams,
      upstreamsFor: (clientIp) => {
        const ep = table.attachedTo(n.name).find((e) => e.ip === clientIp);
        return ep?.dns.length ? ep.dns.map((host) => ({ host, port: 53 })) : undefined;
      },
      lookupFor: (name, clientIp) => {
        const ep = table.attachedTo(n.name).find((e) => e.ip === clientIp);
        if (!ep) return [];
        const mine = table.of(ep.containerId).filter((o) => o.phase === 'attached');
        // --link aliases: only this client resolves them, each on the network it was given for.
        const key = name.toLowerCase().replace(/\.$/, '');
        const linked = mine.flatMap((o) => (o.links ?? []).filter((l) => l.alias.toLowerCase() === key)
          .flatMap((l) => this.servers.get(o.network)?.lookup(l.name) ?? []));
        return [...linked, ...mine.filter((o) => o !== ep).flatMap((o) => this.servers.get(o.network)?.lookup(name) ?? [])];
      },
    });
    await server.start();
    this.servers.set(n.name, server);
  }

  /** Stops the network's responder, if it runs. */
  async stop(network: string): Promise<void> {
    const server = this.servers.get(network);
    this.servers.delete(network);
    await server?.stop();
  }

  async stopAll(): Promise<void> {
    for (const s of this.servers.values()) await s.stop();
    this.servers.clear();
  }

  /** Makes the attachment's names resolve on its network (no-op without an address or a responder). */
  register(ep: EndpointRecord): void {
    if (ep.ip) this.servers.get(ep.network)?.add(names(ep), ep.ip);
  }

  unregister(ep: EndpointRecord): void {
    if (ep.ip) this.servers.get(ep.network)?.remove(names(ep), ep.ip);
  }
}

function names(ep: EndpointRecord): string[] {
  return [ep.name, ...ep.aliases, ep.containerId.slice(0, 12)].filter(Boolean);
}
