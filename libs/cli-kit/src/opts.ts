// Validators for `berth run/create` option values, following the Docker CLI
// (cli/opts, runconfig/opts, docker/go-connections nat). Each returns the
// structured value or throws InvalidArgumentError naming the flag and the
// accepted form, so nothing is created from a bad command line.
import { posix } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import { invalidFlagValue, type FlagDef } from './command';
import { parseBytes } from './units';

import { CAPABILITIES, checkCpuset, checkHostname, checkNetworkMode, checkUser, normalizeCapability } from '@berth/container-config';
import type { MountSpec, PortBinding, RestartPolicy } from '@berth/container-config';
export type { MountSpec, PortBinding, RestartPolicy };

type Flag = Pick<FlagDef, 'name' | 'short'>;

export function parseMemory(f: Flag, v: string): number {
  const n = parseBytes(v);
  if (n === null) throw invalidFlagValue(f, v, 'expected a number with an optional unit b, k, m, g (64m, 1g, 512k)');
  return n;
}

/** --memory-swap: bytes, or -1 for unlimited swap. */
export function parseMemorySwap(f: Flag, v: string): number {
  if (v === '-1') return -1;
  const n = parseBytes(v);
  if (n === null) throw invalidFlagValue(f, v, 'expected a number with an optional unit b, k, m, g, or -1 for unlimited swap');
  return n;
}

/** --cpus 1.5 -> nano-CPUs, exactly (no float rounding): at most 9 decimals. */
export function parseCpus(f: Flag, v: string): number {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(v);
  if (!m) throw invalidFlagValue(f, v, 'expected a decimal number of CPUs such as 0.5, 1 or 2.25');
  const frac = m[2] ?? '';
  if (frac.replace(/0+$/, '').length > 9) throw invalidFlagValue(f, v, 'value is too precise: at most 9 decimal places');
  const nano = Number(m[1]) * 1e9 + Number(frac.padEnd(9, '0').slice(0, 9));
  if (nano <= 0) throw invalidFlagValue(f, v, 'expected a number of CPUs greater than 0');
  return nano;
}

/** --cpuset-cpus "0-3,5" (also --cpuset-mems). */
export function parseCpuset(f: Flag, v: string): string {
  const why = checkCpuset(v);
  if (why) throw invalidFlagValue(f, v, why);
  return v;
}

/** "[ip:][hostPort:]containerPort[/proto]" with ranges; IPv6 addresses in brackets. */
export function parsePortSpec(f: Flag, spec: string): PortBinding[] {
  const bad = (why: string): never => {
    throw invalidFlagValue(f, spec, `${why}; expected [ip:][hostPort:]containerPort[/tcp|udp|sctp], e.g. 8080:80, 127.0.0.1:8080:80/udp, 8000-8001:80-81`);
  };
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    proto = rest.slice(slash + 1).toLowerCase();
    rest = rest.slice(0, slash);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) bad(`invalid protocol "${proto}"`);
  }
  let hostIp = '';
  if (rest.startsWith('[')) {
    const end = rest.indexOf(']');
    if (end < 0 || rest[end + 1] !== ':') bad('invalid IPv6 address');
    hostIp = rest.slice(1, end);
    rest = rest.slice(end + 2);
    if (!/^[0-9a-fA-F:.]+$/.test(hostIp) || !hostIp.includes(':')) bad(`invalid IP address "${hostIp}"`);
  }
  const parts = rest.split(':');
  let hostPart = '';
  let ctrPart: string;
  if (hostIp !== '') {
    if (parts.length !== 2) bad('too many colons');
    [hostPart, ctrPart] = parts as [string, string];
  } else if (parts.length === 1) ctrPart = parts[0]!;
  else if (parts.length === 2) [hostPart, ctrPart] = parts as [string, string];
  else if (parts.length === 3) {
    [hostIp, hostPart, ctrPart] = parts as [string, string, string];
    if (!/^(\d{1,3})(\.\d{1,3}){3}$/.test(hostIp) || hostIp.split('.').some((o) => Number(o) > 255)) bad(`invalid IP address "${hostIp}"`);
  } else return bad('too many colons');
  const range = (s: string, what: string): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!m) return bad(`invalid ${what} port "${s}"`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || a > b) return bad(`${what} port ${s} is out of range 1-65535`);
    return [a, b];
  };
  const [c0, c1] = range(ctrPart!, 'container');
  if (hostPart === '') {
    return Array.from({ length: c1 - c0 + 1 }, (_, k) => ({ containerPort: c0 + k, protocol: proto, hostIp, hostPort: 0 }));
  }
  const [h0, h1] = range(hostPart, 'host');
  // One container port, a host range: the first free host port of the range (Docker's -p 8000-8010:80).
  if (c0 === c1 && h1 > h0) return [{ containerPort: c0, protocol: proto, hostIp, hostPort: h0, hostPortEnd: h1 }];
  if (h1 - h0 !== c1 - c0) bad('host and container port ranges differ in size');
  return Array.from({ length: c1 - c0 + 1 }, (_, k) => ({ containerPort: c0 + k, protocol: proto, hostIp, hostPort: h0 + k }));
}

