// /networks/* onto the networks service (objects) and the engine (connect,
// disconnect: the engine owns a container's connections); /volumes/* onto
// the engine's volumes.
import { createHash } from 'node:crypto';
import { InvalidArgumentError, isNotFound } from '@berth/errors';
import type { engineV1, networksV1 } from '@berth/proto';
import type { Backends } from './backends';
import { DockerHttpError, boolParam, filtersParam, notImplemented, readJson, sendEmpty, sendJson, type Router } from './http';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The two networks Docker always lists that berth has no object for: host
 * (the host's namespace) and none (loopback only), the network modes of the
 * same names. Ids are fixed per name so they stay the same across restarts.
 */
const PREDEFINED = ['host', 'none'];

function predefinedNetwork(name: string): networksV1.Network__Output {
  return {
    name, id: createHash('sha256').update(`berth predefined network ${name}`).digest('hex'), driver: name === 'host' ? 'host' : 'null',
    bridge: '', subnet: '', gateway: '', internal: false, isDefault: true, dns: false, mtu: 0, sysctls: {}, created: '', labels: {},
  };
}

/** The networks service's networks and the predefined ones it does not shadow. */
async function allNetworks(b: Backends): Promise<networksV1.Network__Output[]> {
  const { networks } = await b.networks.ListNetworks({});
  return [...networks, ...PREDEFINED.filter((p) => !networks.some((n) => n.name === p)).map(predefinedNetwork)];
}

/** Docker's driver name: berth's bridge, a drop-in's cni, host and null for the predefined ones. */
const driverOf = (n: networksV1.Network__Output): string => (['cni', 'host', 'null'].includes(n.driver) ? n.driver : 'bridge');

/** moby api/types NetworkResource. */
export function networkDoc(n: networksV1.Network__Output, attachments: networksV1.Attachment__Output[] = []): Json {
  return {
    Name: n.name,
    Id: n.id || n.name,
    Created: n.created || '0001-01-01T00:00:00Z',
    Scope: 'local',
    Driver: driverOf(n),
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [] },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(attachments.map((a) => [a.containerId, {
      Name: a.name, EndpointID: '', MacAddress: a.mac, IPv4Address: a.ip ? `${a.ip}/${a.prefixLength}` : '', IPv6Address: '',
    }])),
    Options: {
      ...(n.bridge ? { 'com.docker.network.bridge.name': n.bridge } : {}),
      ...(n.mtu ? { 'com.docker.network.driver.mtu': String(n.mtu) } : {}),
    },
    Labels: { ...n.labels },
  };
}

/** moby api/types/volume Volume. */
export function volumeDoc(v: engineV1.Volume__Output): Json {
  return {
    Name: v.name,
    Driver: v.driver || 'local',
    Mountpoint: v.mountpoint,
    CreatedAt: new Date(Number(v.createdAtUnixMs)).toISOString(),
    Labels: v.labels,
    Scope: 'local',
    Options: Object.keys(v.options).length ? v.options : null,
  };
}

function matchesNetwork(n: networksV1.Network__Output, f: Record<string, string[]>): boolean {
  const any = (k: string, test: (v: string) => boolean) => !f[k]?.length || f[k]!.some(test);
  return any('name', (v) => n.name.includes(v))
    && any('id', (v) => (n.id || n.name).startsWith(v))
    && any('driver', (v) => v === driverOf(n))
    && any('type', (v) => (v === 'builtin') === n.isDefault)
    // Every label filter must hold: "key" (present) or "key=value".
    && (f['label'] ?? []).every((l) => {
      const eq = l.indexOf('=');
      return eq < 0 ? l in n.labels : n.labels[l.slice(0, eq)] === l.slice(eq + 1);
    });
}

