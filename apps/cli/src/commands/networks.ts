// berth network create/ls/inspect/rm/prune on the networks service;
// connect/disconnect through the engine (it owns a container's record, its
// namespaces and the order of its lifecycle calls, and keeps the connection
// for the next start).
import { InvalidArgumentError, isNotFound } from '@berth/errors';
import { NETWORKS_FORMAT, parseFilters } from '@berth/cli-kit';
import type { networksV1 } from '@berth/proto';
import { Ctx, confirm, eachArg } from '../context';
import { printInspect } from './containers';

function networkRow(n: networksV1.Network__Output, noTrunc: boolean): Record<string, unknown> {
  return {
    ID: noTrunc ? n.id : n.id.slice(0, 12), Name: n.name, Driver: n.driver, Scope: 'local', Subnet: n.subnet,
    Internal: String(n.internal), CreatedAt: n.created,
  };
}

/** Docker's network inspect document. */
export function networkDoc(r: networksV1.InspectNetworkResponse__Output): Record<string, unknown> {
  const n = r.network!;
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: n.driver, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal, Attachable: false, Ingress: false,
    Containers: Object.fromEntries(r.containers.map((a) => [a.containerId, {
      Name: a.name, MacAddress: a.mac, IPv4Address: a.ip ? `${a.ip}/${a.prefixLength}` : '', IPv6Address: '',
    }])),
    Options: { 'com.docker.network.bridge.name': n.bridge, ...(n.mtu ? { 'com.docker.network.driver.mtu': String(n.mtu) } : {}) },
    Labels: {},
  };
}

export async function networkCreate(ctx: Ctx): Promise<number> {
  const name = ctx.p.args[0]!;
  const driver = ctx.str('driver');
  if (driver !== 'bridge') throw new InvalidArgumentError(`invalid argument "${driver}" for "-d, --driver": berth networks use the bridge driver`, { field: 'driver' });
  const subnets = ctx.list('subnet');
  const gateways = ctx.list('gateway');
  if (subnets.length > 1) throw new InvalidArgumentError('berth networks have one IPv4 subnet: give --subnet once', { field: 'subnet' });
  if (gateways.length > 1) throw new InvalidArgumentError('berth networks have one gateway: give --gateway once', { field: 'gateway' });
  if (gateways.length && !subnets.length) throw new InvalidArgumentError('--gateway needs --subnet: the gateway must be an address in it', { field: 'gateway' });
  if (subnets[0] && !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(subnets[0])) {
    throw new InvalidArgumentError(`invalid argument "${subnets[0]}" for "--subnet": expected IPv4 CIDR (10.20.0.0/24)`, { field: 'subnet' });
  }
  if (ctx.list('label').length) throw new InvalidArgumentError('berth networks do not carry labels yet', { field: 'label' });
  const n = await ctx.networks().CreateNetwork({ name, subnet: subnets[0] ?? '', gateway: gateways[0] ?? '', internal: ctx.bool('internal'), bridge: '', mtu: 0, sysctls: {} });
  ctx.out(`${n.id}\n`);
  return 0;
}

function matches(n: networksV1.Network__Output, f: Record<string, string[]>): boolean {
  for (const [k, vals] of Object.entries(f)) {
    const ok = vals.some((v) => {
      switch (k) {
        case 'name': return n.name.includes(v);
        case 'id': return n.id.startsWith(v);
        case 'driver': return n.driver === v;
        case 'type': return v === (n.driver === 'cni' ? 'custom' : n.isDefault ? 'builtin' : 'custom');
        case 'scope': return v === 'local';
        default: throw new InvalidArgumentError(`invalid filter '${k}': expected name, id, driver, type or scope`, { field: 'filter' });
      }
    });
    if (!ok) return false;
  }
  return true;
}

export async function networkLs(ctx: Ctx): Promise<number> {
  const f = parseFilters(ctx.list('filter'));
  const res = await ctx.networks().ListNetworks({});
  const list = res.networks.filter((n) => matches(n, f)).sort((a, b) => a.name.localeCompare(b.name));
  if (ctx.bool('quiet')) {
    for (const n of list) ctx.out(`${ctx.bool('no-trunc') ? n.id : n.id.slice(0, 12)}\n`);
    return 0;
  }
  ctx.table(list.map((n) => networkRow(n, ctx.bool('no-trunc'))), NETWORKS_FORMAT);
  return 0;
}

