// Every field of a request the engine takes is checked here, before anything
// is created: the CLI validates its flags, but the engine serves any gRPC
// client (the Docker API gateway, scripts, other languages), and what it
// accepts it writes into /etc/hosts, iptables rules, cgroup files and mount
// options. A bad value is INVALID_ARGUMENT naming the request field as the
// proto spells it (`host_config.port_bindings[0].host_ip`), with the value
// quoted (escaped, cut when long) and the accepted form.
//
// The shape rules shared with the CLI live in @berth/container-config
// (validate.ts); the rules that need the host (how many CPUs) or the whole
// request (memory_swap against memory, duplicate mount targets, options that
// conflict) are here. The wire mapping (wire.ts) calls these after it converted
// a message, so the engine's own callers (tests, recovery) are not re-checked.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { posix } from 'node:path';
import {
  MAX_CPU_SHARES, MIN_MEMORY, MIN_NANO_CPUS, NAME_PATTERN, PROTOCOLS, checkAbsolutePath, checkContainerName, checkCpuset, checkDomainname, checkHealthConfig,
  checkEnvEntry, checkExposedPort, checkHostIp, checkHostname, checkLabel, checkNetworkMode, checkUser, normalizeCapability,
  normalizeSignalName, quoteValue,
} from '@berth/container-config';
import { InvalidArgumentError } from '@berth/errors';
import type { CreateRequest, ExecRequest, UpdateRequest } from './engine';
import type { MountSpec } from './types';
import { checkExtraResources } from './resources';
import { checkNamespaceOptions } from './namespace-options';

/** What validation needs to know about the host. */
export interface HostFacts {
  /** How many CPUs are online: bounds nano_cpus. */
  cpus: number;
  /** The online CPUs' numbers (a cpuset may name only these), as the kernel lists them ("0-3,6"). */
  online?: string;
}

let cachedFacts: HostFacts | undefined;

/**
 * The host's online CPUs, read once per process (CPU hotplug is rare, and a
 * limit naming an offline CPU still fails at the cgroups step, only later).
 */
export function hostFacts(): HostFacts {
  if (cachedFacts) return cachedFacts;
  let online: string | undefined;
  try {
    online = readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
  } catch { /* no sysfs: count what Node sees */ }
  const count = online && !checkCpuset(online) ? cpuList(online).length : cpus().length;
  cachedFacts = { cpus: Math.max(1, count), ...(online && !checkCpuset(online) ? { online } : {}) };
  return cachedFacts;
}

/** "0-2,5" -> [0, 1, 2, 5] (a checked list; ranges bounded by checkCpuset's five digits). */
function cpuList(set: string): number[] {
  return set.split(',').flatMap((part) => {
    const [a, b = a] = part.split('-').map(Number) as [number, number?];
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  });
}

const invalid = (field: string, value: unknown, why: string): InvalidArgumentError =>
  new InvalidArgumentError(`invalid ${field} "${quoteValue(String(value))}": ${why}`, { field });

function check(field: string, value: string, why: string | undefined): void {
  if (why) throw invalid(field, value, why);
}

function noNul(field: string, value: string): void {
  if (value.includes('\0')) throw invalid(field, value, 'a NUL byte cannot be passed to a process');
}

/** A whole number in [min, max]; int64 fields arrive as numbers. */
function inRange(field: string, v: number, min: number, max: number, why: string): void {
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(field, v, why);
}

