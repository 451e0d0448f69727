// Persistence under the service's state dir, one JSON file per object,
// written with write-then-rename so a crash leaves the old or the new file:
//   <stateDir>/networks/<name>.json     a Network
//   <stateDir>/endpoints/<id>.json      a container's EndpointRecord[]
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataLossError } from '@berth/errors';
import type { CniConfList } from './cni/types';
import type { Attachment, Network } from './types';

/** What the service remembers per attachment; `phase` marks crash windows. */
export interface EndpointRecord extends Attachment {
  /**
   * 'attaching' is written before the first CNI ADD and replaced by 'attached'
   * after the last: a record still 'attaching' at start means a crash mid-way,
   * and reconcile runs DEL for it.
   */
  phase: 'attaching' | 'attached';
  /** The exact conflist ADD ran with (DEL uses it if the cache is missing). */
  conflist?: CniConfList;
  /** Per-container upstream resolvers (docker --dns). */
  dns: string[];
  /**
   * Who made the interface: 'native' (rtnetlink, conflist holds only portmap
   * when ports are published) or 'cni' (the whole conflist). Absent = 'cni'.
   */
  datapath?: 'native' | 'cni';
  /** The address the attach asked for (AttachOptions.ip); absent = IPAM's next free one. */
  requestedIp?: string;
  /** The MAC address the attach asked for (AttachOptions.mac); absent = derived from the address. */
  requestedMac?: string;
  /** --link NAME:ALIAS: names only this container resolves (AttachOptions.links). */
  links?: { name: string; alias: string }[];
  /** When the attach began (Unix ms): reconcile leaves attachments newer than its caller's list. Absent in older records. */
  createdAtMs?: number;
}

async function writeAtomic(path: string, data: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(data, null, 1), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

async function readAll<T>(dir: string): Promise<[string, T][]> {
  let names: string[];
  try { names = await readdir(dir); } catch { return []; }
  const out: [string, T][] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const p = join(dir, n);
    try {
      out.push([n.slice(0, -5), JSON.parse(await readFile(p, 'utf8')) as T]);
    } catch (e) {
      throw new DataLossError(`networks state file ${p} is unreadable; move it away to let the service start`, { cause: e });
    }
  }
  return out;
}

export class Store {
  readonly networksDir: string;
  readonly endpointsDir: string;

  constructor(readonly stateDir: string) {
    this.networksDir = join(stateDir, 'networks');
    this.endpointsDir = join(stateDir, 'endpoints');
  }

  async init(): Promise<void> {
    await mkdir(this.networksDir, { recursive: true, mode: 0o700 });
    await mkdir(this.endpointsDir, { recursive: true, mode: 0o700 });
  }

  loadNetworks(): Promise<[string, Network][]> { return readAll<Network>(this.networksDir); }
  saveNetwork(n: Network): Promise<void> { return writeAtomic(join(this.networksDir, `${n.name}.json`), n); }
  removeNetwork(name: string): Promise<void> { return rm(join(this.networksDir, `${name}.json`), { force: true }); }

  loadEndpoints(): Promise<[string, EndpointRecord[]][]> { return readAll<EndpointRecord[]>(this.endpointsDir); }
  async saveEndpoints(containerId: string, eps: EndpointRecord[]): Promise<void> {
    const p = join(this.endpointsDir, `${containerId}.json`);
    if (eps.length === 0) await rm(p, { force: true });
    else await writeAtomic(p, eps);
  }
}
