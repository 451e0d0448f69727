// Conflists: the ones berth generates for its bridge networks, and drop-ins
// a user puts in the config dir (<cniConfigDir>/*.conflist, each one network
// named by its "name").
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import type { CniConfList, CniPluginConf } from './cni/types';
import type { Network } from './types';

export const CNI_VERSION = '1.0.0';

/**
 * bridge + host-local, then portmap only when the container publishes ports
 * and tuning only when the network sets sysctls: every plugin in the chain is
 * one more process per ADD and per DEL, so the chain is cut to what this
 * attachment needs. The exact list is kept with the attachment, so DEL runs
 * the same chain ADD did.
 */
export function bridgeConflist(net: Network, ipamDataDir: string, withPorts: boolean): CniConfList {
  const plugins: CniPluginConf[] = [{
    type: 'bridge',
    bridge: net.bridge,
    isGateway: true,
    // Masquerade is one rule per network in berth's own chain (firewall.ts), not
    // a chain per container: the bridge plugin's per-container chain leaks when
    // DEL runs after the namespace is gone (it learns the address from inside).
    ipMasq: false,
    hairpinMode: true,
    ...(net.mtu ? { mtu: net.mtu } : {}),
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet: net.subnet, gateway: net.gateway }]],
      routes: net.internal ? [] : [{ dst: '0.0.0.0/0' }],
      dataDir: ipamDataDir,
    },
  }];
  if (withPorts) plugins.push({ type: 'portmap', capabilities: { portMappings: true }, snat: true });
  if (Object.keys(net.sysctls).length) plugins.push({ type: 'tuning', sysctl: net.sysctls });
  return { cniVersion: CNI_VERSION, name: net.name, plugins };
}

export function validateConflist(v: unknown, file: string): CniConfList {
  const l = v as CniConfList;
  if (typeof l !== 'object' || l === null || typeof l.name !== 'string' || !Array.isArray(l.plugins) || l.plugins.length === 0) {
    throw new InvalidArgumentError(`${file}: not a CNI conflist (needs "name" and a non-empty "plugins")`, { field: file });
  }
  if (typeof l.cniVersion !== 'string') throw new InvalidArgumentError(`${file}: missing "cniVersion"`, { field: file });
  return l;
}

/** Reads every *.conflist in dir; unreadable files are reported, not fatal. */
export async function loadDropIns(dir: string): Promise<{ lists: CniConfList[]; errors: string[] }> {
  let names: string[];
  try { names = await readdir(dir); } catch { return { lists: [], errors: [] }; }
  const lists: CniConfList[] = [];
  const errors: string[] = [];
  for (const n of names.filter((x) => x.endsWith('.conflist')).sort()) {
    try {
      lists.push(validateConflist(JSON.parse(await readFile(join(dir, n), 'utf8')), join(dir, n)));
    } catch (e) {
      errors.push(`${join(dir, n)}: ${(e as Error).message}`);
    }
  }
  return { lists, errors };
}