/** Resource fields shared by CreateContainer's host_config and UpdateContainer (prefix "" for the latter). */
function checkResources(prefix: string, r: { memory?: number; memorySwap?: number; nanoCpus?: number; cpuShares?: number; cpusetCpus?: string; pidsLimit?: number }, host: HostFacts, create: boolean): void {
  const f = (n: string) => `${prefix}${n}`;
  if (r.memory !== undefined) {
    inRange(f('memory'), r.memory, 0, Number.MAX_SAFE_INTEGER, 'expected bytes >= 0 (0 = unlimited)');
    if (r.memory > 0 && r.memory < MIN_MEMORY) throw invalid(f('memory'), r.memory, `the minimum memory limit is ${MIN_MEMORY} bytes (6 MiB)`);
  }
  if (r.memorySwap !== undefined) {
    inRange(f('memory_swap'), r.memorySwap, -1, Number.MAX_SAFE_INTEGER, 'expected bytes of memory plus swap, 0 (default: twice memory) or -1 (unlimited swap)');
    if (create && r.memorySwap > 0) {
      if (!r.memory) throw invalid(f('memory_swap'), r.memorySwap, 'set memory too: the swap limit is memory plus swap');
      if (r.memorySwap < r.memory) throw invalid(f('memory_swap'), r.memorySwap, `must be at least memory (${r.memory}): it is memory plus swap`);
    }
  }
  if (r.nanoCpus !== undefined) {
    const max = host.cpus * 1e9;
    inRange(f('nano_cpus'), r.nanoCpus, 0, Number.MAX_SAFE_INTEGER, 'expected CPUs in units of 1e-9 (1.5 CPUs = 1500000000), >= 0');
    if (r.nanoCpus > 0 && (r.nanoCpus < MIN_NANO_CPUS || r.nanoCpus > max)) {
      throw invalid(f('nano_cpus'), r.nanoCpus, `the range of CPUs is from 0.01 to ${host.cpus}.00, as there are only ${host.cpus} CPUs available`);
    }
  }
  if (r.cpuShares !== undefined) inRange(f('cpu_shares'), r.cpuShares, 0, MAX_CPU_SHARES, `expected a relative weight from 2 to ${MAX_CPU_SHARES} (0 = default 1024)`);
  if (r.cpusetCpus) {
    check(f('cpuset_cpus'), r.cpusetCpus, checkCpuset(r.cpusetCpus));
    const onlineList = cpuList(host.online ?? `0-${host.cpus - 1}`);
    const online = new Set(onlineList);
    const top = Math.max(...onlineList) + 1;
    // Walk each range only up to the highest online CPU (+1): "0-99999" costs no more than "0-2".
    let missing: number | undefined;
    for (const part of r.cpusetCpus.split(',')) {
      const [a, b = a] = part.split('-').map(Number) as [number, number?];
      for (let c = a; c <= Math.max(a, Math.min(b, top)) && missing === undefined; c++) if (!online.has(c)) missing = c;
      if (missing !== undefined) break;
    }
    if (missing !== undefined) {
      throw invalid(f('cpuset_cpus'), r.cpusetCpus, `CPU ${missing} is not available: the online CPUs are ${host.online ?? `0-${host.cpus - 1}`}`);
    }
  }
  if (r.pidsLimit !== undefined) inRange(f('pids_limit'), r.pidsLimit, -1, Number.MAX_SAFE_INTEGER, 'expected a number of processes, or 0 / -1 for unlimited');
}

function checkMount(m: MountSpec, i: number): void {
  const f = (n: string) => `host_config.mounts[${i}].${n}`;
  check(f('target'), m.target, checkAbsolutePath(m.target));
  if (posix.normalize(m.target) === '/') throw invalid(f('target'), m.target, 'the container path cannot be "/"');
  if (m.type === 'bind') check(f('source'), m.source, checkAbsolutePath(m.source) && `a bind mount needs an absolute host path (${checkAbsolutePath(m.source)})`);
  if (m.type === 'volume' && m.source !== '' && (!NAME_PATTERN.test(m.source) || m.source.length > 255)) {
    throw invalid(f('source'), m.source, 'a volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 255 characters (empty: an anonymous volume)');
  }
  if (m.type === 'tmpfs' && m.source !== '') throw invalid(f('source'), m.source, 'a tmpfs mount has no source');
  m.options.forEach((o, j) => {
    // Options are joined with "," into mount(2)'s data: one option must not smuggle in another.
    if (o === '' || /[,\0\s]/.test(o) || o.length > 256) throw invalid(`${f('options')}[${j}]`, o, 'expected one mount option (size=64m, mode=1777, nocopy, rprivate...), without commas or spaces');
  });
}

