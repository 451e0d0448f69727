// The ADD result cache, in libcni's on-disk format (cniCacheV1), so DEL and
// CHECK after a restart see exactly the config and result of the ADD, and so
// tools that read libcni's cache (cnitool, podman's CNI backend) understand
// ours. One file per (network, container, interface):
//   <cacheDir>/results/<network>-<containerId>-<ifName>
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CniConfList, CniResult } from './types';

export interface CachedAttachment {
  kind: 'cniCacheV1';
  containerId: string;
  /** The conflist bytes, base64 (Go marshals []byte that way). */
  config: string;
  ifName: string;
  networkName: string;
  cniArgs?: [string, string][];
  capabilityArgs?: Record<string, unknown>;
  result?: CniResult;
}

export class ResultCache {
  constructor(readonly dir: string) {}

  private path(network: string, containerId: string, ifName: string): string {
    return join(this.dir, 'results', `${network}-${containerId}-${ifName}`);
  }

  async write(list: CniConfList, containerId: string, ifName: string,
    result: CniResult | undefined, args?: [string, string][], capabilityArgs?: Record<string, unknown>): Promise<void> {
    const entry: CachedAttachment = {
      kind: 'cniCacheV1', containerId, ifName, networkName: list.name,
      config: Buffer.from(JSON.stringify(list)).toString('base64'),
      ...(args?.length ? { cniArgs: args } : {}),
      ...(capabilityArgs && Object.keys(capabilityArgs).length ? { capabilityArgs } : {}),
      ...(result ? { result } : {}),
    };
    const p = this.path(list.name, containerId, ifName);
    await mkdir(join(this.dir, 'results'), { recursive: true, mode: 0o700 });
    // Write-then-rename: a crash leaves the old entry or the new, never half.
    await writeFile(`${p}.tmp`, JSON.stringify(entry), { mode: 0o600 });
    await rename(`${p}.tmp`, p);
  }

  async read(network: string, containerId: string, ifName: string): Promise<{ entry: CachedAttachment; list: CniConfList } | undefined> {
    let text: string;
    try {
      text = await readFile(this.path(network, containerId, ifName), 'utf8');
    } catch {
      return undefined;
    }
    const entry = JSON.parse(text) as CachedAttachment;
    const list = JSON.parse(Buffer.from(entry.config, 'base64').toString('utf8')) as CniConfList;
    return { entry, list };
  }

  async remove(network: string, containerId: string, ifName: string): Promise<void> {
    await rm(this.path(network, containerId, ifName), { force: true });
  }

  /** Every cached entry (for reconcile sweeps). */
  async all(): Promise<CachedAttachment[]> {
    let names: string[];
    try {
      names = await readdir(join(this.dir, 'results'));
    } catch {
      return [];
    }
    const out: CachedAttachment[] = [];
    for (const n of names) {
      if (n.endsWith('.tmp')) continue;
      try {
        out.push(JSON.parse(await readFile(join(this.dir, 'results', n), 'utf8')) as CachedAttachment);
      } catch { /* unreadable: skip, libcni does the same */ }
    }
    return out;
  }
}