const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
const PROPAGATION = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];
const VOLUME_MODES = ['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...PROPAGATION];

/**
 * -v: "/host:/ctr[:opts]" (bind), "name:/ctr[:opts]" (named volume),
 * "/ctr" (anonymous volume). Relative host paths ("./data") are made
 * absolute against `cwd`, as the Docker CLI does since 23.0.
 */
export function parseVolumeSpec(f: Flag, spec: string, cwd: string): MountSpec {
  const bad = (why: string): never => {
    throw invalidFlagValue(f, spec, `${why}; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path`);
  };
  const parts = spec.split(':');
  if (parts.some((p) => p === '')) bad('empty section');
  if (parts.length > 3) bad('too many colons');
  if (parts.length === 1) {
    const target = parts[0]!;
    if (!target.startsWith('/')) bad(`container path "${target}" is not absolute`);
    return { type: 'volume', source: '', target: posix.normalize(target), readOnly: false, options: [] };
  }
  const [rawSource, target, mode = ''] = parts as [string, string, string?];
  let source = rawSource;
  if (!target.startsWith('/')) bad(`container path "${target}" is not absolute`);
  if (posix.normalize(target) === '/') bad('the container path cannot be "/"');
  const opts = mode === '' ? [] : mode.split(',');
  for (const o of opts) if (!VOLUME_MODES.includes(o)) bad(`invalid mode "${o}" (accepted: ro, rw, z, Z, nocopy, ${PROPAGATION.join(', ')})`);
  if (opts.includes('ro') && opts.includes('rw')) bad('both ro and rw given');
  if (opts.filter((o) => PROPAGATION.includes(o)).length > 1) bad('more than one propagation mode');
  let type: 'bind' | 'volume';
  if (source.startsWith('/')) type = 'bind';
  else if (source === '.' || source === '..' || source.startsWith('./') || source.startsWith('../') || source === '~' || source.startsWith('~/')) {
    type = 'bind';
    if (source.startsWith('~')) bad('"~" is not expanded; use an absolute path');
    source = posix.resolve(cwd, source);
  } else {
    type = 'volume';
    if (!VOLUME_NAME.test(source)) bad(`"${source}" includes invalid characters for a local volume name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed; to bind a host directory use an absolute path`);
  }
  if (type === 'bind' && opts.includes('nocopy')) bad('nocopy applies to volumes, not bind mounts');
  if (type === 'volume' && opts.some((o) => PROPAGATION.includes(o))) bad('propagation modes apply to bind mounts, not volumes');
  return {
    type, source: type === 'bind' ? posix.normalize(source) : source, target: posix.normalize(target),
    readOnly: opts.includes('ro'), options: opts.filter((o) => o !== 'ro' && o !== 'rw'),
  };
}

/** --tmpfs "/path[:opts]" with mount options such as size=64m,mode=1777,noexec. */
export function parseTmpfs(f: Flag, spec: string): MountSpec {
  const colon = spec.indexOf(':');
  const target = colon < 0 ? spec : spec.slice(0, colon);
  const opts = colon < 0 ? [] : spec.slice(colon + 1).split(',').filter(Boolean);
  if (!target.startsWith('/') || posix.normalize(target) === '/') {
    throw invalidFlagValue(f, spec, 'expected an absolute container path other than "/", optionally followed by :size=64m,mode=1777');
  }
  for (const o of opts) {
    const [k, v] = o.split('=', 2) as [string, string?];
    const ok = (k === 'size' && v !== undefined && (parseBytes(v) !== null || /^\d+%$/.test(v)))
      || (k === 'mode' && v !== undefined && /^[0-7]{3,4}$/.test(v))
      || ((k === 'uid' || k === 'gid' || k === 'nr_inodes') && v !== undefined && /^\d+$/.test(v))
      || (v === undefined && ['ro', 'rw', 'noexec', 'exec', 'nosuid', 'suid', 'nodev', 'dev', 'sync', 'async', 'noatime', 'atime', 'nodiratime', 'diratime'].includes(k));
    if (!ok) throw invalidFlagValue(f, spec, `invalid tmpfs option "${o}" (accepted: size=<bytes>, mode=<octal>, uid=, gid=, nr_inodes=, ro, rw, noexec, nosuid, nodev...)`);
  }
  return { type: 'tmpfs', source: '', target: posix.normalize(target), readOnly: opts.includes('ro'), options: opts.filter((o) => o !== 'ro' && o !== 'rw') };
}

/**
 * -e: "KEY=VAL" is kept; "KEY" alone takes KEY from the caller's
 * environment, or stays bare (the engine then unsets KEY), as Docker does.
 */
export function parseEnvArg(f: Flag, v: string, lookup: (k: string) => string | undefined): string {
  const eq = v.indexOf('=');
  const key = eq < 0 ? v : v.slice(0, eq);
  if (key === '') throw invalidFlagValue(f, v, 'expected KEY=VALUE or KEY (the variable name is empty)');
  if (eq >= 0) return v;
  const val = lookup(key);
  return val === undefined ? key : `${key}=${val}`;
}

/**
 * --env-file contents: KEY=VAL lines, "KEY" alone takes the value from the
 * environment (skipped when unset), "#" comments and blank lines ignored,
 * leading whitespace trimmed, values kept verbatim (no quote processing,
 * as Docker). `file` names the file in errors.
 */
export function parseEnvFile(f: Flag, file: string, content: string, lookup: (k: string) => string | undefined): string[] {
  const out: string[] = [];
  const lines = content.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, idx) => {
    const line = raw.replace(/^[ \t\n\r\v\f]+/, '');
    if (line === '' || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq);
    if (key === '') throw invalidFlagValue(f, file, `line ${idx + 1}: no variable name in "${raw}"`);
    if (/\s/.test(key)) throw invalidFlagValue(f, file, `line ${idx + 1}: variable "${key}" contains whitespace`);
    if (eq >= 0) out.push(line);
    else {
      const v = lookup(key);
      if (v !== undefined) out.push(`${key}=${v}`);
    }
  });
  return out;
}

