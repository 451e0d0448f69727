// NamespacesPort over berth.namespaces.v1.Namespaces (plus the cgroups
// service's AddProcess, which puts the paused init into its cgroup between
// Create and Start, as the namespaces contract's lifecycle says).
//
// Two engine needs the service has no call for, and how they are met:
//  - the hosts/resolv.conf/hostname files: created in the engine's state dir
//    *before* Create and bound by the ContainerSpec (the service takes mounts
//    only at Create); networks' writeHostsFiles later rewrites them in place.
//  - logs at the engine's log path: the service's monitor writes the CRI log
//    in the service's own state and deletes it with the container. The
//    adapter mirrors it (Logs follow, which ends at the exit) into the
//    engine's log path from Create on, and Delete waits for the mirror to
//    drain first, so `logs` works after the exit as in Docker. The mirror's
//    writer is the one that holds the file at the log path open: reopenLog
//    (the CRI's ReopenContainerLog, after kubelet renamed the file) reopens
//    it there.
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setMaxListeners } from 'node:events';
import { FailedPreconditionError, InvalidArgumentError, isNotFound, ErrorCode, errorCode, NotFoundError, fromNodeError } from '@berth/errors';
import { MAX_TIMEOUT_MS, type BerthClient } from '@berth/kit';
import type { namespacesV1, typesV1 } from '@berth/proto';
import { LogWriter, lastLogRecords, parseRfc3339Nano, type LogBounds } from '@berth/cri-log';
import type { ExitStatus, NamespacesPort, ProcessSpec } from '../ports';
import type { MountPoint } from '../types';
import { ULIMIT_NAMES } from '@berth/container-config';

/** An rlimit on the wire: -1 (unlimited) is RLIM_INFINITY (protobufjs clamps 2^64 to the all-ones uint64). */
const rlim = (v: number): number => (v < 0 ? 2 ** 64 : v);
import type { CgroupsClient } from './cgroups';
import { ignoreNotFound, rfc3339ToMs, type ContainerFiles } from './shared';
import { memoryCgroupDirs } from './oom-cgroup';
import { confinementMounts, containerCgroupDirs, deviceToSpec, privilegedCapabilities } from './confinement';
import { chownToContainerRoot } from '../userns';
import { rootGidOf } from '../state-modes';
import { grantTraverse } from '@berth/sys';
import { parseSecurityOpts, seccompFor } from '@berth/seccomp';
import { sharedNamespaces } from './namespace-sharing';

export type NamespacesClient = BerthClient<namespacesV1.NamespacesDefinition, namespacesV1.NamespacesHandlers>;

/** How long wait and delete wait for a log mirror that is reconnecting to a restarted namespaces service. */
const MIRROR_RECONNECT_WAIT_MS = 60_000;

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];
/** Every capability Linux 6.x knows, for ALL and privileged exec. */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

const capName = (c: string): string => {
  const up = c.toUpperCase();
  return up === 'ALL' || up.startsWith('CAP_') ? up : `CAP_${up}`;
};

/**
 * --cap-add/--cap-drop applied to Docker's defaults; undefined = the service's
 * defaults (same set). --cap-drop ALL without adds is a message with every set
 * empty, which the namespaces service takes as no capability at all.
 */
export function capabilitiesOf(add: string[], drop: string[]): typesV1.LinuxCapabilities | undefined {
  if (add.length === 0 && drop.length === 0) return undefined;
  const a = add.map(capName);
  const d = drop.map(capName);
  for (const c of [...a, ...d]) {
    if (c !== 'ALL' && !ALL_CAPS.includes(c)) throw new InvalidArgumentError(`unknown capability "${c}"`, { field: 'cap_add' });
  }
  // ALL: every capability of the host's bounding set, as --privileged gets (capset refuses one the host lacks).
  let set = a.includes('ALL') ? [...(privilegedCapabilities(ALL_CAPS).bounding ?? ALL_CAPS)] : [...new Set([...DEFAULT_CAPS, ...a])];
  set = d.includes('ALL') ? set.filter((c) => a.includes(c)) : set.filter((c) => !d.includes(c));
  return { bounding: set, effective: set, permitted: set, inheritable: [], ambient: [] };
}