export async function networkInspect(ctx: Ctx, names = ctx.p.args): Promise<number> {
  const docs: unknown[] = [];
  let failed = 0;
  for (const name of names) {
    try {
      docs.push(networkDoc(await ctx.networks().InspectNetwork({ name })));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      ctx.err(`berth: network ${name} not found\n`);
      failed++;
    }
  }
  printInspect(ctx, docs);
  return failed ? 1 : 0;
}

export async function networkRm(ctx: Ctx): Promise<number> {
  const nets = ctx.networks();
  return eachArg(ctx, ctx.p.args, async (name) => {
    try {
      await nets.RemoveNetwork({ name });
    } catch (e) {
      if (ctx.bool('force') && isNotFound(e)) return undefined;
      throw e;
    }
    return name;
  });
}

export async function networkPrune(ctx: Ctx): Promise<number> {
  if (ctx.list('filter').length) throw new InvalidArgumentError('berth network prune does not support --filter yet', { field: 'filter' });
  if (!ctx.bool('force') && !(await confirm(ctx, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?'))) return 0;
  const nets = ctx.networks();
  const { networks } = await nets.ListNetworks({});
  const deleted: string[] = [];
  for (const n of networks) {
    // The default network and drop-in CNI networks are configuration, not something prune owns.
    if (n.isDefault || n.driver !== 'bridge') continue;
    const ins = await nets.InspectNetwork({ name: n.name });
    if (ins.containers.length) continue;
    await nets.RemoveNetwork({ name: n.name });
    deleted.push(n.name);
  }
  if (deleted.length) ctx.out(`Deleted Networks:\n${deleted.map((d) => `${d}\n`).join('')}`);
  return 0;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * berth network connect [--alias A]... [--ip IP] [--link C[:A]]... NETWORK CONTAINER: the engine
 * attaches a running container at once (next interface, an address, DNS
 * names) and a stopped one at its next start. Flags are checked before any
 * service is contacted; Docker prints nothing on success.
 */
export async function networkConnect(ctx: Ctx): Promise<number> {
  const [network, container] = ctx.p.args as [string, string];
  const ip = ctx.str('ip');
  if (ip) {
    const m = IPV4_RE.exec(ip);
    if (!m || m.slice(1).some((o) => Number(o) > 255)) {
      throw new InvalidArgumentError(`invalid argument "${ip}" for "--ip": expected an IPv4 address like 172.30.100.104`, { field: 'ip' });
    }
  }
  const aliases = ctx.list('alias');
  const bad = aliases.find((a) => !ALIAS_RE.test(a));
  if (bad !== undefined) {
    throw new InvalidArgumentError(`invalid argument "${bad}" for "--alias": a DNS name of letters, digits, _ . - (at most 63, starting with a letter or digit)`, { field: 'alias' });
  }
  const links = ctx.list('link');
  const badLink = links.find((l) => {
    const [name, alias, ...rest] = l.split(':');
    return !name || rest.length > 0 || (alias !== undefined && !ALIAS_RE.test(alias));
  });
  if (badLink !== undefined) {
    throw new InvalidArgumentError(`invalid argument "${badLink}" for "--link": expected CONTAINER[:ALIAS]`, { field: 'link' });
  }
  if (!network) throw new InvalidArgumentError('"berth network connect" needs a network name as its first argument', { field: 'network' });
  if (!container) throw new InvalidArgumentError('"berth network connect" needs a container name or id as its second argument', { field: 'container' });
  await ctx.engine().ConnectNetwork({ network, container, aliases, ip, links });
  return 0;
}

/** berth network disconnect [-f] NETWORK CONTAINER. */
export async function networkDisconnect(ctx: Ctx): Promise<number> {
  const [network, container] = ctx.p.args as [string, string];
  if (!network) throw new InvalidArgumentError('"berth network disconnect" needs a network name as its first argument', { field: 'network' });
  if (!container) throw new InvalidArgumentError('"berth network disconnect" needs a container name or id as its second argument', { field: 'container' });
  await ctx.engine().DisconnectNetwork({ network, container, force: ctx.bool('force') });
  return 0;
}
