// Per-container network counters, read from the host side of each container's
// veth (/sys/class/net/<veth>/statistics) and exported with cAdvisor's metric
// names. The host end sees the traffic mirrored: what the container sends
// arrives on the host end (host rx = container tx), so the directions swap.
import { readFile } from 'node:fs/promises';

export interface InterfaceCounters {
  /** Interface name inside the container (eth0), as cAdvisor labels it. */
  interface: string;
  /** Host-side veth the numbers come from. */
  hostInterface: string;
  rxBytes: number; txBytes: number;
  rxPackets: number; txPackets: number;
  rxErrors: number; txErrors: number;
  rxDropped: number; txDropped: number;
}

async function stat(dev: string, name: string): Promise<number> {
  return Number((await readFile(`/sys/class/net/${dev}/statistics/${name}`, 'utf8')).trim());
}

/** Counters from the container's point of view; undefined when the veth is gone. */
export async function readCounters(hostVeth: string, ifName: string): Promise<InterfaceCounters | undefined> {
  try {
    const [hrb, htb, hrp, htp, hre, hte, hrd, htd] = await Promise.all(
      ['rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'rx_errors', 'tx_errors', 'rx_dropped', 'tx_dropped']
        .map((n) => stat(hostVeth, n)));
    return {
      interface: ifName, hostInterface: hostVeth,
      rxBytes: htb!, txBytes: hrb!, rxPackets: htp!, txPackets: hrp!,
      rxErrors: hte!, txErrors: hre!, rxDropped: htd!, txDropped: hrd!,
    };
  } catch {
    return undefined;
  }
}

type Field = keyof Omit<InterfaceCounters, 'interface' | 'hostInterface'>;

/** cAdvisor's names, help texts and which counter each reports. */
export const CADVISOR_METRICS: { name: string; help: string; field: Field }[] = [
  { name: 'container_network_receive_bytes_total', help: 'Cumulative count of bytes received', field: 'rxBytes' },
  { name: 'container_network_transmit_bytes_total', help: 'Cumulative count of bytes transmitted', field: 'txBytes' },
  { name: 'container_network_receive_packets_total', help: 'Cumulative count of packets received', field: 'rxPackets' },
  { name: 'container_network_transmit_packets_total', help: 'Cumulative count of packets transmitted', field: 'txPackets' },
  { name: 'container_network_receive_errors_total', help: 'Cumulative count of errors encountered while receiving', field: 'rxErrors' },
  { name: 'container_network_transmit_errors_total', help: 'Cumulative count of errors encountered while transmitting', field: 'txErrors' },
  { name: 'container_network_receive_packets_dropped_total', help: 'Cumulative count of packets dropped while receiving', field: 'rxDropped' },
  { name: 'container_network_transmit_packets_dropped_total', help: 'Cumulative count of packets dropped while transmitting', field: 'txDropped' },
];

export interface LabelledCounters { id: string; name: string; counters: InterfaceCounters }

/**
 * prom-client custom collectors: objects with name/help/type and get(), which
 * Registry.registerMetric accepts. Each scrape reads /sys afresh; nothing is
 * cached, so a detached container's series simply disappear (as in cAdvisor).
 */
export function cadvisorCollectors(source: () => Promise<LabelledCounters[]>) {
  // One read of /sys per scrape, shared by the eight metrics.
  let pending: Promise<LabelledCounters[]> | undefined;
  const snapshot = () => {
    pending ??= source().finally(() => { setImmediate(() => { pending = undefined; }); });
    return pending;
  };
  return CADVISOR_METRICS.map((m) => ({
    name: m.name,
    help: m.help,
    type: 'counter' as const,
    aggregator: 'sum' as const,
    collect: undefined,
    reset() { /* values are read from the kernel on every scrape */ },
    async get() {
      const rows = await snapshot();
      return {
        name: m.name, help: m.help, type: 'counter' as const, aggregator: 'sum' as const,
        values: rows.map((r) => ({
          labels: { id: r.id, name: r.name, interface: r.counters.interface },
          value: r.counters[m.field],
        })),
      };
    },
  }));
}
