// A CRI ContainerConfig as the engine request the berth CLI would build for
// it: command/args as entrypoint/cmd (the image's CMD is dropped when a
// command is given, as Docker's merge and the CRI both say), the security
// context as user, capabilities, security options, the pod's namespaces as
// container:<sandbox> modes, mounts and devices, resources in the engine's
// units.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from '@berth/errors';
import type { engineV1, runtimeV1 } from '@berth/proto';
import type { CriRecord } from './metadata';

/** The largest seccomp profile read from a Localhost path. */
const MAX_PROFILE_BYTES = 1 << 20;

export interface PodContext {
  id: string;
  record: CriRecord;
  /**
   * The sandbox's /etc/hostname, /etc/hosts and /etc/resolv.conf on the host
   * (the engine's files of the pause container): bound into every container
   * of the pod, as containerd does, so they show the pod's hostname, address
   * and DNS. A mount of the request at the same path (kubelet's own
   * /etc/hosts) wins.
   */
  files?: { hostname: string; hosts: string; resolvConf: string };
}

/** Binds of the pod's files the container's own mounts do not cover. */
function podFileMounts(c: runtimeV1.ContainerConfig__Output, pod: PodContext): engineV1.MountSpec[] {
  if (!pod.files) return [];
  const taken = new Set(c.mounts.map((m) => m.containerPath.replace(/\/+$/, '')));
  const readOnly = c.linux?.securityContext?.readonlyRootfs ?? false;
  return ([['/etc/hostname', pod.files.hostname], ['/etc/hosts', pod.files.hosts], ['/etc/resolv.conf', pod.files.resolvConf]] as const)
    .filter(([target, source]) => source && !taken.has(target))
    .map(([target, source]) => ({ type: 'bind', source, target, readOnly, options: ['rprivate'] }));
}

export function containerConfig(c: runtimeV1.ContainerConfig__Output, pod: PodContext, labels: Record<string, string>): engineV1.ContainerConfig {
  const sc = c.linux?.securityContext;
  return {
    image: c.image?.image ?? '',
    ...(c.command.length ? { entrypoint: { values: c.command } } : {}),
    ...(c.args.length ? { cmd: { values: c.args } } : {}),
    // The pod's hostname, as the shared UTS namespace and /etc/hostname have it; the request's env wins.
    env: [...(pod.record.hostname ? [`HOSTNAME=${pod.record.hostname}`] : []), ...c.envs.map((e) => `${e.key}=${e.value}`)],
    workingDir: c.workingDir,
    tty: c.tty,
    openStdin: c.stdin,
    user: userOf(sc),
    labels,
  };
}

function userOf(sc: runtimeV1.LinuxContainerSecurityContext__Output | null | undefined): string {
  if (!sc) return '';
  if (sc.runAsGroup && !sc.runAsUser && !sc.runAsUsername) {
    throw new InvalidArgumentError('run_as_group needs run_as_user or run_as_username', { field: 'config.linux.security_context.run_as_group' });
  }
  const group = sc.runAsGroup ? `:${sc.runAsGroup.value}` : '';
  if (sc.runAsUser) return `${sc.runAsUser.value}${group}`;
  if (sc.runAsUsername) return `${sc.runAsUsername}${group}`;
  return '';
}

const capName = (c: string): string => (c.toUpperCase() === 'ALL' || c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);

export function containerHostConfig(c: runtimeV1.ContainerConfig__Output, pod: PodContext): engineV1.HostConfig {
  const sc = c.linux?.securityContext;
  const res = c.linux?.resources;
  const r = pod.record;
  const inPod = `container:${pod.id}`;
  // No namespace options is the CRI's zero value, POD (the pod's PID namespace under its
  // berth-init), as containerd reads it; kubelet says CONTAINER when a pod does not share.
  const pidOpt = sc?.namespaceOptions?.pid ?? 'POD';
  const pidMode = r.hostPid || pidOpt === 'NODE' ? 'host'
    : pidOpt === 'POD' ? inPod
      : pidOpt === 'TARGET' ? `container:${sc?.namespaceOptions?.targetId ?? ''}` : '';
  const privileged = sc?.privileged ?? false;
  return {
    networkMode: r.hostNetwork ? 'host' : inPod,
    ipcMode: r.hostIpc ? 'host' : inPod,
    utsMode: r.hostNetwork ? 'host' : inPod,
    pidMode,
    // The pod's cgroup parent (kubelet's cgroupfs layout): the container's cgroup goes beside the pause one.
    cgroupParent: r.cgroupParent ?? '',
    dns: r.dns?.servers ?? [], dnsSearch: r.dns?.searches ?? [], dnsOptions: r.dns?.options ?? [],
    groupAdd: (sc?.supplementalGroups ?? []).map(String),
    ...(!privileged && sc?.maskedPaths.length ? { maskedPaths: sc.maskedPaths } : {}),
    ...(!privileged && sc?.readonlyPaths.length ? { readonlyPaths: sc.readonlyPaths } : {}),
    ...(res && res.oomScoreAdj !== 0 ? { oomScoreAdj: res.oomScoreAdj } : {}),
    readonlyRootfs: sc?.readonlyRootfs ?? false,
    privileged,
    capAdd: (sc?.capabilities?.addCapabilities ?? []).map(capName),
    capDrop: (sc?.capabilities?.dropCapabilities ?? []).map(capName),
    securityOpt: securityOpts(sc),
    mounts: [...c.mounts.map((m, i) => mountOf(m, i)), ...podFileMounts(c, pod)],
    devices: c.devices.map((d) => ({ pathOnHost: d.hostPath, pathInContainer: d.containerPath, cgroupPermissions: d.permissions })),
    ...(res ? resourcesOf(res) : {}),
  };
}

