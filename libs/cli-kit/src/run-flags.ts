// `berth run` / `berth create`: the flag table and the two commands, with
// nothing that parses or checks a value. The command tree (commands.ts) and
// so every `berth` start, `version` and `--help` included, needs these;
// run-request.ts and the *-flags.ts modules, which translate the flags and
// pull @berth/container-config, cri-log, seccomp and node:net, are loaded
// only when a run/create request is built. Each of those modules re-exports
// its own part of the table from here.
import type { CommandDef, FlagDef } from './command';
import { MOUNT_FLAG } from './mount-flag';

export const HEALTH_FLAGS: FlagDef[] = [
  { name: 'health-cmd', kind: 'string', description: 'Command to run to check health' },
  { name: 'health-interval', kind: 'string', valueName: 'duration', description: 'Time between running the check (ms|s|m|h) (default 0s)' },
  { name: 'health-timeout', kind: 'string', valueName: 'duration', description: 'Maximum time to allow one check to run (ms|s|m|h) (default 0s)' },
  { name: 'health-start-period', kind: 'string', valueName: 'duration', description: 'Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)' },
  { name: 'health-start-interval', kind: 'string', valueName: 'duration', description: 'Time between running the check during the start period (ms|s|m|h) (default 0s)' },
  { name: 'health-retries', kind: 'int', description: 'Consecutive failures needed to report unhealthy' },
  { name: 'no-healthcheck', kind: 'bool', description: 'Disable any container-specified HEALTHCHECK' },
];

export const RESOURCE_FLAGS: FlagDef[] = [
  { name: 'memory-reservation', kind: 'string', valueName: 'bytes', description: 'Memory soft limit' },
  { name: 'memory-swappiness', kind: 'int', description: 'Tune container memory swappiness (0 to 100)', default: -1 },
  { name: 'kernel-memory', kind: 'string', valueName: 'bytes', description: 'Kernel memory limit (accepted and ignored, as by Docker on current kernels)' },
  { name: 'oom-kill-disable', kind: 'bool', description: 'Disable OOM Killer' },
  { name: 'cpu-period', kind: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) period' },
  { name: 'cpu-quota', kind: 'int', description: 'Limit CPU CFS (Completely Fair Scheduler) quota' },
  { name: 'cpuset-mems', kind: 'string', description: 'MEMs in which to allow execution (0-3, 0,1)' },
  { name: 'blkio-weight', kind: 'int', valueName: 'uint16', description: 'Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)' },
  { name: 'blkio-weight-device', kind: 'list', description: 'Block IO weight (relative device weight)' },
  { name: 'device-read-bps', kind: 'list', description: 'Limit read rate (bytes per second) from a device' },
  { name: 'device-write-bps', kind: 'list', description: 'Limit write rate (bytes per second) to a device' },
  { name: 'device-read-iops', kind: 'list', description: 'Limit read rate (IO per second) from a device' },
  { name: 'device-write-iops', kind: 'list', description: 'Limit write rate (IO per second) to a device' },
  { name: 'shm-size', kind: 'string', valueName: 'bytes', description: 'Size of /dev/shm (default 64m)' },
];

export const NAMESPACE_FLAGS: FlagDef[] = [
  { name: 'ipc', kind: 'string', description: 'IPC mode to use (private, shareable, host, container:<name|id>)' },
  { name: 'pid', kind: 'string', description: 'PID namespace to use (host, container:<name|id>)' },
  { name: 'uts', kind: 'string', description: 'UTS namespace to use (host)' },
  { name: 'sysctl', kind: 'list', description: 'Sysctl options (namespaced ones: net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)' },
  { name: 'dns', kind: 'list', description: 'Set custom DNS servers' },
  { name: 'dns-search', kind: 'list', description: 'Set custom DNS search domains' },
  { name: 'dns-option', kind: 'list', description: 'Set DNS options' },
  { name: 'group-add', kind: 'list', description: 'Add additional groups to join' },
  { name: 'oom-score-adj', kind: 'int', description: "Tune host's OOM preferences (-1000 to 1000)" },
];

export const CLIENT_RUN_FLAGS: FlagDef[] = [
  { name: 'label-file', kind: 'list', description: 'Read in a line delimited file of labels' },
  { name: 'expose', kind: 'list', description: 'Expose a port or a range of ports' },
  { name: 'network-alias', kind: 'list', description: 'Add network-scoped alias for the container' },
  { name: 'add-host', kind: 'list', description: 'Add a custom host-to-IP mapping (host:ip)' },
  { name: 'volumes-from', kind: 'list', description: 'Mount volumes from the specified container(s)' },
  { name: 'attach', short: 'a', kind: 'list', description: 'Attach to STDIN, STDOUT or STDERR' },
  { name: 'ip', kind: 'string', description: 'IPv4 address (e.g., 172.30.100.104) on the user-defined network given by --network' },
  { name: 'cgroup-parent', kind: 'string', description: "Optional parent cgroup for the container, nested inside berth's cgroup parent" },
  { name: 'storage-opt', kind: 'list', description: 'Storage driver options for the container (overlay: size needs xfs with pquota, which berth does not use)' },
  { name: 'mac-address', kind: 'string', description: 'Container MAC address (e.g., 92:d0:c6:0a:29:33) on the network given by --network' },
  { name: 'publish-all', short: 'P', kind: 'bool', description: 'Publish all exposed ports to random ports' },
  { name: 'platform', kind: 'string', description: 'Set platform if server is multi-platform capable (berth runs the host platform only)' },
  { name: 'cidfile', kind: 'string', description: 'Write the container ID to the file' },
  { name: 'quiet', short: 'q', kind: 'bool', description: 'Suppress the pull output' },
  { name: 'detach-keys', kind: 'string', description: 'Override the key sequence for detaching a container' },
  { name: 'sig-proxy', kind: 'bool', description: 'Proxy received signals to the process', default: true },
];

export const ULIMIT_FLAG: FlagDef = { name: 'ulimit', kind: 'list', description: 'Ulimit options (NAME=SOFT[:HARD], as in nofile=1024:2048)' };

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