/** rshared when a mount asks for it, else rslave when one does, else the default (rprivate). */
export function rootfsPropagationOf(mounts: MountPoint[]): { rootfsPropagation?: string } {
  const opts = mounts.flatMap((m) => m.options);
  if (opts.includes('rshared') || opts.includes('shared')) return { rootfsPropagation: 'rshared' };
  if (opts.includes('rslave') || opts.includes('slave')) return { rootfsPropagation: 'rslave' };
  return {};
}

export function mountToSpec(m: MountPoint): typesV1.Mount {
  const rw = m.rw ? 'rw' : 'ro';
  if (m.type === 'tmpfs') return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...m.options, rw] };
  // Volumes are directories in the engine's state: bind them like -v host paths.
  return { destination: m.destination, type: 'bind', source: m.source, options: ['rbind', ...m.options, rw] };
}

export function exitFromWire(s: namespacesV1.ExitStatus__Output): ExitStatus {
  return { exitCode: s.exitCode, signal: s.signal, oomKilled: s.oomKilled, exitedAt: rfc3339ToMs(s.exitedAt) || Date.now() };
}

export interface NamespacesPortOptions {
  namespaces: NamespacesClient;
  cgroups: CgroupsClient;
  files: ContainerFiles;
  warn?: (msg: string) => void;
}

export interface GrpcNamespacesPort extends NamespacesPort {
  /**
   * Mirrors the container's log into `logPath` until its process exits
   * (Start does this; recovery calls it for containers found alive). Lines
   * already in the file (by time) are not copied again.
   */
  mirrorLogs(id: string, logPath: string, bounds: LogBounds): void;
  /**
   * Cancels the mirrors (engine shutdown): the next engine's recovery mirrors
   * from where the file ends. Closing the client alone would let the calls run
   * on, and two engines would append the same lines.
   */
  close(): Promise<void>;
}

