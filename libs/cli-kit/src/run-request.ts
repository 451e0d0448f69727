// `berth run` / `berth create`: the flag table and the translation of a
// parsed command line into a RunRequest, the CLI-side mirror of
// berth.engine.v1.CreateContainerRequest (same fields, camelCase as
// @grpc/proto-loader presents them). All validation happens here, before the
// engine is called, so a bad flag never leaves a half-created container.
import { InvalidArgumentError } from '@berth/errors';
import { logBounds } from '@berth/cri-log';
import { parseSecurityOpts } from '@berth/seccomp';
import { checkCgroupnsMode, checkContainerName, checkDomainname, MIN_MEMORY, parseDeviceCgroupRule, parseDeviceMapping, type ContainerConfig, type HostConfig } from '@berth/container-config';
import type { CommandDef, FlagDef, ParsedCommand } from './command';
import { invalidFlagValue } from './command';
import { HEALTH_FLAGS, healthConfigFromFlags } from './health-flags';
import { RESOURCE_FLAGS, resourcesFromFlags } from './resource-flags';
import { NAMESPACE_FLAGS, namespaceOptionsFromFlags } from './namespace-flags';
import { CLIENT_RUN_FLAGS, clientRunOptions } from './client-run-flags';
import { ULIMIT_FLAG, ulimitsFromFlags } from './ulimit-flags';
import { MOUNT_FLAG, parseMountFlag } from './mount-flag';
import { UNSUPPORTED_RUN_FLAGS, refuseUnsupportedRunFlags } from './unsupported-run-flags';
import {
  checkImageRef, parseCapability, parseCpus, parseCpuset, parseEnvArg, parseEnvFile, parseHostname, parseLabel,
  parseMemory, parseMemorySwap, parseNetworkMode, parsePortSpec, parseRestartPolicy, parseTmpfs, parseUserSpec,
  parseVolumeSpec, type MountSpec,
} from './opts';

export const RUN_FLAGS: FlagDef[] = [
  { name: 'detach', short: 'd', kind: 'bool', description: 'Run container in background and print container ID' },
  { name: 'interactive', short: 'i', kind: 'bool', description: 'Keep STDIN open even if not attached' },
  { name: 'tty', short: 't', kind: 'bool', description: 'Allocate a pseudo-TTY' },
  { name: 'rm', kind: 'bool', description: 'Automatically remove the container and its anonymous volumes when it exits' },
  { name: 'name', kind: 'string', description: 'Assign a name to the container' },
  { name: 'env', short: 'e', kind: 'list', description: 'Set environment variables (KEY=VALUE, or KEY to copy it from this environment)' },
  { name: 'env-file', kind: 'list', description: 'Read in a file of environment variables' },
  { name: 'workdir', short: 'w', kind: 'string', description: 'Working directory inside the container (absolute path)' },
  { name: 'user', short: 'u', kind: 'string', description: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { name: 'hostname', kind: 'string', description: 'Container host name' },
  { name: 'domainname', kind: 'string', description: 'Container NIS domain name' },
  { name: 'entrypoint', kind: 'string', description: 'Overwrite the default ENTRYPOINT of the image ("" resets it)' },
  { name: 'memory', short: 'm', kind: 'string', valueName: 'bytes', description: 'Memory limit (64m, 1g)' },
  { name: 'memory-swap', kind: 'string', valueName: 'bytes', description: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { name: 'cpus', kind: 'string', valueName: 'decimal', description: 'Number of CPUs' },
  { name: 'cpu-shares', short: 'c', kind: 'int', description: 'CPU shares (relative weight)' },
  { name: 'cpuset-cpus', kind: 'string', description: 'CPUs in which to allow execution (0-3, 0,1)' },
  { name: 'pids-limit', kind: 'int', description: 'Tune container pids limit (set -1 for unlimited)' },
  { name: 'network', kind: 'string', description: 'Connect a container to a network (bridge, none, host, container:<name|id>, <network>)', default: 'bridge' },
  { name: 'net', kind: 'string', description: 'Alias of --network', hidden: true },
  { name: 'publish', short: 'p', kind: 'list', description: "Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto])" },
  { name: 'volume', short: 'v', kind: 'list', description: 'Bind mount a volume (/host:/ctr[:ro], name:/ctr, /ctr)' },
  { name: 'tmpfs', kind: 'list', description: 'Mount a tmpfs directory (/path[:size=64m,mode=1777])' },
  { name: 'read-only', kind: 'bool', description: "Mount the container's root filesystem as read only" },
  { name: 'init', kind: 'bool', description: 'Run an init inside the container that forwards signals and reaps processes' },
  { name: 'restart', kind: 'string', description: 'Restart policy to apply when a container exits (no, always, unless-stopped, on-failure[:N])', default: 'no' },
  { name: 'cap-add', kind: 'list', description: 'Add Linux capabilities' },
  { name: 'cap-drop', kind: 'list', description: 'Drop Linux capabilities' },
  { name: 'userns', kind: 'string', description: 'User namespace to use (host, auto)' },
  { name: 'security-opt', kind: 'list', description: 'Security options (seccomp=<profile.json>|unconfined, no-new-privileges[=true|false])' },
  { name: 'privileged', kind: 'bool', description: 'Give extended privileges to this container' },
  { name: 'device', kind: 'list', description: 'Add a host device to the container (HOST[:CONTAINER][:rwm])' },
  { name: 'device-cgroup-rule', kind: 'list', description: "Add a rule to the cgroup allowed devices list ('c 1:11 rwm')" },
  { name: 'cgroupns', kind: 'string', description: 'Cgroup namespace to use (host, private)' },
  { name: 'stop-timeout', kind: 'int', description: 'Timeout (in seconds) to stop a container' },
  { name: 'stop-signal', kind: 'string', description: 'Signal to stop the container' },
  { name: 'label', short: 'l', kind: 'list', description: 'Set meta data on a container' },
  { name: 'log-driver', kind: 'string', description: 'Logging driver for the container (k8s-file; json-file is another name for it)' },
  { name: 'log-opt', kind: 'list', description: 'Log driver options (max-size=10m: rotate at this size, -1 never; max-file=5: files kept)' },
  { name: 'pull', kind: 'string', description: 'Pull image before running ("always", "missing", "never")', default: 'missing' },
  ...HEALTH_FLAGS,
  ...RESOURCE_FLAGS,
  ...NAMESPACE_FLAGS,
  ...CLIENT_RUN_FLAGS,
  ULIMIT_FLAG,
  MOUNT_FLAG,
  ...UNSUPPORTED_RUN_FLAGS,
];

export const RUN_COMMAND: CommandDef = {
  name: 'run',
  usage: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  description: 'Create and run a new container from an image',
  flags: RUN_FLAGS,
  args: { min: 1 },
  interspersed: false,
  examples: ['berth run --rm -it alpine sh', 'berth run -d --name web -p 8080:80 -v web-data:/usr/share/nginx/html nginx:1.27'],
};

export const CREATE_COMMAND: CommandDef = {
  ...RUN_COMMAND,
  name: 'create',
  description: 'Create a new container',
  flags: RUN_FLAGS.filter((f) => f.name !== 'detach'),
  examples: ['berth create --name app -e MODE=prod myapp:1.0'],
};

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

  refuseUnsupportedRunFlags(p);
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