/** "KEY=VALUE" (or "KEY", empty value) labels. */
export function parseLabel(f: Flag, v: string): [string, string] {
  const eq = v.indexOf('=');
  const key = eq < 0 ? v : v.slice(0, eq);
  if (key.trim() === '') throw invalidFlagValue(f, v, 'expected KEY=VALUE (the label name is empty)');
  return [key, eq < 0 ? '' : v.slice(eq + 1)];
}

/** --restart no | always | unless-stopped | on-failure[:max-retries]. */
export function parseRestartPolicy(f: Flag, v: string): RestartPolicy {
  const [name, count, extra] = v.split(':');
  const form = 'expected no, always, unless-stopped or on-failure[:max-retries]';
  if (extra !== undefined) throw invalidFlagValue(f, v, form);
  if (name !== 'no' && name !== 'always' && name !== 'unless-stopped' && name !== 'on-failure') throw invalidFlagValue(f, v, form);
  if (count !== undefined) {
    if (name !== 'on-failure') throw invalidFlagValue(f, v, `maximum retry count cannot be used with restart policy "${name}"; ${form}`);
    if (!/^\d+$/.test(count)) throw invalidFlagValue(f, v, `maximum retry count must be a non-negative integer; ${form}`);
  }
  return { name, maximumRetryCount: count === undefined ? 0 : Number(count) };
}

/** Capabilities of Linux 6.x (capability.h), without the CAP_ prefix (shared with the engine's checks). */
export { CAPABILITIES };

/** "net_admin", "CAP_NET_ADMIN", "all" -> "CAP_NET_ADMIN" / "ALL". */
export function parseCapability(f: Flag, v: string): string {
  const cap = normalizeCapability(v);
  if (!cap) throw invalidFlagValue(f, v, 'unknown capability; expected a Linux capability name such as NET_ADMIN or CAP_NET_ADMIN, or ALL');
  return cap;
}

/** --network bridge | none | host | container:<name|id> | <network name>. */
export function parseNetworkMode(f: Flag, v: string): string {
  const why = checkNetworkMode(v);
  if (why) throw invalidFlagValue(f, v, why);
  return v === 'default' ? 'bridge' : v;
}

/** -u user[:group]: names or ids, checked for shape here, resolved against the image at start. */
export function parseUserSpec(f: Flag, v: string): string {
  const why = checkUser(v);
  if (why) throw invalidFlagValue(f, v, why);
  return v;
}

/** --hostname: RFC 1123 labels, at most 64 characters (the kernel's bound). */
export function parseHostname(f: Flag, v: string): string {
  const why = checkHostname(v);
  if (why) throw invalidFlagValue(f, v, why);
  return v;
}

/**
 * IMAGE argument: name[:tag][@digest] per the distribution reference grammar
 * (checked for shape; the images service normalises it).
 */
export function checkImageRef(v: string): string {
  const ref = /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,})?$/;
  if (!ref.test(v)) {
    const why = /[A-Z]/.test(v.split(/[:@]/)[0]!.split('/').slice(-1)[0]!) ? ': repository name must be lowercase' : '';
    throw new InvalidArgumentError(`invalid reference format "${v}"${why}`, { field: 'image' });
  }
  return v;
}
