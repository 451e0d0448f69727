// POST /containers/create: Docker's create body (container.Config plus
// HostConfig and NetworkingConfig, moby api/types/container) decoded into the
// same request the berth CLI builds from `berth create` flags
// (@berth/container-config), then into berth.engine.v1.CreateContainerRequest.
// Unknown fields are ignored, as clients send whatever their version knows;
// fields that ask for something berth does not do are refused by name rather
// than silently dropped.
import { posix } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import { healthConfigFromDocker, type ContainerConfig, type DockerHealthConfig, type HostConfig, type MountSpec, type PortBinding, type RestartPolicy } from '@berth/container-config';
import { parseCapability, parseNetworkMode, parseTmpfs, parseVolumeSpec } from '@berth/cli-kit';
import { extraResourcesOf } from './resources';
import { namespaceOptionsOf } from './namespace-options';
import type { engineV1 } from '@berth/proto';

/** The label that marks a container the gateway removes at its exit (Docker's AutoRemove, see containers.ts). */
export const AUTO_REMOVE_LABEL = 'berth.docker-api.auto-remove';

type Json = Record<string, unknown>;

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
/** Cmd/Entrypoint: a list, a single string (shell form is the client's business), or null. */
const cmdList = (v: unknown): string[] | null => (Array.isArray(v) ? strList(v) : typeof v === 'string' ? [v] : null);
const keysOf = (v: unknown): string[] => Object.keys(obj(v));

const bad = (field: string, why: string): InvalidArgumentError => new InvalidArgumentError(`invalid ${field}: ${why}`, { field });

/** "80", "80/tcp", "53/udp" -> [port, proto]. */
export function parsePortKey(key: string, field: string): [number, string] {
  const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(key);
  if (!m) throw bad(field, `"${key}" is not a port (expected 80 or 80/tcp)`);
  const port = Number(m[1]);
  if (port < 1 || port > 65535) throw bad(field, `port ${port} is out of range 1-65535`);
  return [port, (m[3] ?? 'tcp').toLowerCase()];
}

/** HostConfig.PortBindings {"80/tcp": [{HostIp, HostPort}]}; HostPort "" or "0" = a free port. */
function portBindingsOf(v: unknown): PortBinding[] {
  const out: PortBinding[] = [];
  for (const [key, list] of Object.entries(obj(v))) {
    const [containerPort, protocol] = parsePortKey(key, 'HostConfig.PortBindings');
    const entries = Array.isArray(list) && list.length ? list : [{}];
    for (const e of entries) {
      const hostIp = str(obj(e)['HostIp']);
      const hp = str(obj(e)['HostPort']) || String(num(obj(e)['HostPort']) || '');
      let hostPort = 0;
      let hostPortEnd: number | undefined;
      if (hp !== '' && hp !== '0') {
        const m = /^(\d+)(?:-(\d+))?$/.exec(hp);
        if (!m) throw bad('HostConfig.PortBindings', `host port "${hp}" is not a port or a range (8000-8010)`);
        hostPort = Number(m[1]);
        if (m[2]) hostPortEnd = Number(m[2]);
        if (hostPort > 65535 || (hostPortEnd ?? 0) > 65535 || (hostPortEnd !== undefined && hostPortEnd < hostPort)) {
          throw bad('HostConfig.PortBindings', `host port "${hp}" is out of range 1-65535`);
        }
      }
      out.push({ containerPort, protocol, hostIp, hostPort, ...(hostPortEnd ? { hostPortEnd } : {}) });
    }
  }
  return out;
}