export function registerNetworks(router: Router, b: Backends): void {
  router.add('GET', '/networks', async (req, res) => {
    const f = filtersParam(req.query);
    const networks = await allNetworks(b);
    sendJson(res, 200, networks.filter((n) => matchesNetwork(n, f)).map((n) => networkDoc(n)));
  });

  router.add('GET', '/networks/(?<id>[^/]+)', async (req, res) => {
    const name = await networkName(b, req.params['id']!);
    const pre = await predefinedOnly(b, name);
    if (pre) {
      sendJson(res, 200, networkDoc(pre));
      return;
    }
    const r = await b.networks.InspectNetwork({ name });
    sendJson(res, 200, networkDoc(r.network!, r.containers));
  });

  router.add('POST', '/networks/create', async (req, res) => {
    const body = await readJson(req.raw);
    const name = str(body['Name']);
    if (!name) throw new InvalidArgumentError('Name is required: the network to create', { field: 'Name' });
    const driver = str(body['Driver']) || 'bridge';
    if (driver !== 'bridge') throw notImplemented(`the ${driver} network driver`);
    if (body['EnableIPv6'] === true) throw notImplemented('IPv6 networks');
    const ipam = obj(body['IPAM']);
    const configs = Array.isArray(ipam['Config']) ? (ipam['Config'] as Json[]) : [];
    if (configs.length > 1) throw notImplemented('more than one IPAM config per network');
    const opts = obj(body['Options']);
    const labels = Object.fromEntries(Object.entries(obj(body['Labels'])).map(([k, v]) => [k, str(v)]));
    const n = await b.networks.CreateNetwork({
      name, subnet: str(configs[0]?.['Subnet']), gateway: str(configs[0]?.['Gateway']), internal: body['Internal'] === true,
      bridge: str(opts['com.docker.network.bridge.name']), mtu: Number(opts['com.docker.network.driver.mtu'] ?? 0) || 0, sysctls: {}, labels,
    });
    sendJson(res, 201, { Id: n.id || n.name, Warning: '' });
  });

  router.add('DELETE', '/networks/(?<id>[^/]+)', async (req, res) => {
    const name = await networkName(b, req.params['id']!);
    if (await predefinedOnly(b, name)) throw new DockerHttpError(403, `${name} is a pre-defined network and cannot be removed`);
    await b.networks.RemoveNetwork({ name });
    sendEmpty(res);
  });

  router.add('POST', '/networks/(?<id>[^/]+)/connect', async (req, res) => {
    const body = await readJson(req.raw);
    const ep = obj(body['EndpointConfig']);
    await b.engine.ConnectNetwork({
      container: str(body['Container']), network: await networkName(b, req.params['id']!),
      aliases: Array.isArray(ep['Aliases']) ? (ep['Aliases'] as string[]) : [],
      ip: str(obj(ep['IPAMConfig'])['IPv4Address']),
      links: Array.isArray(ep['Links']) ? (ep['Links'] as string[]) : [],
    });
    sendEmpty(res, 200);
  });

  router.add('POST', '/networks/(?<id>[^/]+)/disconnect', async (req, res) => {
    const body = await readJson(req.raw);
    await b.engine.DisconnectNetwork({ container: str(body['Container']), network: await networkName(b, req.params['id']!), force: body['Force'] === true });
    sendEmpty(res, 200);
  });

  router.add('POST', '/networks/prune', async (req, res) => {
    const f = filtersParam(req.query);
    for (const k of Object.keys(f)) {
      if (!['label', 'label!', 'until'].includes(k)) throw new InvalidArgumentError(`invalid filter '${k}' for network prune: label, label! and until are accepted`, { field: 'filters' });
    }
    const until = f['until']?.[0];
    const untilMs = until === undefined ? undefined : untilParam(until);
    const { networks } = await b.networks.ListNetworks({});
    const deleted: string[] = [];
    for (const n of networks) {
      if (n.isDefault || n.driver === 'cni') continue;
      if (!matchesNetwork(n, { label: f['label'] ?? [] }) || (f['label!'] ?? []).some((l) => matchesNetwork(n, { label: [l] }))) continue;
      if (untilMs !== undefined && Date.parse(n.created) > untilMs) continue;
      const r = await b.networks.InspectNetwork({ name: n.name }).catch(() => undefined);
      if (!r || r.containers.length) continue;
      try {
        await b.networks.RemoveNetwork({ name: n.name });
        deleted.push(n.name);
      } catch (e) {
        if (!isNotFound(e)) continue; // in use meanwhile: skipped, as Docker does
      }
    }
    sendJson(res, 200, { NetworksDeleted: deleted });
  });

  // Volumes.
  router.add('GET', '/volumes', async (req, res) => {
    const f = filtersParam(req.query);
    const { volumes } = await b.engine.ListVolumes({ filters: Object.fromEntries(Object.entries(f).map(([k, values]) => [k, { values }])) });
    sendJson(res, 200, { Volumes: volumes.map(volumeDoc), Warnings: [] });
  });
  router.add('POST', '/volumes/create', async (req, res) => {
    const body = await readJson(req.raw);
    const driver = str(body['Driver']) || 'local';
    if (driver !== 'local') throw notImplemented(`the ${driver} volume driver`);
    const labels = Object.fromEntries(Object.entries(obj(body['Labels'])).map(([k, v]) => [k, str(v)]));
    const options = Object.fromEntries(Object.entries(obj(body['DriverOpts'])).map(([k, v]) => [k, str(v)]));
    sendJson(res, 201, volumeDoc(await b.engine.CreateVolume({ name: str(body['Name']), driver, labels, options })));
  });
  router.add('POST', '/volumes/prune', async (req, res) => {
    const f = filtersParam(req.query);
    // API 1.41 prunes every unused volume, named ones too (all=false arrived with 1.42).
    const all = f['all'] ? f['all'].includes('true') || f['all'].includes('1') : true;
    delete f['all'];
    const r = await b.engine.PruneVolumes({ filters: Object.fromEntries(Object.entries(f).map(([k, values]) => [k, { values }])), all });
    sendJson(res, 200, { VolumesDeleted: r.deleted, SpaceReclaimed: Number(r.spaceReclaimed) });
  });
  router.add('GET', '/volumes/(?<name>[^/]+)', async (req, res) => {
    sendJson(res, 200, volumeDoc(await b.engine.InspectVolume({ name: req.params['name']! })));
  });
  router.add('DELETE', '/volumes/(?<name>[^/]+)', async (req, res) => {
    await b.engine.RemoveVolume({ name: req.params['name']!, force: boolParam(req.query, 'force') });
    sendEmpty(res);
  });
}

/** Prune's until: unix seconds, RFC 3339, or a duration before now ("24h", "90m"). */
function untilParam(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+(?:\.\d+)?)(h|m|s)$/.exec(v);
  if (d) return Date.now() - Number(d[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[d[2] as 'h' | 'm' | 's'];
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`invalid until "${v}": expected a timestamp or a duration such as 24h`, { field: 'filters' });
  return ms;
}

/** The predefined network named `name`, unless the networks service has one of that name. */
async function predefinedOnly(b: Backends, name: string): Promise<networksV1.Network__Output | undefined> {
  if (!PREDEFINED.includes(name)) return undefined;
  const { networks } = await b.networks.ListNetworks({});
  return networks.some((n) => n.name === name) ? undefined : predefinedNetwork(name);
}

/** Docker addresses a network by name, id or id prefix; the networks service by name. */
async function networkName(b: Backends, ref: string): Promise<string> {
  const networks = await allNetworks(b);
  const exact = networks.find((n) => n.name === ref || n.id === ref);
  if (exact) return exact.name;
  const byPrefix = networks.filter((n) => n.id && n.id.startsWith(ref));
  if (byPrefix.length === 1) return byPrefix[0]!.name;
  return ref; // the networks service answers NotFound naming it
}
