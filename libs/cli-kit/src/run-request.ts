// `berth run` / `berth create`: the translation of a parsed command line
// into a RunRequest (the flag table is run-flags.ts, re-exported here), the
// CLI-side mirror of berth.engine.v1.CreateContainerRequest (same fields, camelCase as
// @grpc/proto-loader presents them). All validation happens here, before the
// engine is called, so a bad flag never leaves a half-created container.
import { InvalidArgumentError } from '@berth/errors';
import { logBounds } from '@berth/cri-log';
import { parseSecurityOpts } from '@berth/seccomp';
import { checkCgroupnsMode, checkContainerName, checkDomainname, MIN_MEMORY, parseDeviceCgroupRule, parseDeviceMapping, type ContainerConfig, type HostConfig } from '@berth/container-config';
import type { FlagDef, ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { healthConfigFromFlags } from './health-flags';
import { resourcesFromFlags } from './resource-flags';
import { namespaceOptionsFromFlags } from './namespace-flags';
import { clientRunOptions } from './client-run-flags';
import { ulimitsFromFlags } from './ulimit-flags';
import { parseMountFlag } from './mount-flag';
import { CREATE_COMMAND, RUN_COMMAND, RUN_FLAGS } from './run-flags';
import {
  checkImageRef, parseCapability, parseCpus, parseCpuset, parseEnvArg, parseEnvFile, parseHostname, parseLabel,
  parseMemory, parseMemorySwap, parseNetworkMode, parsePortSpec, parseRestartPolicy, parseTmpfs, parseUserSpec,
  parseVolumeSpec, type MountSpec,
} from './opts';

export { CREATE_COMMAND, RUN_COMMAND, RUN_FLAGS };

export interface RunRequest {
  name: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  pull: 'missing' | 'always' | 'never';
  /** CLI behaviour, not sent: run in the background (print the id). */
  detach: boolean;
  /** CLI behaviour, not sent: --cidfile ("" = none), --detach-keys ("" = ctrl-p,ctrl-q), --sig-proxy. */
  cidfile: string;
  detachKeys: string;
  sigProxy: boolean;
}

/** What the translation needs from the outside world (injected for tests). */
export interface RunEnv {
  /** The caller's environment (for -e KEY and env files). */
  lookupEnv: (key: string) => string | undefined;
  /** Reads an --env-file; throws NotFound-ish errors as it likes. */
  readFile: (path: string) => string;
  cwd: string;
}


const flagOf = (name: string): FlagDef => RUN_FLAGS.find((f) => f.name === name)!;

/** seccomp=<file> (or the old seccomp:<file>) becomes seccomp=<the file's JSON,
 * compacted>, as Docker's CLI sends it: the engine never reads client paths.
 * unconfined and builtin, and every other option, pass as typed. */
function readSeccompProfile(opt: string, env: RunEnv): string {
  const m = /^seccomp[=:](.*)$/s.exec(opt);
  const path = m?.[1];
  if (path === undefined || path === 'unconfined' || path === 'builtin') return opt;
  let content: string;
  try {
    content = env.readFile(path);
  } catch (e) {
    throw invalidFlagValue(flagOf('security-opt'), opt, `cannot read the seccomp profile: ${(e as Error).message}`);
  }
  try {
    return `seccomp=${JSON.stringify(JSON.parse(content))}`;
  } catch (e) {
    throw invalidFlagValue(flagOf('security-opt'), opt, `the seccomp profile ${path} is not valid JSON (${(e as Error).message})`);
  }
}

/** Turns a parsed run/create command line into a validated RunRequest. */
export function buildRunRequest(p: ParsedCommand, env: RunEnv): RunRequest {
  const v = p.flags;
  const str = (n: string): string => v[n] as string;
  const list = (n: string): string[] => v[n] as string[];
  const has = (n: string): boolean => p.changed.has(n);

  const [image, ...cmd] = p.args as [string, ...string[]];
  const client = clientRunOptions(p, env.readFile);
  checkImageRef(image);

  const name = str('name');
  const nameWhy = name === '' ? undefined : checkContainerName(name.replace(/^\//, ''));
  if (nameWhy) throw invalidFlagValue(flagOf('name'), name, nameWhy);

  const envs: string[] = [];
  for (const file of list('env-file')) {
    let content: string;
    try { content = env.readFile(file); } catch (e) {
      throw invalidFlagValue(flagOf('env-file'), file, `cannot read the file: ${(e as Error).message}`);
    }
    envs.push(...parseEnvFile(flagOf('env-file'), file, content, env.lookupEnv));
  }
  for (const e of list('env')) envs.push(parseEnvArg(flagOf('env'), e, env.lookupEnv));

  const workdir = str('workdir');
  if (workdir !== '' && !workdir.startsWith('/')) {
    throw invalidFlagValue(flagOf('workdir'), workdir, 'the working directory must be an absolute path');
  }
  const user = has('user') ? parseUserSpec(flagOf('user'), str('user')) : '';
  const hostname = has('hostname') ? parseHostname(flagOf('hostname'), str('hostname')) : '';
  const domainname = has('domainname') ? str('domainname') : '';
  const domainWhy = domainname ? checkDomainname(domainname) : undefined;
  if (domainWhy) throw invalidFlagValue(flagOf('domainname'), domainname, domainWhy);

  let entrypoint: string[] | null = null;
  if (has('entrypoint')) entrypoint = [str('entrypoint')]; // "" -> [""]: reset, as Docker

  const memory = has('memory') ? parseMemory(flagOf('memory'), str('memory')) : 0;
  if (memory > 0 && memory < MIN_MEMORY) throw invalidFlagValue(flagOf('memory'), str('memory'), 'the minimum memory limit is 6m');
  let memorySwap = 0;
  if (has('memory-swap')) {
    memorySwap = parseMemorySwap(flagOf('memory-swap'), str('memory-swap'));
    if (memory === 0) throw invalidFlagValue(flagOf('memory-swap'), str('memory-swap'), 'set --memory too: the swap limit is memory plus swap');
    if (memorySwap > 0 && memorySwap < memory) throw invalidFlagValue(flagOf('memory-swap'), str('memory-swap'), 'must be at least --memory (it is memory plus swap) or -1');
  }
  const nanoCpus = has('cpus') ? parseCpus(flagOf('cpus'), str('cpus')) : 0;
  const cpuShares = (v['cpu-shares'] as number | undefined) ?? 0;
  if (cpuShares < 0 || cpuShares > 262144) throw invalidFlagValue(flagOf('cpu-shares'), String(cpuShares), 'expected 2-262144 (0 = default 1024)');
  const cpusetCpus = has('cpuset-cpus') ? parseCpuset(flagOf('cpuset-cpus'), str('cpuset-cpus')) : '';
  const pidsLimit = (v['pids-limit'] as number | undefined) ?? 0;
  if (pidsLimit < -1) throw invalidFlagValue(flagOf('pids-limit'), String(pidsLimit), 'expected a positive number, or -1 / 0 for unlimited');

  const netFlag = has('network') ? flagOf('network') : has('net') ? flagOf('net') : flagOf('network');
  const networkMode = parseNetworkMode(netFlag, has('net') && !has('network') ? str('net') : str('network'));

  const portBindings = list('publish').flatMap((s) => parsePortSpec(flagOf('publish'), s));
  if (portBindings.length && networkMode.startsWith('container:')) {
    throw new InvalidArgumentError('conflicting options: port publishing and the container type network mode', { field: 'publish' });
  }
  if (hostname && networkMode.startsWith('container:')) {
    throw new InvalidArgumentError('conflicting options: hostname and the container type network mode', { field: 'hostname' });
  }
  const exposedPorts = [...new Set([...portBindings.map((b) => `${b.containerPort}/${b.protocol}`), ...client.exposedPorts])];

  const mounts: MountSpec[] = [
    ...list('volume').map((s) => parseVolumeSpec(flagOf('volume'), s, env.cwd)),
    ...list('tmpfs').map((s) => parseTmpfs(flagOf('tmpfs'), s)),
    ...list('mount').map((s) => parseMountFlag(s, env.cwd)),
  ];
  const seen = new Set<string>();
  for (const m of mounts) {
    if (seen.has(m.target)) throw new InvalidArgumentError(`duplicate mount point: ${m.target}`, { field: m.type === 'tmpfs' ? 'tmpfs' : 'volume' });
    seen.add(m.target);
  }

  const restartPolicy = parseRestartPolicy(flagOf('restart'), str('restart'));
  const autoRemove = v.rm as boolean;
  if (autoRemove && restartPolicy.name !== 'no') {
    throw new InvalidArgumentError('conflicting options: --restart and --rm; a container removed on exit cannot be restarted', { field: 'restart' });
  }

  const capAdd = list('cap-add').map((c) => parseCapability(flagOf('cap-add'), c));
  const capDrop = list('cap-drop').map((c) => parseCapability(flagOf('cap-drop'), c));

  const securityOpt = list('security-opt').map((o) => readSeccompProfile(o, env));
  try {
    parseSecurityOpts(securityOpt);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message, { field: 'security-opt' });
  }

  const userns = str('userns');
  if (has('userns') && userns !== 'host' && userns !== 'auto') throw invalidFlagValue(flagOf('userns'), userns, 'expected host or auto');

  const devices = list('device').map((d) => {
    const m = parseDeviceMapping(d);
    if ('error' in m) throw invalidFlagValue(flagOf('device'), d, m.error);
    return m;
  });
  const deviceCgroupRules = list('device-cgroup-rule').map((r) => {
    const parsed = parseDeviceCgroupRule(r);
    if ('error' in parsed) throw invalidFlagValue(flagOf('device-cgroup-rule'), r, parsed.error);
    return r.trim();
  });
  const cgroupnsMode = has('cgroupns') ? str('cgroupns') : '';
  const badCgroupns = checkCgroupnsMode(cgroupnsMode);
  if (badCgroupns) throw invalidFlagValue(flagOf('cgroupns'), cgroupnsMode, badCgroupns);
  const privileged = (v.privileged as boolean | undefined) ?? false;

  const stopTimeout = (v['stop-timeout'] as number | undefined) ?? null;
  if (stopTimeout !== null && stopTimeout < -1) throw invalidFlagValue(flagOf('stop-timeout'), String(stopTimeout), 'expected seconds >= 0, or -1 to wait forever');
  let stopSignal = '';
  if (has('stop-signal')) {
    const s = str('stop-signal').toUpperCase();
    const name = /^\d+$/.test(s) ? s : s.startsWith('SIG') ? s : `SIG${s}`;
    if (!/^(\d+|SIG[A-Z0-9+]+)$/.test(name)) throw invalidFlagValue(flagOf('stop-signal'), str('stop-signal'), 'expected a signal name (SIGTERM, TERM) or number');
    stopSignal = name;
  }

  // The engine validates the same way (@berth/cri-log's logBounds); here each error names the value typed.
  const logDriver = str('log-driver');
  const logOpts: Record<string, string> = {};
  const reason = (e: unknown): string => (e as Error).message;
  try { logBounds(logDriver, {}); } catch (e) { throw invalidFlagValue(flagOf('log-driver'), logDriver, reason(e)); }
  for (const o of list('log-opt')) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw invalidFlagValue(flagOf('log-opt'), o, 'expected key=value (max-size=10m, max-file=3)');
    const [k, val] = [o.slice(0, eq), o.slice(eq + 1)];
    try { logBounds(logDriver, { [k]: val }); } catch (e) { throw invalidFlagValue(flagOf('log-opt'), o, reason(e)); }
    logOpts[k] = val;
  }
  const logConfig = { type: logDriver, config: logOpts };

  const labels: Record<string, string> = { ...client.labels }; // --label wins over --label-file
  for (const l of list('label')) { const [k, val] = parseLabel(flagOf('label'), l); labels[k] = val; }

  const pull = str('pull');
  if (pull !== 'missing' && pull !== 'always' && pull !== 'never') throw invalidFlagValue(flagOf('pull'), pull, 'expected always, missing or never');

  const healthcheck = healthConfigFromFlags(p);
  const resources = resourcesFromFlags(p);
  const namespaces = namespaceOptionsFromFlags(p, networkMode, hostname);
  if (nanoCpus > 0 && (resources.cpuPeriod || (resources.cpuQuota ?? 0) > 0)) {
    throw new InvalidArgumentError('conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set (--cpus is a quota over a 100 ms period)', { field: 'cpus' });
  }
  if (resources.memoryReservation && memory > 0 && resources.memoryReservation > memory) {
    throw invalidFlagValue(flagOf('memory-reservation'), str('memory-reservation'), 'the memory limit (--memory) must be at least the reservation');
  }

  const detach = (v.detach as boolean | undefined) ?? false;
  const interactive = v.interactive as boolean;
  return {
    name: name.replace(/^\//, ''),
    config: {
      hostname, domainname, user, env: envs, cmd: cmd.length ? cmd : null, entrypoint, workingDir: workdir,
      exposedPorts, volumes: [], labels, stopSignal, stopTimeout, tty: v.tty as boolean, openStdin: interactive,
      // -a names the streams; without it Docker's default: stdout and stderr, stdin with -i.
      attachStdin: !detach && (client.attach.length ? client.attach.includes('stdin') : interactive),
      attachStdout: !detach && (!client.attach.length || client.attach.includes('stdout')),
      attachStderr: !detach && (!client.attach.length || client.attach.includes('stderr')), image,
      ...(healthcheck ? { healthcheck } : {}),
    },
    hostConfig: {
      memory, memorySwap, nanoCpus, cpuShares, cpusetCpus, pidsLimit, networkMode, portBindings, mounts,
      readonlyRootfs: v['read-only'] as boolean, init: v.init as boolean, restartPolicy, capAdd, capDrop,
      usernsMode: userns, autoRemove, logConfig, securityOpt, privileged, devices, deviceCgroupRules, cgroupnsMode,
      ...resources,
      ...namespaces,
      ...(client.networkAliases.length ? { networkAliases: client.networkAliases } : {}),
      ...(client.extraHosts.length ? { extraHosts: client.extraHosts } : {}),
      ...(client.ipv4Address ? { ipv4Address: client.ipv4Address } : {}),
      ...(client.macAddress ? { macAddress: client.macAddress } : {}),
      ...(client.cgroupParent ? { cgroupParent: client.cgroupParent } : {}),
      ...(client.volumesFrom.length ? { volumesFrom: client.volumesFrom } : {}),
      ...(ulimitsFromFlags(p).length ? { ulimits: ulimitsFromFlags(p) } : {}),
      ...(v['publish-all'] === true ? { publishAllPorts: true } : {}),
    },
    pull,
    detach,
    cidfile: client.cidfile,
    detachKeys: client.detachKeys,
    sigProxy: client.sigProxy,
  };
}