/** CreateContainer / RunContainer after the wire mapping: throws InvalidArgumentError naming the first bad field. */
export function validateCreateRequest(r: CreateRequest, host: HostFacts = hostFacts()): void {
  if (r.name) check('name', r.name, checkContainerName(r.name.startsWith('/') ? r.name.slice(1) : r.name));

  const c = r.config;
  if (c.image.length > 4096) throw invalid('config.image', c.image, 'a reference is at most 255 characters of name, a tag and a digest');
  noNul('config.image', c.image);
  if (c.hostname) check('config.hostname', c.hostname, checkHostname(c.hostname));
  if (c.domainname) check('config.domainname', c.domainname, checkDomainname(c.domainname));
  if (c.user) check('config.user', c.user, checkUser(c.user));
  c.env.forEach((e, i) => check(`config.env[${i}]`, e, checkEnvEntry(e)));
  c.cmd?.forEach((a, i) => noNul(`config.cmd.values[${i}]`, a));
  c.entrypoint?.forEach((a, i) => noNul(`config.entrypoint.values[${i}]`, a));
  if (c.workingDir) check('config.working_dir', c.workingDir, checkAbsolutePath(c.workingDir) && `the working directory must be an absolute path (${checkAbsolutePath(c.workingDir)})`);
  c.exposedPorts.forEach((p, i) => check(`config.exposed_ports[${i}]`, p, checkExposedPort(p)));
  c.volumes.forEach((v, i) => check(`config.volumes[${i}]`, v, checkAbsolutePath(v)));
  for (const [k, v] of Object.entries(c.labels)) check(`config.labels[${JSON.stringify(k)}]`, k, checkLabel(k, v));
  if (c.stopSignal && !normalizeSignalName(c.stopSignal)) {
    throw invalid('config.stop_signal', c.stopSignal, 'expected a signal name (SIGTERM, TERM, SIGRTMIN+3) or a number from 1 to 64');
  }
  if (c.stopTimeout !== null) inRange('config.stop_timeout', c.stopTimeout, -1, 2 ** 31 - 1, 'expected seconds >= 0, or -1 to wait forever');
  if (c.healthcheck) {
    const bad = checkHealthConfig(c.healthcheck);
    const field = bad && `config.healthcheck.${bad.field.replace(/[A-Z]/g, (x) => `_${x.toLowerCase()}`)}`;
    if (bad && field) throw invalid(field, bad.field === 'test' ? c.healthcheck.test.join(' ') : c.healthcheck[bad.field], bad.reason);
  }

  const h = r.hostConfig;
  checkResources('host_config.', h, host, true);
  check('host_config.network_mode', h.networkMode, checkNetworkMode(h.networkMode));
  const containerNet = h.networkMode.startsWith('container:');
  if (containerNet && c.hostname) throw invalid('config.hostname', c.hostname, 'conflicting options: hostname and the container type network mode');
  if (containerNet && h.portBindings.length) throw invalid('host_config.port_bindings', h.portBindings.length, 'conflicting options: port publishing and the container type network mode');
  h.portBindings.forEach((p, i) => {
    const f = (n: string) => `host_config.port_bindings[${i}].${n}`;
    inRange(f('container_port'), p.containerPort, 1, 65535, 'expected a port from 1 to 65535');
    if (!(PROTOCOLS as readonly string[]).includes(p.protocol)) throw invalid(f('protocol'), p.protocol, 'expected tcp, udp or sctp');
    check(f('host_ip'), p.hostIp, checkHostIp(p.hostIp));
    inRange(f('host_port'), p.hostPort, 0, 65535, 'expected a port from 1 to 65535, or 0 for one the engine picks');
    if (p.hostPortEnd !== undefined && p.hostPort === 0) throw invalid(f('host_port_end'), p.hostPortEnd, 'a range needs host_port, its first port');
    if (p.hostPortEnd !== undefined) inRange(f('host_port_end'), p.hostPortEnd, p.hostPort, 65535, `expected the last port of a range starting at host_port ${p.hostPort}, at most 65535`);
  });
  const targets = new Set<string>();
  h.mounts.forEach((m, i) => {
    checkMount(m, i);
    const t = posix.normalize(m.target).replace(/(.)\/+$/, '$1');
    if (targets.has(t)) throw invalid(`host_config.mounts[${i}].target`, m.target, 'duplicate mount point');
    targets.add(t);
  });
  if (h.autoRemove && h.restartPolicy.name !== 'no') {
    throw invalid('host_config.restart_policy.name', h.restartPolicy.name, 'conflicting options: auto_remove and a restart policy; a container removed on exit cannot be restarted');
  }
  h.capAdd.forEach((x, i) => { if (!normalizeCapability(x)) throw invalid(`host_config.cap_add[${i}]`, x, 'unknown capability; expected a Linux capability name such as NET_ADMIN or CAP_NET_ADMIN, or ALL'); });
  h.capDrop.forEach((x, i) => { if (!normalizeCapability(x)) throw invalid(`host_config.cap_drop[${i}]`, x, 'unknown capability; expected a Linux capability name such as NET_ADMIN or CAP_NET_ADMIN, or ALL'); });
  if (h.usernsMode !== '' && h.usernsMode !== 'host' && h.usernsMode !== 'auto') throw invalid('host_config.userns_mode', h.usernsMode, 'expected host, auto or empty (the engine default)');
  checkExtraResources(h);
  checkNamespaceOptions(h, c.hostname, c.domainname);
}

