// Host-side bridge devices for berth's bridge networks. berth creates the
// bridge and its gateway address itself when a network is created (not on
// the first CNI ADD as the bridge plugin would), so the embedded DNS server
// can bind the gateway address before any container joins.
import { existsSync } from 'node:fs';
import { mustRun, runCommand } from './command';

export async function ensureBridge(name: string, gatewayCidr: string, mtu?: number): Promise<void> {
  const cmds: string[] = [];
  if (!existsSync(`/sys/class/net/${name}`)) cmds.push(`link add name ${name} type bridge`);
  // replace, not add: idempotent across restarts.
  cmds.push(`addr replace ${gatewayCidr} dev ${name}`);
  if (mtu) cmds.push(`link set ${name} mtu ${mtu}`);
  cmds.push(`link set ${name} up`);
  await mustRun('ip', ['-batch', '-'], cmds.join('\n') + '\n');
}

export async function deleteBridge(name: string): Promise<void> {
  if (!existsSync(`/sys/class/net/${name}`)) return;
  await runCommand('ip', ['link', 'del', name]);
}

/** Interface names the kernel accepts: 1-15 bytes, no '/', ':' or whitespace. */
export function validIfName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name);
}
