// Which devices a container gets, as Docker decides it (moby daemon/oci_linux.go
// WithDevices, oci/defaults.go, runc specconv.AllowedDevices):
//
//   default     the cgroup rules deny everything, then allow Docker's list:
//               mknod of any node ("c *:* m", "b *:* m": an image may ship or
//               make nodes, but opening them is refused), and read/write of
//               null, zero, full, random, urandom, tty, console, ptmx, the
//               pts slaves and tun. Nodes in /dev: the shim's default set.
//   --device    the host node (symlinks followed; a directory: every node in
//               it) is made in the container, plus an allow rule with its
//               permissions.
//   --device-cgroup-rule  allow rules appended to the list.
//   --privileged  one rule "a *:* rwm", and every host /dev node made in the
//               container's /dev (HostDevices), as Docker does.
//
// The rules go to the cgroups service (LinuxResources.devices: the v1 devices
// controller or a v2 eBPF program); the nodes to the namespaces service
// (linux.devices). Both are computed once, before the cgroup is created.
import { lstatSync, readdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import { parseDeviceCgroupRule, quoteValue, type DeviceRule } from '@berth/container-config';
import type { HostConfig } from './types';

/** A node to make in the container (OCI linux.devices[]). */
export interface DeviceNode {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  /** The host node (bound instead of mknod in a user namespace). */
  hostPath: string;
}

const c = (major: number, minor: number, access = 'rwm'): DeviceRule => ({ allow: true, type: 'c', major, minor, access });

/** Docker's default device rules, in the order they are applied. */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' },
  c(-1, -1, 'm'), // mknod of any character device
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' }, // and of any block device
  c(1, 3), // null
  c(1, 5), // zero
  c(1, 7), // full
  c(1, 8), // random
  c(1, 9), // urandom
  c(5, 0), // tty
  c(5, 1), // console
  c(5, 2), // ptmx
  c(136, -1), // pts/*
  c(10, 200), // net/tun
];

const ALLOW_ALL: DeviceRule = { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' };

/** /dev entries Docker's HostDevices (runc devices.HostDevices) skips. */
const SKIP_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
const SKIP_FILES = new Set(['console', 'ptmx']);
/** Enough for any /dev; a bound, not a policy. */
const MAX_NODES = 4096;

function nodeOf(st: Stats, hostPath: string, path: string): DeviceNode | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  const { major, minor } = deviceNumbers(st.rdev);
  return { path, type, major, minor, fileMode: st.mode & 0o7777, uid: st.uid, gid: st.gid, hostPath };
}

/** A stat's rdev as major and minor, glibc's dev_t encoding (major(3)/minor(3)). */
export function deviceNumbers(rdevNumber: number | bigint): { major: number; minor: number } {
  const rdev = BigInt(rdevNumber);
  return { major: Number(((rdev >> 32n) & 0xfffff000n) | ((rdev >> 8n) & 0xfffn)), minor: Number(((rdev >> 12n) & 0xffffff00n) | (rdev & 0xffn)) };
}

/** Device nodes under a host directory (symlinks and the skipped dirs left out), container paths under `into`. */
function nodesUnder(dir: string, into: string, out: DeviceNode[], skip: boolean): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries.sort()) {
    if (out.length >= MAX_NODES) return;
    const host = join(dir, name);
    let st: Stats;
    try {
      st = lstatSync(host);
    } catch {
      continue; // gone meanwhile
    }
    if (st.isDirectory()) {
      if (!(skip && SKIP_DIRS.has(name))) nodesUnder(host, join(into, name), out, false);
      continue;
    }
    if (skip && SKIP_FILES.has(name)) continue;
    const n = nodeOf(st, host, join(into, name));
    if (n) out.push(n);
  }
}

/** The nodes one --device names: the node itself (symlink followed), or every node under a directory. */
export function nodesOfMapping(m: HostConfig['devices'][number], field: string): DeviceNode[] {
  const shown = quoteValue(m.pathOnHost);
  let real: string;
  let st: Stats;
  try {
    real = realpathSync(m.pathOnHost);
    st = statSync(real);
  } catch (e) {
    throw new InvalidArgumentError(`error gathering device information while adding device "${shown}": ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`, { field });
  }
  const into = m.pathInContainer || m.pathOnHost;
  if (st.isDirectory()) {
    const out: DeviceNode[] = [];
    nodesUnder(real, into, out, false);
    if (out.length === 0) throw new InvalidArgumentError(`device "${shown}": the directory holds no device nodes`, { field });
    return out;
  }
  const n = nodeOf(st, real, into);
  if (!n) throw new InvalidArgumentError(`device "${shown}" is not a device node (a character or block special file)`, { field });
  return [n];
}

/** Every host /dev node, for --privileged. */
export function hostDeviceNodes(devDir = '/dev'): DeviceNode[] {
  const out: DeviceNode[] = [];
  nodesUnder(devDir, '/dev', out, true);
  return out;
}

/** Rules and nodes for a container (see the file header). Throws InvalidArgumentError naming the bad device or rule. */
export function devicesOf(h: HostConfig, privileged: boolean): { rules: DeviceRule[]; nodes: DeviceNode[] } {
  const perMapping = (h.devices ?? []).map((m, i) => nodesOfMapping(m, `host_config.devices[${i}]`));
  const mapped = perMapping.flat();
  if (privileged) {
    // A --device path given too wins over the host node of the same path.
    const seen = new Set(mapped.map((n) => n.path));
    return { rules: [ALLOW_ALL], nodes: [...mapped, ...hostDeviceNodes().filter((n) => !seen.has(n.path))] };
  }
  const rules: DeviceRule[] = DEFAULT_DEVICE_RULES.map((r) => ({ ...r }));
  perMapping.forEach((nodes, i) => {
    const access = h.devices[i]?.cgroupPermissions || 'rwm';
    for (const n of nodes) rules.push({ allow: true, type: n.type, major: n.major, minor: n.minor, access });
  });
  (h.deviceCgroupRules ?? []).forEach((text, i) => {
    const r = parseDeviceCgroupRule(text);
    if ('error' in r) throw new InvalidArgumentError(`invalid device cgroup rule "${quoteValue(text)}": ${r.error}`, { field: `host_config.device_cgroup_rules[${i}]` });
    rules.push(r);
  });
  return { rules, nodes: mapped };
}