/** UpdateContainer: the resource fields present. memory_swap against memory is the engine's (it knows the current limits). */
export function validateUpdateRequest(u: UpdateRequest, host: HostFacts = hostFacts()): void {
  checkResources('', u, host, false);
}

/** Exec's start message. */
export function validateExecRequest(e: ExecRequest): void {
  if (e.args.length === 0) throw new InvalidArgumentError('start.args is required: the command to run', { field: 'start.args' });
  e.args.forEach((a, i) => noNul(`start.args[${i}]`, a));
  (e.env ?? []).forEach((x, i) => check(`start.env[${i}]`, x, checkEnvEntry(x)));
  if (e.workingDir) check('start.working_dir', e.workingDir, checkAbsolutePath(e.workingDir) && `the working directory must be an absolute path (${checkAbsolutePath(e.workingDir)})`);
  if (e.user) check('start.user', e.user, checkUser(e.user));
}

/** Stats' interval_ms: 0 = the default second; otherwise 100 ms to an hour (a negative or tiny one was a busy loop). */
export function statsIntervalFromWire(ms: number): number {
  if (ms === 0) return 1000;
  inRange('interval_ms', ms, 100, 3_600_000, 'expected milliseconds from 100 to 3600000, or 0 for the default (1000)');
  return ms;
}

/** Stop/Restart timeout_seconds: absent = the container's; -1 waits forever; at most what a timer can wait (24 days). */
export function stopTimeoutFromWire(s: number | undefined): number | undefined {
  if (s === undefined) return undefined;
  inRange('timeout_seconds', s, -1, Math.floor((2 ** 31 - 1) / 1000), 'expected seconds >= 0 (at most 2147483), or -1 to wait forever');
  return s;
}

/** A path inside a container for StatPath/CopyFrom/CopyTo: given, no NUL (a C string would end there), at most PATH_MAX. */
export function validateContainerPath(field: string, p: string): string {
  if (p === '') throw new InvalidArgumentError(`${field} is required: a path inside the container`, { field });
  noNul(field, p);
  if (p.length > 4096) throw invalid(field, p, 'a path is at most 4096 characters (PATH_MAX)');
  return p;
}

/** A volume name: Docker's name rule, at most 255 characters (it is a directory name). */
export function validateVolumeName(name: string): void {
  if (name.length > 255 || !NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(`invalid volume name "${quoteValue(name)}": expected [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters), at most 255 characters`, { field: 'name' });
  }
}

/** A signal field of Stop/Kill ("" = the default): the canonical name. */
export function validateSignal(field: string, s: string): string {
  const name = normalizeSignalName(s);
  if (!name) throw invalid(field, s, 'expected a signal name (SIGTERM, TERM, SIGRTMIN+3) or a number from 1 to 64');
  return name;
}