/** HostConfig.Mounts (the --mount form compose v2 and the SDKs use). */
function mountOf(m: Json, i: number): MountSpec {
  const field = `HostConfig.Mounts[${i}]`;
  const type = str(m['Type']) || 'volume';
  const target = str(m['Target']);
  if (!target.startsWith('/') || posix.normalize(target) === '/') throw bad(field, `Target "${target}" must be an absolute path other than "/"`);
  const readOnly = m['ReadOnly'] === true;
  if (type === 'bind') {
    const source = str(m['Source']);
    if (!source.startsWith('/')) throw bad(field, `Source "${source}" of a bind mount must be an absolute host path`);
    const propagation = str(obj(m['BindOptions'])['Propagation']);
    return { type: 'bind', source: posix.normalize(source), target: posix.normalize(target), readOnly, options: propagation ? [propagation] : [] };
  }
  if (type === 'volume') {
    const noCopy = obj(m['VolumeOptions'])['NoCopy'] === true;
    return { type: 'volume', source: str(m['Source']), target: posix.normalize(target), readOnly, options: noCopy ? ['nocopy'] : [] };
  }
  if (type === 'tmpfs') {
    const t = obj(m['TmpfsOptions']);
    const options: string[] = [];
    if (num(t['SizeBytes']) > 0) options.push(`size=${num(t['SizeBytes'])}`);
    if (num(t['Mode']) > 0) options.push(`mode=${num(t['Mode']).toString(8)}`);
    return { type: 'tmpfs', source: '', target: posix.normalize(target), readOnly, options };
  }
  throw bad(field, `mount type "${type}" is not supported by berth (bind, volume, tmpfs)`);
}

function restartPolicyOf(v: unknown): RestartPolicy {
  const r = obj(v);
  const name = str(r['Name']) || 'no';
  if (name !== 'no' && name !== 'always' && name !== 'unless-stopped' && name !== 'on-failure') {
    throw bad('HostConfig.RestartPolicy.Name', `"${name}" (expected no, always, unless-stopped or on-failure)`);
  }
  return { name, maximumRetryCount: name === 'on-failure' ? num(r['MaximumRetryCount']) : 0 };
}

/** Fields whose presence asks for something berth does not do: refused, naming the field. */
function refuseUnsupported(h: Json): void {
  // "none" (no /dev/shm) is Docker's; every berth container has its IPC namespace with /dev/shm, as "private".
  if (str(h['IpcMode']) === 'none') throw new InvalidArgumentError('HostConfig.IpcMode "none" is not supported by berth (use private)', { field: 'HostConfig.IpcMode' });
}

export interface DecodedCreate {
  request: engineV1.CreateContainerRequest;
  /** Networks beyond the first (EndpointsConfig), connected after the create. */
  extraNetworks: { network: string; aliases: string[]; ip: string }[];
  /** Aliases asked for on the container's own network. */
  aliases: string[];
  autoRemove: boolean;
}