/** The engine's resource fields from the CRI's (cpu quota/period -> nano CPUs). */
export function resourcesOf(r: runtimeV1.LinuxContainerResources__Output): Pick<engineV1.HostConfig, 'memory' | 'cpuShares' | 'nanoCpus' | 'cpusetCpus'> {
  const out: Pick<engineV1.HostConfig, 'memory' | 'cpuShares' | 'nanoCpus' | 'cpusetCpus'> = {};
  if (r.memoryLimitInBytes > 0) out.memory = r.memoryLimitInBytes;
  if (r.cpuShares > 0) out.cpuShares = r.cpuShares;
  if (r.cpuQuota > 0) out.nanoCpus = Math.round((r.cpuQuota * 1e9) / (r.cpuPeriod > 0 ? r.cpuPeriod : 100_000));
  if (r.cpusetCpus) out.cpusetCpus = r.cpusetCpus;
  return out;
}

const PROPAGATION: Record<string, string> = {
  PROPAGATION_PRIVATE: 'rprivate', PROPAGATION_HOST_TO_CONTAINER: 'rslave', PROPAGATION_BIDIRECTIONAL: 'rshared',
};

function mountOf(m: runtimeV1.Mount__Output, i: number): engineV1.MountSpec {
  if (!m.containerPath.startsWith('/')) throw new InvalidArgumentError(`mount container_path "${m.containerPath}" is not absolute`, { field: `config.mounts[${i}].container_path` });
  if (!m.hostPath.startsWith('/')) throw new InvalidArgumentError(`mount host_path "${m.hostPath}" is not absolute`, { field: `config.mounts[${i}].host_path` });
  return { type: 'bind', source: m.hostPath, target: m.containerPath, readOnly: m.readonly, options: [PROPAGATION[m.propagation] ?? 'rprivate'] };
}

/**
 * Seccomp and no_new_privs as --security-opt. The CRI's default (no profile
 * given) is unconfined, unlike Docker's; RuntimeDefault is Docker's default
 * profile; Localhost reads the profile file (bounded) and sends its JSON.
 */
function securityOpts(sc: runtimeV1.LinuxContainerSecurityContext__Output | null | undefined): string[] {
  const opts: string[] = [];
  if (sc?.noNewPrivs) opts.push('no-new-privileges');
  if (sc?.privileged) return opts;
  const profile = sc?.seccomp;
  let kind = profile?.profileType ?? '';
  let path = profile?.localhostRef ?? '';
  if (!profile && sc?.seccompProfilePath) {
    const p = sc.seccompProfilePath;
    if (p === 'runtime/default' || p === 'docker/default') kind = 'RuntimeDefault';
    else if (p.startsWith('localhost/')) [kind, path] = ['Localhost', p.slice('localhost/'.length)];
    else if (p === 'unconfined' || p === '') kind = 'Unconfined';
    else throw new InvalidArgumentError(`seccomp profile "${p}": expected runtime/default, docker/default, unconfined or localhost/<absolute path>`, { field: 'config.linux.security_context.seccomp_profile_path' });
  }
  if (kind === 'RuntimeDefault') return opts;
  if (kind === 'Localhost') {
    if (!path.startsWith('/')) throw new InvalidArgumentError(`seccomp localhost profile "${path}" is not an absolute path`, { field: 'config.linux.security_context.seccomp.localhost_ref' });
    const text = readProfile(path);
    opts.push(`seccomp=${text}`);
    return opts;
  }
  opts.push('seccomp=unconfined');
  return opts;
}

function readProfile(path: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new InvalidArgumentError(`cannot read seccomp profile ${path}: ${(e as Error).message}`, { field: 'config.linux.security_context.seccomp.localhost_ref' });
  }
  if (buf.length > MAX_PROFILE_BYTES) throw new InvalidArgumentError(`seccomp profile ${path} is larger than 1 MiB`, { field: 'config.linux.security_context.seccomp.localhost_ref' });
  return buf.toString('utf8');
}
