// Reconcile: after a start (or when the engine asks), make the host match the
// records and the records match the containers that exist.
//   1. wait for helper processes a killed predecessor left (orphans.ts);
//   2. containers not in the caller's list: detach (records kept when the
//      caller's list is older than them, or an attach of theirs runs here);
//   3. records still 'attaching' (a crash mid-attach): undone and dropped;
//   4. each datapath sweeps its own state no record explains (native: port
//      rules; CNI: cached results), then what both leave: host-local address
//      files and veths on berth's bridges;
//   5. shared state nothing uses any more is released (portmap's chains).
// The table is read again at each decision, never snapshotted before an
// await: an attach running meanwhile puts its record (with its veth name) in
// the table before it makes the veth, claims the address or adds rules, so
// what the table does not name at that moment is a leftover.
import { readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './command';
import type { Datapath } from './datapath';
import type { EndpointTable } from './endpoints';
import { waitForOrphanHelpers } from './orphans';
import type { EndpointRecord } from './store';
import type { Network } from './types';

export interface ReconcileReport {
  /** Containers whose attachments were undone because they no longer exist. */
  detached: string[];
  /** Attachments a crash left half-made, rolled back. */
  rolledBack: { containerId: string; network: string }[];
  /** Cached CNI results with no attachment, DELeted. */
  cacheSwept: string[];
  /** host-local allocation files with no attachment, removed. */
  ipsReleased: string[];
  /** Host veths on berth bridges with no attachment, deleted. */
  vethsDeleted: string[];
  errors: string[];
}

/** What reconcile uses of the manager. */
export interface ReconcileHost {
  table: EndpointTable;
  /** Attaches running in this process: not crash leftovers. */
  inflight: ReadonlySet<EndpointRecord>;
  networks(): Network[];
  /** Names of every network of this manager (berth's, drop-ins, the loopback list). */
  ourNetworks(): ReadonlySet<string>;
  ipamDir: string;
  datapaths: Datapath[];
  /** Detaches every attachment of the container (as the Detach rpc). */
  detach(containerId: string): Promise<unknown>;
  /** Undoes one record's names and kernel state, keeping the record. */
  undo(ep: EndpointRecord): Promise<void>;
  /** Drops one record from the table and the state dir. */
  dropRecord(ep: EndpointRecord): Promise<void>;
}

/** Given the containers that exist (as of asOfMs), undoes what belongs to no container and what a crash half-made. */
export async function reconcileAttachments(host: ReconcileHost, existingContainers: string[], asOfMs: number): Promise<ReconcileReport> {
  const keep = new Set(existingContainers);
  const rep: ReconcileReport = { detached: [], rolledBack: [], cacheSwept: [], ipsReleased: [], vethsDeleted: [], errors: [] };
  // Helpers (plugins, iptables-restore) a killed predecessor started may
  // still be doing their part of an attach: let them finish first.
  const still = await waitForOrphanHelpers();
  if (still.length) rep.errors.push(`helper processes still running after 30 s (pids ${still.join(', ')}); their work may outlive this reconcile`);
  for (const [id, eps] of host.table.entries()) {
    // The caller's list can be older than an attach running here, or one
    // made since it read the list (the engine reads it before awaiting
    // other services): that container exists.
    if (!keep.has(id) && eps.some((e) => host.inflight.has(e) || (e.createdAtMs ?? 0) > asOfMs)) continue;
    if (!keep.has(id)) {
      try {
        await host.detach(id);
      } catch (e) {
        rep.errors.push(`detach ${id}: ${(e as Error).message}`);
        for (const ep of eps) await host.dropRecord(ep);
      }
      rep.detached.push(id);
      continue;
    }
    for (const ep of eps.filter((e) => e.phase === 'attaching' && !host.inflight.has(e))) {
      try {
        await host.undo(ep);
      } catch (e) {
        rep.errors.push(`roll back ${id} on ${ep.network || ep.mode}: ${(e as Error).message}`);
      }
      await host.dropRecord(ep);
      rep.rolledBack.push({ containerId: id, network: ep.network });
    }
  }
  const ours = host.ourNetworks();
  for (const dp of host.datapaths) await dp.sweep(rep, ours);
  const live = (): EndpointRecord[] => host.table.all();
  for (const net of host.networks()) {
    const dir = join(host.ipamDir, net.name);
    let files: string[] = [];
    try { files = await readdir(dir); } catch { /* no allocations yet */ }
    for (const f of files) {
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue; // lock, last_reserved_ip.0
      const owner = (await readFile(join(dir, f), 'utf8').catch(() => '')).split(/\r?\n/)[0] ?? '';
      if (!live().some((e) => e.containerId === owner && e.network === net.name)) {
        await rm(join(dir, f), { force: true });
        rep.ipsReleased.push(`${net.name}/${f}`);
      }
    }
    // A veth of an attach in flight is not recorded yet: sweep only when idle.
    if (host.inflight.size) continue;
    const links = await runCommand('ip', ['-o', 'link', 'show', 'master', net.bridge]);
    for (const line of links.stdout.split('\n')) {
      const m = /^\d+:\s+([^@:\s]+)/.exec(line);
      if (!m) continue;
      const dev = m[1]!;
      if (live().some((e) => e.hostInterface === dev)) continue;
      // A CNI attach names its veth only after ADD: one started while we listed may be making this one.
      if (host.inflight.size) break;
      await runCommand('ip', ['link', 'del', dev]);
      rep.vethsDeleted.push(dev);
    }
  }
  for (const dp of host.datapaths) await dp.releaseIdle();
  return rep;
}