/** Decodes Docker's create body; `name` from the query (?name=). */
export function decodeCreate(body: Json, name: string): DecodedCreate {
  if (name !== '' && !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw bad('name', `"${name}" (expected [a-zA-Z0-9][a-zA-Z0-9_.-]+)`);
  const image = str(body['Image']);
  if (!image) throw new InvalidArgumentError('config.Image is required: name the image to create the container from', { field: 'Image' });
  const h = obj(body['HostConfig']);
  refuseUnsupported(h);

  const mounts: MountSpec[] = [];
  for (const b of strList(h['Binds'])) mounts.push(parseVolumeSpec({ name: 'HostConfig.Binds' }, b, '/'));
  (Array.isArray(h['Mounts']) ? h['Mounts'] : []).forEach((m, i) => mounts.push(mountOf(obj(m), i)));
  for (const [target, opts] of Object.entries(obj(h['Tmpfs']))) mounts.push(parseTmpfs({ name: 'HostConfig.Tmpfs' }, opts ? `${target}:${str(opts)}` : target));
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.target)) throw bad('HostConfig.Binds', `duplicate mount point: ${m.target}`);
    seen.add(m.target);
  }

  const portBindings = portBindingsOf(h['PortBindings']);
  const exposed = new Set(keysOf(body['ExposedPorts']).map((k) => parsePortKey(k, 'ExposedPorts')).map(([p, proto]) => `${p}/${proto}`));
  for (const b of portBindings) exposed.add(`${b.containerPort}/${b.protocol}`);
  // PublishAllPorts is the engine's: it publishes the image's EXPOSE too (publish-all.ts).

  const endpoints = obj(obj(body['NetworkingConfig'])['EndpointsConfig']);
  let networkMode = str(h['NetworkMode']) || 'default';
  const endpointNames = Object.keys(endpoints);
  if ((networkMode === 'default' || networkMode === 'bridge') && endpointNames.length && !endpointNames.includes(networkMode)) networkMode = endpointNames[0]!;
  networkMode = parseNetworkMode({ name: 'HostConfig.NetworkMode' }, networkMode);
  const own = obj(endpoints[networkMode] ?? endpoints[str(h['NetworkMode'])]);
  const aliases = strList(own['Aliases']);
  const ownIp = str(obj(own['IPAMConfig'])['IPv4Address']);
  // Config.MacAddress (API < 1.44), or the endpoint's MacAddress (1.44 on).
  const ownMac = str(body['MacAddress']) || str(own['MacAddress']);
  const extraNetworks = endpointNames
    .filter((n) => n !== networkMode && n !== str(h['NetworkMode']))
    .map((n) => ({ network: n, aliases: strList(obj(endpoints[n])['Aliases']), ip: str(obj(obj(endpoints[n])['IPAMConfig'])['IPv4Address']) }));

  const autoRemove = h['AutoRemove'] === true;
  const restartPolicy = restartPolicyOf(h['RestartPolicy']);
  if (autoRemove && restartPolicy.name !== 'no') {
    throw new InvalidArgumentError('conflicting options: AutoRemove and RestartPolicy; a container removed on exit cannot be restarted', { field: 'HostConfig.RestartPolicy' });
  }

  let nanoCpus = num(h['NanoCpus']);
  if (!nanoCpus && num(h['CpuQuota']) > 0) nanoCpus = Math.round((num(h['CpuQuota']) / (num(h['CpuPeriod']) || 100_000)) * 1e9);
  const memory = num(h['Memory']);
  if (memory > 0 && memory < 6 * 1024 * 1024) throw bad('HostConfig.Memory', 'the minimum memory limit is 6 MiB (6291456)');
  const pidsLimit = num(h['PidsLimit']);
  const logConfig = obj(h['LogConfig']);
  const logType = str(logConfig['Type']);

  const stopTimeout = typeof body['StopTimeout'] === 'number' ? (body['StopTimeout'] as number) : null;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(body['Labels']))) labels[k] = str(v);
  // The gateway removes AutoRemove containers itself, after their output and exit code are delivered.
  if (autoRemove) labels[AUTO_REMOVE_LABEL] = 'true';

  const config: ContainerConfig = {
    hostname: str(body['Hostname']),
    domainname: str(body['Domainname']),
    user: str(body['User']),
    env: strList(body['Env']),
    cmd: cmdList(body['Cmd']),
    entrypoint: cmdList(body['Entrypoint']),
    workingDir: str(body['WorkingDir']),
    exposedPorts: [...exposed],
    volumes: keysOf(body['Volumes']),
    labels,
    stopSignal: str(body['StopSignal']),
    stopTimeout,
    tty: body['Tty'] === true,
    openStdin: body['OpenStdin'] === true,
    attachStdin: body['AttachStdin'] === true,
    attachStdout: body['AttachStdout'] === true,
    attachStderr: body['AttachStderr'] === true,
    image,
    // Docker's Healthcheck {Test, Interval, Timeout, StartPeriod, StartInterval, Retries} (ns): the engine checks it.
    ...(body['Healthcheck'] && typeof body['Healthcheck'] === 'object' ? { healthcheck: healthConfigFromDocker(obj(body['Healthcheck']) as DockerHealthConfig) } : {}),
  };
  if (config.workingDir && !config.workingDir.startsWith('/')) throw bad('WorkingDir', `"${config.workingDir}" is not an absolute path`);
  const hostConfig: HostConfig = {
    memory,
    memorySwap: num(h['MemorySwap']),
    nanoCpus,
    cpuShares: num(h['CpuShares']),
    cpusetCpus: str(h['CpusetCpus']),
    pidsLimit: pidsLimit > 0 ? pidsLimit : 0,
    networkMode,
    portBindings,
    mounts,
    readonlyRootfs: h['ReadonlyRootfs'] === true,
    init: h['Init'] === true,
    restartPolicy,
    capAdd: strList(h['CapAdd']).map((c) => parseCapability({ name: 'HostConfig.CapAdd' }, c)),
    capDrop: strList(h['CapDrop']).map((c) => parseCapability({ name: 'HostConfig.CapDrop' }, c)),
    usernsMode: str(h['UsernsMode']),
    autoRemove: false,
    securityOpt: strList(h['SecurityOpt']),
    // Docker's Privileged, Devices [{PathOnHost, PathInContainer, CgroupPermissions}], DeviceCgroupRules, CgroupnsMode: the engine checks them.
    privileged: h['Privileged'] === true,
    devices: (Array.isArray(h['Devices']) ? (h['Devices'] as unknown[]) : []).map((d) => {
      const o = obj(d);
      return { pathOnHost: str(o['PathOnHost']), pathInContainer: str(o['PathInContainer']), cgroupPermissions: str(o['CgroupPermissions']) };
    }),
    deviceCgroupRules: strList(h['DeviceCgroupRules']),
    cgroupnsMode: str(h['CgroupnsMode']),
    // MemoryReservation, MemorySwappiness, KernelMemory, OomKillDisable, CpuPeriod/CpuQuota, CpusetMems, Blkio*.
    ...extraResourcesOf(h, nanoCpus > 0 && !num(h['NanoCpus'])),
    // IpcMode, PidMode, UTSMode, Sysctls, Dns, DnsSearch, DnsOptions, GroupAdd, OomScoreAdj: the engine checks them.
    ...namespaceOptionsOf(h),
    ...(h['PublishAllPorts'] === true ? { publishAllPorts: true } : {}),
    ...(num(h['ShmSize']) > 0 ? { shmSize: num(h['ShmSize']) } : {}),
    ...(strList(h['ExtraHosts']).length ? { extraHosts: strList(h['ExtraHosts']) } : {}),
    ...(ownIp ? { ipv4Address: ownIp } : {}),
    ...(ownMac ? { macAddress: ownMac } : {}),
    // CgroupParent: nested inside berth's cgroup parent; the engine checks it.
    ...(str(h['CgroupParent']) ? { cgroupParent: str(h['CgroupParent']) } : {}),
    // StorageOpt: the engine refuses what berth's overlay driver cannot honour, naming the option.
    ...(Object.keys(obj(h['StorageOpt'])).length ? { storageOpt: Object.fromEntries(Object.entries(obj(h['StorageOpt'])).map(([k, v]) => [k, str(v)])) } : {}),
    ...(strList(h['VolumesFrom']).length ? { volumesFrom: strList(h['VolumesFrom']) } : {}),
    logConfig: { type: logType === 'json-file' || logType === 'local' ? '' : logType, config: Object.fromEntries(Object.entries(obj(logConfig['Config'])).map(([k, v]) => [k, str(v)])) },
  };
  return { request: toWire(name.replace(/^\//, ''), config, hostConfig), extraNetworks, aliases, autoRemove };
}

/** container-config's shapes in the engine's CreateContainerRequest (as the berth CLI sends them). */
function toWire(name: string, c: ContainerConfig, hostConfig: HostConfig): engineV1.CreateContainerRequest {
  const { cmd, entrypoint, stopTimeout, ...config } = c;
  return {
    name,
    config: {
      ...config,
      cmd: cmd === null ? null : { values: cmd },
      entrypoint: entrypoint === null ? null : { values: entrypoint },
      ...(stopTimeout === null ? {} : { stopTimeout }),
    },
    hostConfig,
    // Docker answers 404 for a missing image and the client pulls (with its progress) before creating again.
    pull: 'never',
  };
}