export function grpcNamespacesPort(o: NamespacesPortOptions): GrpcNamespacesPort {
  const ns = o.namespaces;
  const warn = o.warn ?? (() => {});
  const logPaths = new Map<string, { path: string; bounds: LogBounds }>();
  const mirrors = new Map<string, Promise<void>>();
  /** The file each mirror writes now (none between two of its streams). */
  const writers = new Map<string, LogWriter>();
  /** Entries each mirror has copied: a copy still moving is waited for, a stalled one is not. */
  const mirrorProgress = new Map<string, number>();
  /** Mirrors between a failure and the first entry of their next stream: (re)connecting, not stalled. */
  const mirrorReconnecting = new Set<string>();
  /** AddProcess calls started by create, awaited by start (or delete on rollback). */
  const joiningCgroup = new Map<string, Promise<void>>();
  const closing = new AbortController();
  // One listener per live log mirror: a hundred containers are not a leak.
  setMaxListeners(0, closing.signal);

  const mirrorLogs = (id: string, logPath: string, bounds: LogBounds): void => {
    if (mirrors.has(id) || closing.signal.aborted) return;
    logPaths.set(id, { path: logPath, bounds });
    const p = (async () => {
      // Where the copy ends: entries up to `last` are in it, and `atLast` of
      // those carry that very time (the monitor stamps every record of one
      // read alike). A resume skips exactly those. After an engine restart
      // the file tells both (the copy is a prefix of the source, in order):
      // counting all of the last time as copied lost the rest of a read an
      // engine was killed in the middle of (chaos: 2 of 7 lines).
      let last: bigint | null;
      let atLast = Infinity;
      try {
        await mkdir(dirname(logPath), { recursive: true, mode: 0o700 });
        const at = await lastLogRecords(logPath, bounds.maxFiles);
        last = at?.time ?? null;
        if (at) atLast = at.count;
      } catch (e) {
        warn(`cannot keep the log of container ${id} at ${logPath}: ${(e as Error).message}`);
        return;
      }
      // A failure (the namespaces service restarting, a write error) does not
      // end the copy: it resumes from where it got to, until the stream ends
      // at the exit (or the container's runtime is gone, or the engine stops).
      for (let attempt = 0; !closing.signal.aborted; attempt++) {
        if (attempt > 0) {
          mirrorReconnecting.add(id);
          // At most 1 s: the exit's wait and delete give a copy that does not
          // move only a few seconds, and a namespaces service being restarted
          // must find this one back on the stream as soon as it serves.
          await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (attempt - 1), 1000)).unref());
          if (closing.signal.aborted) return;
        }
        let out: LogWriter;
        try {
          // Rotated as the monitor rotates its own: the copy is held to the same bounds.
          out = await LogWriter.open(logPath, bounds);
        } catch (e) {
          warn(`cannot keep the log of container ${id} at ${logPath}: ${(e as Error).message}`);
          continue;
        }
        writers.set(id, out);
        const from = last;
        let skip = atLast;
        let failed = false;
        try {
          for await (const e of ns.Logs({ id, follow: true }, { signal: closing.signal }) as AsyncIterable<namespacesV1.LogEntry__Output>) {
            const t = parseRfc3339Nano(e.time);
            if (from !== null && t !== null) {
              if (t < from) continue;
              if (t === from && skip > 0) {
                skip--;
                continue;
              }
            }
            // Lines, and pieces of lines longer than 16 KiB (no newline): at most 16 KiB each.
            out.write({ time: e.time, stream: e.stream === 'stderr' ? 'stderr' : 'stdout', line: e.line });
            mirrorProgress.set(id, (mirrorProgress.get(id) ?? 0) + 1);
            mirrorReconnecting.delete(id);
            if (t !== null && (last === null || t >= last)) {
              if (t === last) atLast++;
              else [last, atLast] = [t, 1];
            }
            if (out.pendingBytes > 1 << 20) await out.drained();
          }
        } catch (e) {
          if (isNotFound(e) || closing.signal.aborted) return;
          failed = true;
          warn(`mirroring the log of container ${id}: ${(e as Error).message}; resuming`);
        } finally {
          if (writers.get(id) === out) writers.delete(id);
          await out.close().catch(async (e: Error) => {
            failed = true;
            warn(`writing the log of container ${id}: ${e.message}; resuming`);
            // Entries counted above may not have reached the file: go by what it holds.
            const at = await lastLogRecords(logPath, bounds.maxFiles).catch(() => undefined);
            if (at === undefined) atLast = Infinity; // unreadable: all of the last time known counts as copied
            else [last, atLast] = at ? [at.time, at.count] : [null, Infinity];
          });
        }
        if (!failed) return;
      }
    })();
    mirrors.set(id, p);
    void p.finally(() => {
      if (mirrors.get(id) !== p) return;
      mirrors.delete(id);
      mirrorProgress.delete(id);
      mirrorReconnecting.delete(id);
    });
  };

  /**
   * Waits for the log mirror of `id` to finish while it moves: a large log
   * (an 80 MB line) takes longer than any fixed bound, and `logs` after
   * `wait` must show all of it. A mirror that copies nothing for 5 s is not
   * waited for any more (a stalled copy must not hold up wait or delete).
   * One that is reconnecting to a namespaces service that was restarted has
   * not stalled: it is waited for up to MIRROR_RECONNECT_WAIT_MS. The exit
   * that wait reports comes from that same service, so it is back; but on a
   * loaded host its first answers take seconds (chaos: 26 s to serve again,
   * then a log stream later than 5 s, and `logs` after `wait` was empty).
   */
  const mirrorDrained = async (id: string): Promise<void> => {
    const since = Date.now();
    for (;;) {
      const m = mirrors.get(id);
      if (!m) return;
      const before = mirrorProgress.get(id) ?? 0;
      const done = await Promise.race([m.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000).unref())]);
      if (done) return;
      if ((mirrorProgress.get(id) ?? 0) !== before) continue;
      if (!mirrorReconnecting.has(id) || Date.now() - since > MIRROR_RECONNECT_WAIT_MS) return;
    }
  };

  const netnsOf = async (mode: string): Promise<typesV1.LinuxNamespace | null> => {
    if (mode === 'host') return null;
    if (mode.startsWith('container:')) {
      const other = mode.slice('container:'.length);
      const st = await ns.State({ id: other });
      const path = st.namespacePaths['network'];
      if (!path) throw new NotFoundError(`container ${other} has no network namespace to share`, { field: 'network_mode' });
      return { type: 'network', path };
    }
    return { type: 'network', path: '' };
  };

  const reopenLog = async (id: string): Promise<void> => {
    const out = writers.get(id);
    if (out) return out.reopen();
    const log = logPaths.get(id);
    if (!mirrors.has(id) || !log) {
      throw new FailedPreconditionError(`no log of container ${id} is being written (it is not running): nothing to reopen`, { field: 'id' });
    }
    // Between two streams of the copy (the namespaces service restarting):
    // the next one opens the path afresh; the file is there from now on.
    try {
      await (await open(log.path, 'a', 0o600)).close();
    } catch (e) {
      throw fromNodeError(e, `reopen log ${log.path}`);
    }
  };

  return {
    mirrorLogs,
    reopenLog,

    async close() {
      closing.abort();
      await Promise.all([...mirrors.values()]);
    },

    async create(id, spec: ProcessSpec) {
      const idMapping = spec.idMapping;
      if (spec.usernsMode === 'auto' && !idMapping) {
        throw new InvalidArgumentError('userns mode "auto" needs the id range the engine allocates at create; this container has none: recreate it', { field: 'host_config.userns_mode' });
      }
      const files = await o.files.prepare(id, spec.hostname);
      // In its own user namespace the container's root is an unprivileged host
      // uid: the files bound into it must be its own to stay writable (the
      // networks service rewrites them in place, keeping the owner).
      if (idMapping) for (const p of [files.hostsPath, files.resolvConfPath, files.hostnamePath]) chownToContainerRoot(p, idMapping);
      // ...and its shim, running as that uid, must be able to search the 0700
      // dirs holding them (state-modes.ts; the engine's sync keeps these too).
      const rootGid = idMapping ? rootGidOf(idMapping) : undefined;
      if (rootGid !== undefined) for (const d of [dirname(o.files.dir(id)), o.files.dir(id)]) grantTraverse(d, rootGid);
      const netns = await netnsOf(spec.networkMode);
      const shared = await sharedNamespaces(spec.pod, async (other) => (await ns.State({ id: other })).namespacePaths);
      // A mount of the request at one of these paths wins, as in Docker: kubelet
      // mounts its own /etc/hosts, and the CRI binds the pod's files.
      const fileMounts: typesV1.Mount[] = [
        { destination: '/etc/hosts', type: 'bind', source: files.hostsPath, options: ['rbind', 'rw'] },
        { destination: '/etc/resolv.conf', type: 'bind', source: files.resolvConfPath, options: ['rbind', 'rw'] },
        { destination: '/etc/hostname', type: 'bind', source: files.hostnamePath, options: ['rbind', 'rw'] },
      ].filter((f) => !spec.mounts.some((m) => m.destination.replace(/\/+$/, '') === f.destination));
      const capabilities = capabilitiesOf(spec.capAdd, spec.capDrop);
      // Docker's default profile (or the user's) resolved for the capabilities
      // the container gets: CAP_SYS_ADMIN opens mount/unshare/setns... (none
      // for --privileged or seccomp=unconfined; @berth/seccomp).
      const seccomp = seccompFor({
        securityOpt: spec.securityOpt, privileged: spec.privileged === true, capabilities: capabilities?.effective ?? DEFAULT_CAPS,
      });
      // --privileged and --cgroupns (confinement.ts): capabilities, mounts, devices, paths.
      const privileged = spec.privileged === true;
      if (privileged && idMapping) {
        throw new InvalidArgumentError('privileged mode is incompatible with --userns auto: a privileged container shares the host user namespace; use --userns host', { field: 'host_config.privileged' });
      }
      const cgroupns = spec.cgroupnsMode !== 'host';
      const processCaps = privileged ? privilegedCapabilities(ALL_CAPS) : capabilities;
      // With a cgroup namespace the shim puts the init in every hierarchy's
      // cgroup itself (containerCgroupDirs lists each one the cgroups service
      // made), so the AddProcess below would only repeat those writes (each
      // costs the kernel an RCU grace period on v1): it is skipped.
      const cgroupsPaths = cgroupns ? containerCgroupDirs(spec.cgroupPath) : memoryCgroupDirs(spec.cgroupPath);
      const placedByShim = cgroupns && cgroupsPaths.length > 0;
      const req: namespacesV1.CreateRequest = {
        id,
        stdin: spec.openStdin,
        // 0 on the wire is the default: never rotating is -1 there.
        logMaxSize: spec.logBounds.maxSize === 0 ? -1 : spec.logBounds.maxSize,
        logMaxFiles: spec.logBounds.maxFiles,
        spec: {
          process: {
            terminal: spec.terminal, args: spec.args, env: spec.env, cwd: spec.cwd,
            user: { uid: spec.uid, gid: spec.gid, additionalGids: spec.additionalGids },
            ...(processCaps ? { capabilities: processCaps } : {}),
            noNewPrivileges: parseSecurityOpts(spec.securityOpt).noNewPrivileges,
            ...(spec.pod?.oomScoreAdj !== undefined ? { oomScoreAdj: spec.pod.oomScoreAdj } : {}),
            // --ulimit; -1 (unlimited) is RLIM_INFINITY, all ones in the uint64.
            ...(spec.ulimits?.length ? { rlimits: spec.ulimits.map((u) => ({ type: ULIMIT_NAMES[u.name] ?? u.name, soft: rlim(u.soft), hard: rlim(u.hard) })) } : {}),
          },
          root: { path: spec.rootfs, readonly: spec.readonlyRootfs },
          hostname: spec.hostname,
          ...(spec.domainname ? { domainname: spec.domainname } : {}),
          mounts: [...confinementMounts({ privileged, cgroupns }), ...spec.mounts.map(mountToSpec), ...fileMounts],
          linux: {
            // A new user namespace first: the shim creates the others inside
            // it, so they belong to the container's root (docs/design/engine.md).
            namespaces: [
              ...(idMapping ? [{ type: 'user' }] : []), { type: 'mount' }, ...shared, ...(netns ? [netns] : []),
              ...(cgroupns ? [{ type: 'cgroup' }] : []),
            ],
            ...(idMapping ? { uidMappings: idMapping.uidMappings, gidMappings: idMapping.gidMappings } : {}),
            // The monitor's OOM counter (State.OOMKilled): oom-cgroup.ts. With
            // a cgroup namespace the init joins every hierarchy's cgroup before
            // it unshares, so the namespace is rooted there in each.
            cgroupsPaths,
            // A bind with rshared/rslave propagation needs the root mount to pass events on (runc and containerd do the same).
            ...rootfsPropagationOf(spec.mounts),
            devices: (spec.devices ?? []).map(deviceToSpec),
            unmaskedPaths: privileged,
            ...(spec.pod?.maskedPaths?.length ? { maskedPaths: spec.pod.maskedPaths } : {}),
            ...(spec.pod?.readonlyPaths?.length ? { readonlyPaths: spec.pod.readonlyPaths } : {}),
            sysctl: spec.pod?.sysctls ?? {},
            ...(seccomp ? { seccomp } : {}),
          },
          init: spec.init,
        },
      };
      let res: namespacesV1.CreateResponse__Output;
      try {
        res = await ns.Create(req);
      } catch (e) {
        if (errorCode(e) !== ErrorCode.AlreadyExists) throw e;
        // A retry after a lost reply: the process we made is there, still created.
        let st: namespacesV1.ContainerState__Output | undefined;
        try {
          st = await ns.State({ id });
        } catch (se) {
          if (errorCode(se) !== ErrorCode.NotFound) throw se;
        }
        if (st?.status === 'created') res = { pid: st.pid, namespacePaths: st.namespacePaths, monitorPid: st.monitorPid };
        else {
          // Left by an earlier attempt the engine never committed: the
          // namespaces service died inside that create (no record written),
          // a rollback killed the process and could not delete it, or an
          // engine died inside that start after the exec (running: the
          // client that retries this start was never told it started; the
          // next engine's recovery releases such a process too, but a retried
          // start can come first). Delete kills what is left and frees the
          // id; create again.
          await ns.Delete({ id, force: true });
          res = await ns.Create(req);
        }
      }
      const netnsPath = res.namespacePaths['network'];
      if (netnsPath) o.files.netnsPaths.set(id, netnsPath);
      // The copy of the log starts now, while the init waits before execve
      // (its follow serves a created container and ends at its exit): its
      // setup (the file's last records, the writer, the Logs stream, the
      // service's first read) then runs during the rest of the start, not
      // after the exit a quick container (`true`) reaches ~1 ms after Start,
      // where wait() waited for it (3-4 ms of every run to exit).
      mirrorLogs(id, spec.logPath, spec.logBounds);
      // The move into the cgroup runs while the engine attaches the network
      // and writes the hosts files (it costs an RCU grace period in the
      // kernel, ~10 ms on v1); start() waits for it before the init may exec,
      // so the program never runs outside its limits. Its failure fails start,
      // whose saga then undoes createProcess (kill + delete) as before.
      const joined = placedByShim ? Promise.resolve() : o.cgroups.AddProcess({ id, pid: res.pid }).then(() => undefined);
      joined.catch(() => undefined); // observed by start() or delete()
      joiningCgroup.set(id, joined);
      return { pid: res.pid };
    },

    async start(id) {
      const joined = joiningCgroup.get(id);
      if (joined) {
        await joined;
        joiningCgroup.delete(id);
      }
      await ns.Start({ id });
      // Started at create; again here for a process this engine did not
      // create (a no-op when its copy runs).
      const log = logPaths.get(id);
      if (log) mirrorLogs(id, log.path, log.bounds);
    },

    async kill(id, signal) {
      try {
        await ns.Signal({ id, signal });
      } catch (e) {
        // Killing what already died is done (rollback and stop call this blindly).
        if (isNotFound(e)) return;
        if (errorCode(e) === ErrorCode.FailedPrecondition && signal === 'SIGKILL') return;
        throw e;
      }
    },

    async wait(id, timeoutMs) {
      let exit: ExitStatus;
      try {
        exit = exitFromWire(await ns.Wait({ id }, { timeoutMs }));
      } catch (e) {
        if (errorCode(e) === ErrorCode.DeadlineExceeded) return null;
        throw e;
      }
      // The exit is reported once the output is in the engine's log too: the
      // engine commits the exit (and answers Wait) right after this, and
      // `logs` after `wait` must show everything, as in Docker. The mirror's
      // follow ends at the exit, so this is short; bounded like delete's.
      await mirrorDrained(id);
      return exit;
    },

    async exec(id, execId, spec) {
      const execCaps = capabilitiesOf(spec.capAdd ?? [], spec.capDrop ?? []);
      const res = await ns.Exec({
        id, execId, stdin: spec.openStdin,
        process: {
          terminal: spec.terminal, args: spec.args, env: spec.env, cwd: spec.cwd,
          user: { uid: spec.uid, gid: spec.gid, additionalGids: spec.additionalGids },
          // As a privileged init (create): every capability of the host's
          // bounding set; ALL_CAPS names some a host may lack (CAP_SYS_RESOURCE
          // here), which capset refuses.
          // Otherwise the container's own set (--cap-add/--cap-drop), as Docker's exec gets it.
          ...(spec.privileged ? { capabilities: privilegedCapabilities(ALL_CAPS) } : execCaps ? { capabilities: execCaps } : {}),
          noNewPrivileges: spec.noNewPrivileges,
        },
      });
      return { pid: res.pid };
    },

    async waitExec(id, execId) {
      // As long as the exec runs: each call is bounded by the client's longest deadline.
      for (;;) {
        try {
          return (await ns.WaitExec({ id, execId }, { timeoutMs: MAX_TIMEOUT_MS })).exitCode;
        } catch (e) {
          if (errorCode(e) !== ErrorCode.DeadlineExceeded) throw e;
        }
      }
    },

    async delete(id) {
      // A cgroup move still in flight (rollback before start) lands first, so nothing acts on a deleted pid later.
      const joined = joiningCgroup.get(id);
      joiningCgroup.delete(id);
      if (joined) await joined.catch(() => undefined);
      // Let the log mirror drain what the monitor wrote before the service deletes the log.
      await mirrorDrained(id);
      logPaths.delete(id);
      await ignoreNotFound(ns.Delete({ id, force: true }));
    },

    async list() {
      const res = await ns.List({});
      return res.containers.map((c) => ({
        id: c.id,
        pid: c.pid,
        running: c.status === 'running',
        exit: c.status === 'stopped' && c.exit ? exitFromWire(c.exit) : null,
      }));
    },
  };
}

