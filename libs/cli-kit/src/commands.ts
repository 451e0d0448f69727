// The berth command tree (Docker-compatible names, flags and argument
// counts), and validators for the flags shared by several commands. The CLI
// app maps each leaf to an engine/images/networks call.
import type { CommandDef, FlagDef } from './command';
import { invalidFlagValue } from './command';
import { CREATE_COMMAND, RUN_COMMAND, RUN_FLAGS } from './run-flags';

const f = (name: string, kind: FlagDef['kind'], description: string, extra: Partial<FlagDef> = {}): FlagDef => ({ name, kind, description, ...extra });
const FILTER = f('filter', 'list', 'Filter output based on conditions provided (name=value)', { short: 'f' });
const FORMAT = f('format', 'string', "Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template");
/** inspect's --format has Docker's -f shorthand (on ps/images -f is --filter). */
const INSPECT_FORMAT = { ...FORMAT, short: 'f' };
const QUIET = (what: string) => f('quiet', 'bool', `Only display ${what}`, { short: 'q' });
const NO_TRUNC = f('no-trunc', 'bool', "Don't truncate output");
const FORCE = (what: string) => f('force', 'bool', what, { short: 'f' });

const ps: CommandDef = {
  name: 'ps', usage: '[OPTIONS]', description: 'List containers', args: { max: 0 },
  flags: [
    f('all', 'bool', 'Show all containers (default shows just running)', { short: 'a' }),
    FILTER, FORMAT,
    f('last', 'int', 'Show n last created containers (includes all states)', { short: 'n', default: -1 }),
    f('latest', 'bool', 'Show the latest created container (includes all states)', { short: 'l' }),
    NO_TRUNC, QUIET('container IDs'),
    f('size', 'bool', 'Display total file sizes', { short: 's' }),
    f('pod', 'bool', 'Show the Kubernetes pod (CRI) of each container: POD ID and PODNAME columns'),
  ],
};

