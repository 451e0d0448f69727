// Host-side bridge devices for berth's bridge networks. berth creates the
// bridge and its gateway address itself when a network is created (not on
// the first CNI ADD as the bridge plugin would), so the embedded DNS server
// can bind the gateway address before any container joins.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { mustRun, runCommand } from './command';

/**
 * Makes the bridge exist, up, with the gateway address. `mac` is set
 * explicitly: a bridge without one takes the lowest MAC of its ports, so it
 * would change as containers come and go, and the CNI bridge plugin's CHECK
 * compares the bridge MAC against the cached ADD result.
 */
export async function ensureBridge(name: string, gatewayCidr: string, mac: string, mtu?: number): Promise<void> {
  const cmds: string[] = [];
  if (!existsSync(`/sys/class/net/${name}`)) cmds.push(`link add name ${name} address ${mac} type bridge`);
  // replace, not add: idempotent across restarts.
  cmds.push(`addr replace ${gatewayCidr} dev ${name}`);
  if (mtu) cmds.push(`link set ${name} mtu ${mtu}`);
  cmds.push(`link set ${name} up`);
  await mustRun('ip', ['-batch', '-'], cmds.join('\n') + '\n');
  // 127.0.0.1:<published port> is DNATed to a container behind this bridge;
  // without route_localnet the kernel drops packets with a 127/8 source that
  // would leave through a non-loopback device (portmap sets the same). It
  // also makes the host accept packets for 127/8 arriving on the bridge: the
  // firewall's raw-table rule (firewall.ts) drops those, so no container
  // reaches the host's loopback services.
  await writeFile(`/proc/sys/net/ipv4/conf/${name}/route_localnet`, '1');
}

export async function deleteBridge(name: string): Promise<void> {
  if (!existsSync(`/sys/class/net/${name}`)) return;
  await runCommand('ip', ['link', 'del', name]);
}

/** Interface names the kernel accepts: 1-15 bytes, no '/', ':' or whitespace. */
export function validIfName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name);
}

/** A stable locally administered unicast MAC derived from a hex id. */
export function macFromId(idHex: string): string {
  const b = Buffer.from(idHex.padEnd(12, '0').slice(0, 12), 'hex');
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
