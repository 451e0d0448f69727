// The parts of a container's spec that --privileged and --cgroupns decide
// (Docker's daemon/oci_linux.go WithCgroups, WithDevices, WithCapabilities,
// WithMounts for privileged), as the namespaces port sends them:
//
//  - cgroup namespace (default "private", Docker's default on cgroup v2):
//    the init joins its cgroup in every hierarchy before it unshares, so
//    /proc/self/cgroup reads "/" and /sys/fs/cgroup (mount type "cgroup",
//    read-only) shows the container's own cgroups. "host": no namespace and
//    no /sys/fs/cgroup mount (the host's cgroup paths are not shown either).
//  - --privileged: every capability in the host's bounding set, /sys mounted
//    read-write, the cgroup mount read-write, no masked or read-only paths
//    (Linux.unmasked_paths), every host /dev node (devices.ts), no seccomp
//    filter (@berth/seccomp's seccompFor sees privileged).
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { typesV1 } from '@berth/proto';
import type { DeviceNode } from '../devices';

/** Mounts that go before the container's own (Docker's defaults are the namespaces service's). */
export function confinementMounts(o: { privileged: boolean; cgroupns: boolean }): typesV1.Mount[] {
  const out: typesV1.Mount[] = [];
  // Replaces the default read-only /sys (same destination).
  if (o.privileged) out.push({ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'rw'] });
  if (o.cgroupns) {
    out.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', o.privileged ? 'rw' : 'ro'] });
  }
  return out;
}

/**
 * The capabilities in this host's bounding set (CapBnd of the engine, which
 * runs as host root), as Docker's privileged mode grants (caps.GetAllCapabilities):
 * a capability the kernel does not know is not asked for.
 */
export function privilegedCapabilities(all: readonly string[], status = readFileSync('/proc/self/status', 'utf8')): typesV1.LinuxCapabilities {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  const bits = hex ? BigInt(`0x${hex}`) : (1n << BigInt(all.length)) - 1n;
  const set = all.filter((_, i) => (bits >> BigInt(i)) & 1n);
  return { bounding: set, effective: set, permitted: set, inheritable: [], ambient: [] };
}

/**
 * The container's cgroup directory in every hierarchy that has it (`path`
 * relative to each root, as the cgroups service returns it): every v1
 * controller mount, or the unified root on v2. Links (cpu -> cpu,cpuacct)
 * are skipped, so each directory is listed once.
 */
export function containerCgroupDirs(path: string, root = '/sys/fs/cgroup'): string[] {
  if (!path) return [];
  if (existsSync(join(root, 'cgroup.controllers'))) {
    const dir = join(root, path);
    return existsSync(dir) ? [dir] : [];
  }
  let hierarchies: string[];
  try {
    hierarchies = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
  return hierarchies.map((h) => join(root, h, path)).filter((d) => existsSync(d));
}

export function deviceToSpec(d: DeviceNode): typesV1.LinuxDevice {
  return { path: d.path, type: d.type, major: d.major, minor: d.minor, fileMode: d.fileMode, uid: d.uid, gid: d.gid, hostPath: d.hostPath };
}