const logs: CommandDef = {
  name: 'logs', usage: '[OPTIONS] CONTAINER', description: 'Fetch the logs of a container', args: { min: 1, max: 1 },
  flags: [
    f('follow', 'bool', 'Follow log output', { short: 'f' }),
    f('since', 'string', 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
    f('until', 'string', 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)'),
    f('tail', 'string', 'Number of lines to show from the end of the logs', { short: 'n', default: 'all' }),
    f('timestamps', 'bool', 'Show timestamps', { short: 't' }),
  ],
};

const exec: CommandDef = {
  name: 'exec', usage: '[OPTIONS] CONTAINER COMMAND [ARG...]', description: 'Execute a command in a running container',
  args: { min: 2 }, interspersed: false,
  flags: [
    f('detach', 'bool', 'Detached mode: run command in the background', { short: 'd' }),
    f('env', 'list', 'Set environment variables', { short: 'e' }),
    f('env-file', 'list', 'Read in a file of environment variables'),
    f('interactive', 'bool', 'Keep STDIN open even if not attached', { short: 'i' }),
    f('tty', 'bool', 'Allocate a pseudo-TTY', { short: 't' }),
    f('user', 'string', 'Username or UID (format: "<name|uid>[:<group|gid>]")', { short: 'u' }),
    f('workdir', 'string', 'Working directory inside the container', { short: 'w' }),
    f('privileged', 'bool', 'Give extended privileges to the command'),
  ],
};

const containerArgs = (desc: string, name: string, flags: FlagDef[] = [], extra: Partial<CommandDef> = {}): CommandDef => ({
  name, usage: '[OPTIONS] CONTAINER [CONTAINER...]', description: desc, args: { min: 1 }, flags, ...extra,
});

const stop = containerArgs('Stop one or more running containers', 'stop', [
  f('time', 'int', 'Seconds to wait before killing the container', { short: 't' }),
  f('timeout', 'int', 'Alias of --time', { hidden: true }),
  f('signal', 'string', 'Signal to send to the container', { short: 's' }),
]);
const restart = containerArgs('Restart one or more containers', 'restart', [
  f('time', 'int', 'Seconds to wait before killing the container', { short: 't' }),
  f('signal', 'string', 'Signal to send to the container', { short: 's' }),
]);
const kill = containerArgs('Kill one or more running containers', 'kill', [f('signal', 'string', 'Signal to send to the container', { short: 's', default: 'KILL' })]);
const rm = containerArgs('Remove one or more containers', 'rm', [
  FORCE('Force the removal of a running container (uses SIGKILL)'),
  f('volumes', 'bool', 'Remove anonymous volumes associated with the container', { short: 'v' }),
], { aliases: ['remove'] });
const start = containerArgs('Start one or more stopped containers', 'start', [
  f('attach', 'bool', "Attach STDOUT/STDERR and forward signals", { short: 'a' }),
  f('interactive', 'bool', "Attach container's STDIN", { short: 'i' }),
]);
const pause = containerArgs('Pause all processes within one or more containers', 'pause');
const unpause = containerArgs('Unpause all processes within one or more containers', 'unpause');
const wait = containerArgs('Block until one or more containers stop, then print their exit codes', 'wait');
const stats: CommandDef = {
  name: 'stats', usage: '[OPTIONS] [CONTAINER...]', description: 'Display a live stream of container(s) resource usage statistics',
  flags: [f('all', 'bool', 'Show all containers (default shows just running)', { short: 'a' }), FORMAT, f('no-stream', 'bool', 'Disable streaming stats and only pull the first result'), NO_TRUNC],
};
const top: CommandDef = { name: 'top', usage: 'CONTAINER [ps OPTIONS]', description: 'Display the running processes of a container', args: { min: 1 }, interspersed: false };
const port: CommandDef = { name: 'port', usage: 'CONTAINER [PRIVATE_PORT[/PROTO]]', description: 'List port mappings or a specific mapping for the container', args: { min: 1, max: 2 } };
const rename: CommandDef = { name: 'rename', usage: 'CONTAINER NEW_NAME', description: 'Rename a container', args: { min: 2, max: 2 } };
const cp: CommandDef = {
  name: 'cp', usage: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  description: 'Copy files/folders between a container and the local filesystem', args: { min: 2, max: 2 },
  flags: [f('archive', 'bool', 'Archive mode (copy all uid/gid information)', { short: 'a' }), f('follow-link', 'bool', 'Always follow symbol link in SRC_PATH', { short: 'L' }),
    f('quiet', 'bool', 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached', { short: 'q' })],
};
const commit: CommandDef = {
  name: 'commit', usage: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]', description: "Create a new image from a container's changes", args: { min: 1, max: 2 },
  flags: [
    f('author', 'string', 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")', { short: 'a' }),
    f('change', 'list', 'Apply Dockerfile instruction to the created image', { short: 'c' }),
    f('message', 'string', 'Commit message', { short: 'm' }),
    f('pause', 'bool', 'Pause container during commit', { short: 'p', default: true }),
  ],
};
const update: CommandDef = containerArgs('Update configuration of one or more containers', 'update',
  RUN_FLAGS.filter((x) => ['memory', 'memory-swap', 'memory-reservation', 'cpus', 'cpu-shares', 'cpu-period', 'cpu-quota', 'cpuset-cpus', 'cpuset-mems', 'blkio-weight', 'pids-limit', 'restart'].includes(x.name)).map((x) => ({ ...x, default: undefined })));
const inspect: CommandDef = {
  name: 'inspect', usage: '[OPTIONS] NAME|ID [NAME|ID...]', description: 'Return low-level information on berth objects', args: { min: 1 },
  flags: [INSPECT_FORMAT, f('size', 'bool', 'Display total file sizes if the type is container', { short: 's' }), f('type', 'string', 'Return JSON for specified type')],
};
const attach: CommandDef = {
  name: 'attach', usage: '[OPTIONS] CONTAINER', description: "Attach local standard input, output, and error streams to a running container", args: { min: 1, max: 1 },
  flags: [f('no-stdin', 'bool', 'Do not attach STDIN'), f('detach-keys', 'string', 'Override the key sequence for detaching a container')],
};
const diff: CommandDef = { name: 'diff', usage: 'CONTAINER', description: "Inspect changes to files or directories on a container's filesystem", args: { min: 1, max: 1 } };
const exportCmd: CommandDef = {
  name: 'export', usage: '[OPTIONS] CONTAINER', description: "Export a container's filesystem as a tar archive", args: { min: 1, max: 1 },
  flags: [f('output', 'string', 'Write to a file, instead of STDOUT', { short: 'o' })],
};
const prune = (what: string, extra: FlagDef[] = []): CommandDef => ({
  // No -f shorthand for --filter here: -f is --force on prune, as in Docker.
  name: 'prune', usage: '[OPTIONS]', description: `Remove ${what}`, args: { max: 0 }, flags: [{ ...FILTER, short: undefined }, FORCE('Do not prompt for confirmation'), ...extra],
});

const containerCommands = [attach, commit, cp, CREATE_COMMAND, diff, exec, exportCmd, inspect, kill, logs, { ...ps, name: 'ls', aliases: ['ps', 'list'] }, pause, port,
  prune('all stopped containers'), rename, restart, rm, RUN_COMMAND, start, stats, stop, top, unpause, update, wait];

const imagesLs: CommandDef = {
  name: 'ls', aliases: ['list'], usage: '[OPTIONS] [REPOSITORY[:TAG]]', description: 'List images', args: { max: 1 },
  flags: [f('all', 'bool', 'Show all images (default hides intermediate images)', { short: 'a' }), f('digests', 'bool', 'Show digests'), FILTER, FORMAT, NO_TRUNC, QUIET('image IDs')],
};
const imageRm: CommandDef = {
  name: 'rm', aliases: ['remove'], usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Remove one or more images', args: { min: 1 },
  flags: [FORCE('Force removal of the image'), f('no-prune', 'bool', 'Do not delete untagged parents')],
};
const pull: CommandDef = {
  name: 'pull', usage: '[OPTIONS] NAME[:TAG|@DIGEST]', description: 'Download an image from a registry', args: { min: 1, max: 1 },
  flags: [f('all-tags', 'bool', 'Download all tagged images in the repository', { short: 'a' }), f('platform', 'string', 'Set platform if server is multi-platform capable'), f('quiet', 'bool', 'Suppress verbose output', { short: 'q' })],
};
const push: CommandDef = {
  name: 'push', usage: '[OPTIONS] NAME[:TAG]', description: 'Upload an image to a registry', args: { min: 1, max: 1 },
  flags: [f('all-tags', 'bool', 'Push all tags of an image to the repository', { short: 'a' }), f('quiet', 'bool', 'Suppress verbose output', { short: 'q' })],
};
const tag: CommandDef = { name: 'tag', usage: 'SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', description: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE', args: { min: 2, max: 2 } };
const save: CommandDef = {
  name: 'save', usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Save one or more images to a tar archive (streamed to STDOUT by default)', args: { min: 1 },
  flags: [f('output', 'string', 'Write to a file, instead of STDOUT', { short: 'o' })],
};
const load: CommandDef = {
  name: 'load', usage: '[OPTIONS]', description: 'Load an image from a tar archive or STDIN', args: { max: 0 },
  flags: [f('input', 'string', 'Read from tar archive file, instead of STDIN', { short: 'i' }), f('quiet', 'bool', 'Suppress the load output', { short: 'q' })],
};
const imp: CommandDef = {
  name: 'import', usage: '[OPTIONS] file|URL|- [REPOSITORY[:TAG]]', description: 'Import the contents from a tarball to create a filesystem image', args: { min: 1, max: 2 },
  flags: [f('change', 'list', 'Apply Dockerfile instruction to the created image', { short: 'c' }), f('message', 'string', 'Set commit message for imported image', { short: 'm' })],
};
const build: CommandDef = {
  name: 'build', usage: '[OPTIONS] PATH | -', description: 'Build an image from a Dockerfile', args: { min: 1, max: 1 },
  flags: [
    f('build-arg', 'list', 'Set build-time variables'),
    f('file', 'string', "Name of the Dockerfile (Default is 'PATH/Dockerfile')", { short: 'f' }),
    f('label', 'list', 'Set metadata for an image'),
    f('no-cache', 'bool', 'Do not use cache when building the image'),
    f('pull', 'bool', 'Always attempt to pull a newer version of the image'),
    f('quiet', 'bool', 'Suppress the build output and print image ID on success', { short: 'q' }),
    f('tag', 'list', "Name and optionally a tag in the 'name:tag' format", { short: 't' }),
    f('target', 'string', 'Set the target build stage to build.'),
  ],
};
const history: CommandDef = {
  name: 'history', usage: '[OPTIONS] IMAGE', description: 'Show the history of an image', args: { min: 1, max: 1 },
  flags: [
    FORMAT,
    f('human', 'bool', 'Print sizes and dates in human readable format', { short: 'H', default: true }),
    NO_TRUNC, QUIET('image IDs'),
  ],
};
const imageInspect: CommandDef = { name: 'inspect', usage: '[OPTIONS] IMAGE [IMAGE...]', description: 'Display detailed information on one or more images', args: { min: 1 }, flags: [INSPECT_FORMAT] };
const image: CommandDef = {
  name: 'image', usage: 'COMMAND', description: 'Manage images',
  subcommands: [build, history, imp, imageInspect, load, imagesLs, prune('unused images', [f('all', 'bool', 'Remove all unused images, not just dangling ones', { short: 'a' })]), pull, push, imageRm, save, tag],
};

const network: CommandDef = {
  name: 'network', usage: 'COMMAND', description: 'Manage networks',
  subcommands: [
    { name: 'connect', usage: '[OPTIONS] NETWORK CONTAINER', description: 'Connect a container to a network', args: { min: 2, max: 2 },
      flags: [f('alias', 'list', 'Add network-scoped alias for the container'), f('ip', 'string', 'IPv4 address (e.g., "172.30.100.104")'), f('link', 'list', 'Add link to another container')] },
    { name: 'create', usage: '[OPTIONS] NETWORK', description: 'Create a network', args: { min: 1, max: 1 },
      flags: [f('driver', 'string', 'Driver to manage the Network', { short: 'd', default: 'bridge' }), f('subnet', 'list', 'Subnet in CIDR format that represents a network segment'),
        f('gateway', 'list', 'IPv4 or IPv6 Gateway for the master subnet'), f('internal', 'bool', 'Restrict external access to the network'), f('label', 'list', 'Set metadata on a network')] },
    { name: 'disconnect', usage: '[OPTIONS] NETWORK CONTAINER', description: 'Disconnect a container from a network', args: { min: 2, max: 2 }, flags: [FORCE('Force the container to disconnect from a network')] },
    { name: 'inspect', usage: '[OPTIONS] NETWORK [NETWORK...]', description: 'Display detailed information on one or more networks', args: { min: 1 }, flags: [INSPECT_FORMAT] },
    { name: 'ls', aliases: ['list'], usage: '[OPTIONS]', description: 'List networks', args: { max: 0 }, flags: [FILTER, FORMAT, NO_TRUNC, QUIET('network IDs')] },
    prune('all unused networks'),
    { name: 'rm', aliases: ['remove'], usage: 'NETWORK [NETWORK...]', description: 'Remove one or more networks', args: { min: 1 }, flags: [FORCE('Do not error if the network does not exist')] },
  ],
};

const volume: CommandDef = {
  name: 'volume', usage: 'COMMAND', description: 'Manage volumes',
  subcommands: [
    { name: 'create', usage: '[OPTIONS] [VOLUME]', description: 'Create a volume', args: { max: 1 },
      flags: [f('driver', 'string', 'Specify volume driver name', { short: 'd', default: 'local' }), f('label', 'list', 'Set metadata for a volume'), f('opt', 'list', 'Set driver specific options', { short: 'o' }), f('name', 'string', 'Specify volume name', { hidden: true })] },
    { name: 'inspect', usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Display detailed information on one or more volumes', args: { min: 1 }, flags: [INSPECT_FORMAT] },
    { name: 'ls', aliases: ['list'], usage: '[OPTIONS]', description: 'List volumes', args: { max: 0 }, flags: [FILTER, FORMAT, QUIET('volume names')] },
    prune('unused local volumes', [f('all', 'bool', 'Remove all unused volumes, not just anonymous ones', { short: 'a' })]),
    { name: 'rm', aliases: ['remove'], usage: '[OPTIONS] VOLUME [VOLUME...]', description: 'Remove one or more volumes', args: { min: 1 }, flags: [FORCE('Force the removal of one or more volumes')] },
  ],
};

const events: CommandDef = {
  name: 'events', usage: '[OPTIONS]', description: 'Get real time events from the server', args: { max: 0 },
  flags: [FILTER, FORMAT, f('since', 'string', 'Show all events created since timestamp'), f('until', 'string', 'Stream events until this timestamp')],
};

const system: CommandDef = {
  name: 'system', usage: 'COMMAND', description: 'Manage berth',
  subcommands: [
    { name: 'df', usage: '[OPTIONS]', description: 'Show berth disk usage', args: { max: 0 }, flags: [FORMAT, f('verbose', 'bool', 'Show detailed information on space usage', { short: 'v' })] },
    events,
    { name: 'info', usage: '[OPTIONS]', description: 'Display system-wide information', args: { max: 0 }, flags: [FORMAT] },
    prune('unused data', [f('all', 'bool', 'Remove all unused images not just dangling ones', { short: 'a' }), f('volumes', 'bool', 'Prune anonymous volumes')]),
  ],
};

const daemon: CommandDef = {
  name: 'daemon', usage: 'COMMAND', description: 'Run and manage the berth services on this host',
  subcommands: [
    { name: 'up', usage: '[OPTIONS]', description: 'Start the berth services', args: { max: 0 },
      flags: [f('split', 'bool', 'Run each service as its own process (default: one process hosting all)')] },
    { name: 'down', usage: '[OPTIONS]', description: 'Stop the berth services (containers keep running under their monitors)', args: { max: 0 } },
    { name: 'status', usage: '[OPTIONS]', description: 'Show the state and health of each berth service', args: { max: 0 }, flags: [FORMAT] },
  ],
};

const login: CommandDef = {
  name: 'login', usage: '[OPTIONS] [SERVER]', description: 'Log in to a registry', args: { max: 1 },
  flags: [f('username', 'string', 'Username', { short: 'u' }), f('password', 'string', 'Password', { short: 'p' }), f('password-stdin', 'bool', 'Take the password from stdin')],
};
const logout: CommandDef = { name: 'logout', usage: '[SERVER]', description: 'Log out from a registry', args: { max: 1 } };
const version: CommandDef = { name: 'version', usage: '[OPTIONS]', description: 'Show the berth version information', args: { max: 0 }, flags: [FORMAT] };
const info: CommandDef = { name: 'info', usage: '[OPTIONS]', description: 'Display system-wide information', args: { max: 0 }, flags: [FORMAT] };

/** The whole `berth` command line. Container and image commands also exist at the top level, as in Docker. */
export const BERTH: CommandDef = {
  name: 'berth',
  usage: '[OPTIONS] COMMAND',
  description: 'A container engine built from cooperating services',
  persistentFlags: [
    f('host', 'string', 'Engine socket to connect to', { short: 'H' }),
    f('log-level', 'string', 'Set the logging level ("debug", "info", "warn", "error", "fatal")', { short: 'l', default: 'info', hidden: false }),
    f('debug', 'bool', 'Enable debug mode', { short: 'D' }),
  ],
  subcommands: [
    RUN_COMMAND, exec, ps, { ...imagesLs, name: 'images', aliases: [] }, pull, push,
    attach, build, commit, cp, CREATE_COMMAND, diff, events, exportCmd, history, { ...imp, name: 'import' }, info, inspect, kill, load, login, logout, logs, pause, port,
    rename, restart, rm, { ...imageRm, name: 'rmi', aliases: [] }, save, start, stats, stop, tag, top, unpause, update, version, wait,
    { name: 'container', usage: 'COMMAND', description: 'Manage containers', subcommands: containerCommands },
    image, network, volume, system, daemon,
  ],
};

/** -f/--filter values: "key=value" each -> { key: [values] }. */
export function parseFilters(values: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw invalidFlagValue(FILTER, v, 'bad format of filter: expected name=value (e.g. status=running, label=tier=web)');
    (out[v.slice(0, eq).toLowerCase()] ??= []).push(v.slice(eq + 1));
  }
  return out;
}

/** logs --tail: "all" or a non-negative integer; -1 means all. */
export function parseTail(v: string): number {
  if (v === 'all' || v === '') return -1;
  if (!/^\d+$/.test(v)) throw invalidFlagValue({ name: 'tail', short: 'n' }, v, 'expected "all" or a number of lines');
  return Number(v);
}

/** stop/restart -t: seconds >= -1 (-1 waits forever). */
export function parseStopTime(v: number | undefined): number | undefined {
  if (v !== undefined && v < -1) throw invalidFlagValue({ name: 'time', short: 't' }, String(v), 'expected seconds >= 0, or -1 to wait forever');
  return v;
}

/** cp arguments: exactly one side must be CONTAINER:PATH. */
export function parseCopyArgs(src: string, dst: string): { direction: 'from' | 'to'; container: string; containerPath: string; localPath: string } {
  const split = (s: string): [string, string] | null => {
    if (s.startsWith('/') || s.startsWith('.') || s === '-') return null; // local paths may contain ":" only after a slash
    const i = s.indexOf(':');
    return i > 0 ? [s.slice(0, i), s.slice(i + 1)] : null;
  };
  const a = split(src);
  const b = split(dst);
  if (a && b) throw invalidFlagValue({ name: 'args' }, `${src} ${dst}`, 'copying between containers is not supported; one side must be a local path');
  if (!a && !b) throw invalidFlagValue({ name: 'args' }, `${src} ${dst}`, 'one side must be CONTAINER:PATH');
  // Docker: "source can not be empty" / "destination can not be empty" for "c1:" and "".
  const side = a ? a : b!;
  if (side[1] === '') throw invalidFlagValue({ name: 'args' }, a ? src : dst, `${a ? 'source' : 'destination'} can not be empty: give a path in the container (CONTAINER:PATH)`);
  const local = a ? dst : src;
  if (local === '') throw invalidFlagValue({ name: 'args' }, local, `${a ? 'destination' : 'source'} can not be empty`);
  if (a) return { direction: 'from', container: a[0], containerPath: a[1], localPath: dst };
  return { direction: 'to', container: b![0], containerPath: b![1], localPath: src };
}
