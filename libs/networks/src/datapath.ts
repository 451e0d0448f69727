// Datapath: how a container's attachment to a network is made in the kernel.
// The NetworkManager owns the records (endpoints table, state files, the lock,
// DNS names, events); a datapath owns what one attachment does to the host
// and the container's namespace, and the host-wide state its attachments
// share. Two implementations, each run through the conformance suite in
// testing/datapath-suite.ts:
//   native/datapath.ts  rtnetlink from this process (veth, address, routes),
//                       host ports as iptables-restore rules: no spawn per attach
//   cni/datapath.ts     a conflist's plugin chain (bridge + host-local +
//                       loopback, portmap for ports); drop-in networks always
//
// Lifecycle of one attachment, as the manager drives it:
//   plan(ep, target, siblings)   under the table lock, no kernel work: the
//                                record gets what the datapath must persist
//                                before it touches anything (the veth name,
//                                the conflist ADD runs with), so a crash in
//                                add() leaves a record remove() can undo
//   add(ep)                      the kernel work; fills ip, prefixLength,
//                                gateway, mac, hostInterface; undoes its own
//                                partial work when it fails
//   check(ep)                    CNI CHECK's meaning: throws when the kernel
//                                state no longer matches the record
//   remove(ep)                   undoes add; idempotent, and safe on a record
//                                whose add a crash cut short or whose
//                                namespace is gone
// A record keeps the name of the datapath that made it (EndpointRecord
// .datapath), so records made under another configured datapath (an older
// start, a drop-in network) are removed and checked by their own.
import type { CniConfList } from './cni/types';
import type { ReconcileReport } from './reconcile';
import type { EndpointRecord } from './store';
import type { Network } from './types';

export type DatapathName = 'native' | 'cni';

/** The datapath a record was made by (records from before the field existed are CNI's). */
export function datapathOf(ep: EndpointRecord): DatapathName {
  return ep.datapath === 'native' ? 'native' : 'cni';
}

/** What a datapath reads of the manager's state; every call reads the table as it is at that moment. */
export interface DatapathHost {
  /** A berth bridge network by name (undefined for drop-ins and unknown names). */
  network(name: string): Network | undefined;
  /** Every berth bridge network. */
  networks(): Network[];
  /** Every endpoint record, attaching ones included. */
  endpoints(): EndpointRecord[];
  /** A problem that did not fail the operation, for the service log. */
  warn(message: string): void;
}

/** Where a new attachment goes. */
export type AttachTarget =
  /** Network mode none: lo, up. */
  | { kind: 'none' }
  /** One of berth's bridge networks. */
  | { kind: 'network'; network: Network }
  /** A drop-in conflist's network (CNI only). */
  | { kind: 'drop-in'; conflist: CniConfList };

export interface Datapath {
  readonly name: DatapathName;
  /**
   * Completes a new record (mode none or bridge; network, interface, ports
   * and requestedIp already set) with what this datapath persists before
   * add(). `siblings` are the container's other records. No kernel work;
   * throws InvalidArgumentError for a request the target cannot carry.
   */
  plan(ep: EndpointRecord, target: AttachTarget, siblings: EndpointRecord[]): EndpointRecord;
  /**
   * Makes the attachment. `defaultRoute`: the container's first bridge
   * network on a network with a way out (a datapath that fixes routes at
   * plan() ignores it).
   */
  add(ep: EndpointRecord, opts: { defaultRoute: boolean }): Promise<void>;
  /** Undoes add(); idempotent; the container's namespace may be gone. */
  remove(ep: EndpointRecord): Promise<void>;
  /** Throws FailedPreconditionError when the attachment's kernel state drifted from the record. */
  check(ep: EndpointRecord): Promise<void>;
  /** The set of bridge networks changed (start, create, remove): host-wide state follows it. */
  networksChanged(networks: Network[]): Promise<void>;
  /** Attachments with published ports went away: drops shared state none uses any more. */
  releaseIdle(): Promise<void>;
  /**
   * Reconcile's part: removes this datapath's host state that no record
   * explains. `ourNetworks` names every network of this manager (berth's,
   * drop-ins, internal ones such as the loopback list). Failures go into
   * report.errors; the rest of the sweep goes on.
   */
  sweep(report: ReconcileReport, ourNetworks: ReadonlySet<string>): Promise<void>;
}
