import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseCommandLine, renderHelp, type CommandDef } from './command';
import { buildRunRequest, RUN_COMMAND, type RunRequest } from './run-request';

const ROOT: CommandDef = { name: 'berth', usage: '[OPTIONS] COMMAND', description: 'berth', subcommands: [RUN_COMMAND] };
const ENV: Record<string, string> = { HOME: '/root', FROM_ENV: 'yes' };
const FILES: Record<string, string> = {
  'app.env': '# comment\n\nA=1\n  B=two words \nFROM_ENV\nUNSET_VAR\nC=has=equals\n',
  'bad-space.env': 'MY VAR=1\n',
  'bad-empty.env': '=novar\n',
};
function run(argv: string): RunRequest {
  const p = parseCommandLine(ROOT, ['run', ...split(argv)]);
  return buildRunRequest(p, {
    lookupEnv: (k) => ENV[k],
    readFile: (f) => { const c = FILES[f]; if (c === undefined) throw new Error(`ENOENT: ${f}`); return c; },
    cwd: '/home/me/proj',
  });
}
// Whitespace split with '' for an explicit empty string.
function split(s: string): string[] {
  return s.match(/'[^']*'|\S+/g)!.map((t) => (t.startsWith("'") ? t.slice(1, -1) : t));
}
function err(argv: string): { message: string; field: string | undefined } {
  try { run(argv); } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return { message: (e as Error).message, field: (e as { field?: string }).field };
  }
  throw new Error(`expected "${argv}" to fail`);
}

describe('run flag syntax', () => {
  it('defaults', () => {
    const r = run('alpine');
    expect(r.config).toMatchObject({ image: 'alpine', cmd: null, entrypoint: null, env: [], tty: false, openStdin: false, attachStdout: true });
    expect(r.hostConfig).toMatchObject({ networkMode: 'bridge', restartPolicy: { name: 'no', maximumRetryCount: 0 }, memory: 0, autoRemove: false });
    expect(r).toMatchObject({ name: '', pull: 'missing', detach: false });
  });
  it('combined short flags -it, -itd and value-taking shorthand at the end', () => {
    expect(run('-it alpine sh').config).toMatchObject({ tty: true, openStdin: true, attachStdin: true, cmd: ['sh'] });
    const d = run('-itd alpine');
    expect([d.detach, d.config.tty, d.config.openStdin, d.config.attachStdin, d.config.attachStdout]).toEqual([true, true, true, false, false]);
    expect(run('-dp 8080:80 nginx').hostConfig.portBindings).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 }]);
    expect(run('-eA=1 alpine').config.env).toEqual(['A=1']);
  });
  it('--flag=value and --flag value; bool=false', () => {
    expect(run('--name=web alpine').name).toBe('web');
    expect(run('--name web alpine').name).toBe('web');
    expect(run('--rm=false alpine').hostConfig.autoRemove).toBe(false);
    expect(run('--rm alpine').hostConfig.autoRemove).toBe(true);
  });
  it('flags stop at the image: the rest is the command, flags included', () => {
    const r = run('--rm alpine ls -l --name x');
    expect(r.config.cmd).toEqual(['ls', '-l', '--name', 'x']);
    expect(r.name).toBe('');
  });
  it('-- ends flags', () => {
    expect(run('-d -- alpine -x').config.cmd).toEqual(['-x']);
  });
  it('repeatable flags accumulate', () => {
    expect(run('-e A=1 -e B=2 --env C=3 alpine').config.env).toEqual(['A=1', 'B=2', 'C=3']);
    expect(run('-l a=1 --label b alpine').config.labels).toEqual({ a: '1', b: '' });
  });
  it('syntax errors name the flag', () => {
    expect(err('--nope alpine').message).toMatch(/^unknown flag: --nope/);
    expect(err('-x alpine').message).toMatch(/^unknown shorthand flag: 'x' in -x/);
    expect(err('-iX alpine').message).toMatch(/^unknown shorthand flag: 'X' in -iX/);
    expect(run('alpine --name').config.cmd).toEqual(['--name']); // after the image it is the command
    expect(() => parseCommandLine(ROOT, ['run', '--name'])).toThrow('flag needs an argument: --name');
    expect(() => parseCommandLine(ROOT, ['run', '-e'])).toThrow("flag needs an argument: 'e' in -e");
    expect(() => parseCommandLine(ROOT, ['run', '-d'])).toThrow(/^"berth run" requires at least 1 argument\./);
    expect(err('--rm=maybe alpine').message).toBe('invalid argument "maybe" for "--rm": expected true or false');
    expect(err('--cpu-shares x alpine').message).toBe('invalid argument "x" for "-c, --cpu-shares": expected an integer');
  });
});

describe('run flag values', () => {
  it('env: KEY alone copies from the environment, env files', () => {
    expect(run('-e FROM_ENV -e UNSET_VAR -e X=1 alpine').config.env).toEqual(['FROM_ENV=yes', 'UNSET_VAR', 'X=1']);
    expect(run('--env-file app.env -e A=override alpine').config.env).toEqual(['A=1', 'B=two words ', 'FROM_ENV=yes', 'C=has=equals', 'A=override']);
  });
  it('entrypoint: given, and "" resets', () => {
    expect(run('--entrypoint sh alpine -c id').config).toMatchObject({ entrypoint: ['sh'], cmd: ['-c', 'id'] });
    expect(run("--entrypoint '' alpine").config.entrypoint).toEqual(['']);
    expect(run('--entrypoint= alpine').config.entrypoint).toEqual(['']);
  });
  it('memory units, swap, cpus, shares, cpuset, pids', () => {
    const r = run('-m 64m --memory-swap 1g --cpus 1.5 --cpu-shares 512 --cpuset-cpus 0-3,5 --pids-limit 100 alpine');
    expect(r.hostConfig).toMatchObject({ memory: 64 * 1024 ** 2, memorySwap: 1024 ** 3, nanoCpus: 1_500_000_000, cpuShares: 512, cpusetCpus: '0-3,5', pidsLimit: 100 });
    expect(run('-m 1g alpine').hostConfig.memory).toBe(1073741824);
    expect(run('-m 10MB alpine').hostConfig.memory).toBe(10 * 1024 ** 2);
    expect(run('-m 1.5g alpine').hostConfig.memory).toBe(1.5 * 1024 ** 3);
    expect(run('-m 7340032 alpine').hostConfig.memory).toBe(7340032);
    expect(run('-m 64m --memory-swap -1 alpine').hostConfig.memorySwap).toBe(-1);
    expect(run('--cpus 0.000000001 alpine').hostConfig.nanoCpus).toBe(1);
    expect(run('--pids-limit -1 alpine').hostConfig.pidsLimit).toBe(-1);
  });
  it('ports', () => {
    const p = (s: string) => run(`-p ${s} nginx`).hostConfig.portBindings;
    expect(p('80')).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 0 }]);
    expect(p('127.0.0.1:8080:80/udp')).toEqual([{ containerPort: 80, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 8080 }]);
    expect(p('127.0.0.1::80')).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0 }]);
    expect(p('[::1]:8080:80')).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '::1', hostPort: 8080 }]);
    expect(p('8000-8001:9000-9001/sctp').map((b) => `${b.hostPort}->${b.containerPort}/${b.protocol}`)).toEqual(['8000->9000/sctp', '8001->9001/sctp']);
    expect(p('7000-7001').map((b) => b.containerPort)).toEqual([7000, 7001]);
    // A host range for one container port: the networks service takes the first free one.
    expect(p('127.0.0.1:8000-8010:80')).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8000, hostPortEnd: 8010 }]);
    expect(run('-p 80 -p 8080:80 nginx').config.exposedPorts).toEqual(['80/tcp']);
  });
  it('volumes and tmpfs', () => {
    const m = run('-v /srv/data:/data:ro -v cache:/cache -v /anon -v ./rel:/rel:rprivate --tmpfs /run:size=64m,mode=1777 alpine').hostConfig.mounts;
    expect(m).toEqual([
      { type: 'bind', source: '/srv/data', target: '/data', readOnly: true, options: [] },
      { type: 'volume', source: 'cache', target: '/cache', readOnly: false, options: [] },
      { type: 'volume', source: '', target: '/anon', readOnly: false, options: [] },
      { type: 'bind', source: '/home/me/proj/rel', target: '/rel', readOnly: false, options: ['rprivate'] },
      { type: 'tmpfs', source: '', target: '/run', readOnly: false, options: ['size=64m', 'mode=1777'] },
    ]);
  });
  it('--privileged, --device, --device-cgroup-rule, --cgroupns', () => {
    const r = run("--privileged --device /dev/kmsg --device /dev/sda:/dev/xvda:r --device-cgroup-rule 'c 1:11 rwm' --cgroupns host alpine");
    expect(r.hostConfig).toMatchObject({
      privileged: true,
      devices: [{ pathOnHost: '/dev/kmsg', pathInContainer: '', cgroupPermissions: '' }, { pathOnHost: '/dev/sda', pathInContainer: '/dev/xvda', cgroupPermissions: 'r' }],
      deviceCgroupRules: ['c 1:11 rwm'],
      cgroupnsMode: 'host',
    });
    expect(run('alpine').hostConfig).toMatchObject({ privileged: false, devices: [], deviceCgroupRules: [], cgroupnsMode: '' });
    expect(err('--device dev/kmsg alpine')).toEqual({ field: 'device', message: 'invalid argument "dev/kmsg" for "--device": the host device "dev/kmsg" is not an absolute path' });
    expect(err('--device /dev/kmsg:rwx alpine').message).toMatch(/"\/dev\/kmsg:rwx" for "--device": permissions are some of r/);
    expect(err("--device-cgroup-rule 'c 1:11' alpine").message).toMatch(/"c 1:11" for "--device-cgroup-rule": expected "TYPE MAJOR:MINOR ACCESS"/);
    expect(err('--cgroupns shared alpine').message).toBe('invalid argument "shared" for "--cgroupns": expected "private" or "host"');
  });
  it('restart policies', () => {
    expect(run('--restart always alpine').hostConfig.restartPolicy).toEqual({ name: 'always', maximumRetryCount: 0 });
    expect(run('--restart unless-stopped alpine').hostConfig.restartPolicy.name).toBe('unless-stopped');
    expect(run('--restart on-failure:5 alpine').hostConfig.restartPolicy).toEqual({ name: 'on-failure', maximumRetryCount: 5 });
    expect(run('--restart on-failure alpine').hostConfig.restartPolicy).toEqual({ name: 'on-failure', maximumRetryCount: 0 });
  });
  it('capabilities normalised, network forms, userns, user, hostname, labels, stop options', () => {
    const r = run('--cap-add net_admin --cap-add CAP_SYS_TIME --cap-drop all --network host --userns auto -u app:staff --hostname box.local --stop-timeout 30 --stop-signal quit --read-only --init --pull never alpine');
    expect(r.hostConfig).toMatchObject({ capAdd: ['CAP_NET_ADMIN', 'CAP_SYS_TIME'], capDrop: ['ALL'], networkMode: 'host', usernsMode: 'auto', readonlyRootfs: true, init: true });
    expect(r.config).toMatchObject({ user: 'app:staff', hostname: 'box.local', stopTimeout: 30, stopSignal: 'SIGQUIT' });
    expect(r.pull).toBe('never');
    expect(run('--network none alpine').hostConfig.networkMode).toBe('none');
    expect(run('--network container:web alpine').hostConfig.networkMode).toBe('container:web');
    expect(run('--network my-net alpine').hostConfig.networkMode).toBe('my-net');
    expect(run('--net host alpine').hostConfig.networkMode).toBe('host');
    expect(run('-u 1000 alpine').config.user).toBe('1000');
  });
  it('--log-driver and --log-opt: stored as typed, defaults when absent', () => {
    expect(run('alpine').hostConfig.logConfig).toEqual({ type: '', config: {} });
    expect(run('--log-driver json-file --log-opt max-size=1k --log-opt max-file=2 alpine').hostConfig.logConfig).toEqual({ type: 'json-file', config: { 'max-size': '1k', 'max-file': '2' } });
  });
  it('image references', () => {
    expect(run('registry.example.com:5000/team/app:1.2@sha256:' + 'a'.repeat(64)).config.image).toMatch(/^registry/);
    expect(err('Alpine').message).toBe('invalid reference format "Alpine": repository name must be lowercase');
    expect(err('alp!ne').message).toMatch(/invalid reference format/);
  });
});

// Every validation error: flag label and the accepted form.
const ERRORS: [string, string, string][] = [
  ['-m 12x alpine', 'memory', 'invalid argument "12x" for "-m, --memory": expected a number with an optional unit b, k, m, g (64m, 1g, 512k)'],
  ['-m 1k alpine', 'memory', 'invalid argument "1k" for "-m, --memory": the minimum memory limit is 6m'],
  ['--memory-swap 1g alpine', 'memory-swap', 'invalid argument "1g" for "--memory-swap": set --memory too: the swap limit is memory plus swap'],
  ['-m 1g --memory-swap 512m alpine', 'memory-swap', 'invalid argument "512m" for "--memory-swap": must be at least --memory (it is memory plus swap) or -1'],
  ['-m 1g --memory-swap lots alpine', 'memory-swap', 'invalid argument "lots" for "--memory-swap": expected a number with an optional unit b, k, m, g, or -1 for unlimited swap'],
  ['--cpus 1,5 alpine', 'cpus', 'invalid argument "1,5" for "--cpus": expected a decimal number of CPUs such as 0.5, 1 or 2.25'],
  ['--cpus 0 alpine', 'cpus', 'invalid argument "0" for "--cpus": expected a number of CPUs greater than 0'],
  ['--cpus 0.0000000001 alpine', 'cpus', 'invalid argument "0.0000000001" for "--cpus": value is too precise: at most 9 decimal places'],
  ['--cpu-shares 300000 alpine', 'cpu-shares', 'invalid argument "300000" for "-c, --cpu-shares": expected 2-262144 (0 = default 1024)'],
  ['--cpuset-cpus 3-1 alpine', 'cpuset-cpus', 'invalid argument "3-1" for "--cpuset-cpus": expected a list of CPU numbers and ranges such as 0-3,5'],
  ['--pids-limit -5 alpine', 'pids-limit', 'invalid argument "-5" for "--pids-limit": expected a positive number, or -1 / 0 for unlimited'],
  ['-p 70000 nginx', 'publish', 'invalid argument "70000" for "-p, --publish": container port 70000 is out of range 1-65535; expected [ip:][hostPort:]containerPort[/tcp|udp|sctp], e.g. 8080:80, 127.0.0.1:8080:80/udp, 8000-8001:80-81'],
  ['-p 80/icmp nginx', 'publish', 'invalid argument "80/icmp" for "-p, --publish": invalid protocol "icmp"; expected [ip:][hostPort:]containerPort[/tcp|udp|sctp], e.g. 8080:80, 127.0.0.1:8080:80/udp, 8000-8001:80-81'],
  ['-p 1.2.3:80:80 nginx', 'publish', 'invalid argument "1.2.3:80:80" for "-p, --publish": invalid IP address "1.2.3"; expected [ip:][hostPort:]containerPort[/tcp|udp|sctp], e.g. 8080:80, 127.0.0.1:8080:80/udp, 8000-8001:80-81'],
  ['-p a:b:c:d nginx', 'publish', 'invalid argument "a:b:c:d" for "-p, --publish": too many colons; expected [ip:][hostPort:]containerPort[/tcp|udp|sctp], e.g. 8080:80, 127.0.0.1:8080:80/udp, 8000-8001:80-81'],
  ['-p 8000-8002:80-81 nginx', 'publish', 'invalid argument "8000-8002:80-81" for "-p, --publish": host and container port ranges differ in size; expected [ip:][hostPort:]containerPort[/tcp|udp|sctp], e.g. 8080:80, 127.0.0.1:8080:80/udp, 8000-8001:80-81'],
  ['-p http nginx', 'publish', 'invalid argument "http" for "-p, --publish": invalid container port "http"; expected [ip:][hostPort:]containerPort[/tcp|udp|sctp], e.g. 8080:80, 127.0.0.1:8080:80/udp, 8000-8001:80-81'],
  ['-v data alpine', 'volume', 'invalid argument "data" for "-v, --volume": container path "data" is not absolute; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v /a:b alpine', 'volume', 'invalid argument "/a:b" for "-v, --volume": container path "b" is not absolute; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v /a:/ alpine', 'volume', 'invalid argument "/a:/" for "-v, --volume": the container path cannot be "/"; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v /a:/b:rx alpine', 'volume', 'invalid argument "/a:/b:rx" for "-v, --volume": invalid mode "rx" (accepted: ro, rw, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate); expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v /a:/b:ro,rw alpine', 'volume', 'invalid argument "/a:/b:ro,rw" for "-v, --volume": both ro and rw given; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v my$vol:/b alpine', 'volume', 'invalid argument "my$vol:/b" for "-v, --volume": "my$vol" includes invalid characters for a local volume name, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed; to bind a host directory use an absolute path; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v /a:/b:nocopy alpine', 'volume', 'invalid argument "/a:/b:nocopy" for "-v, --volume": nocopy applies to volumes, not bind mounts; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v vol:/b:rshared alpine', 'volume', 'invalid argument "vol:/b:rshared" for "-v, --volume": propagation modes apply to bind mounts, not volumes; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v /a:/b:c:d alpine', 'volume', 'invalid argument "/a:/b:c:d" for "-v, --volume": too many colons; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v ~/x:/b alpine', 'volume', 'invalid argument "~/x:/b" for "-v, --volume": "~" is not expanded; use an absolute path; expected /host/path:/container/path[:ro|rw], volume-name:/container/path[:ro|rw], or /container/path'],
  ['-v /a:/x -v /b:/x alpine', 'volume', 'duplicate mount point: /x'],
  ['--tmpfs run alpine', 'tmpfs', 'invalid argument "run" for "--tmpfs": expected an absolute container path other than "/", optionally followed by :size=64m,mode=1777'],
  ['--tmpfs /run:size=big alpine', 'tmpfs', 'invalid argument "/run:size=big" for "--tmpfs": invalid tmpfs option "size=big" (accepted: size=<bytes>, mode=<octal>, uid=, gid=, nr_inodes=, ro, rw, noexec, nosuid, nodev...)'],
  ['-e =x alpine', 'env', 'invalid argument "=x" for "-e, --env": expected KEY=VALUE or KEY (the variable name is empty)'],
  ['--env-file missing.env alpine', 'env-file', 'invalid argument "missing.env" for "--env-file": cannot read the file: ENOENT: missing.env'],
  ['--env-file bad-space.env alpine', 'env-file', 'invalid argument "bad-space.env" for "--env-file": line 1: variable "MY VAR" contains whitespace'],
  ['--env-file bad-empty.env alpine', 'env-file', 'invalid argument "bad-empty.env" for "--env-file": line 1: no variable name in "=novar"'],
  ['-l =v alpine', 'label', 'invalid argument "=v" for "-l, --label": expected KEY=VALUE (the label name is empty)'],
  ['-w rel alpine', 'workdir', 'invalid argument "rel" for "-w, --workdir": the working directory must be an absolute path'],
  ['-u a:b:c alpine', 'user', 'invalid argument "a:b:c" for "-u, --user": expected USER or USER:GROUP, each a name or a numeric id'],
  ['-u :grp alpine', 'user', 'invalid argument ":grp" for "-u, --user": expected USER or USER:GROUP, each a name or a numeric id'],
  ['--hostname -bad- alpine', 'hostname', 'invalid argument "-bad-" for "--hostname": expected a hostname: letters, digits and "-", dot-separated labels of at most 63 characters'],
  ['--name x alpine', 'name', 'invalid argument "x" for "--name": expected [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at least two characters)'],
  ['--restart sometimes alpine', 'restart', 'invalid argument "sometimes" for "--restart": expected no, always, unless-stopped or on-failure[:max-retries]'],
  ['--restart always:3 alpine', 'restart', 'invalid argument "always:3" for "--restart": maximum retry count cannot be used with restart policy "always"; expected no, always, unless-stopped or on-failure[:max-retries]'],
  ['--restart on-failure:x alpine', 'restart', 'invalid argument "on-failure:x" for "--restart": maximum retry count must be a non-negative integer; expected no, always, unless-stopped or on-failure[:max-retries]'],
  ['--restart always --rm alpine', 'restart', 'conflicting options: --restart and --rm; a container removed on exit cannot be restarted'],
  ['--cap-add FLY alpine', 'cap-add', 'invalid argument "FLY" for "--cap-add": unknown capability; expected a Linux capability name such as NET_ADMIN or CAP_NET_ADMIN, or ALL'],
  ['--cap-drop cap_nope alpine', 'cap-drop', 'invalid argument "cap_nope" for "--cap-drop": unknown capability; expected a Linux capability name such as NET_ADMIN or CAP_NET_ADMIN, or ALL'],
  ['--network bad/net alpine', 'network', 'invalid argument "bad/net" for "--network": expected bridge, none, host, container:<name|id> or a network name'],
  ['--network container: alpine', 'network', 'invalid argument "container:" for "--network": container name or id missing or invalid; expected bridge, none, host, container:<name|id> or a network name'],
  ['--network container:web -p 80 alpine', 'publish', 'conflicting options: port publishing and the container type network mode'],
  ['--network container:web --hostname h alpine', 'hostname', 'conflicting options: hostname and the container type network mode'],
  ['--userns private alpine', 'userns', 'invalid argument "private" for "--userns": expected host or auto'],
  ['--stop-timeout -2 alpine', 'stop-timeout', 'invalid argument "-2" for "--stop-timeout": expected seconds >= 0, or -1 to wait forever'],
  ['--stop-signal "" alpine', 'stop-signal', 'invalid argument """" for "--stop-signal": expected a signal name (SIGTERM, TERM) or number'],
  ['--log-driver journald alpine', 'log-driver', 'invalid argument "journald" for "--log-driver": log driver "journald" is not supported: berth keeps each container\'s log in k8s-file format (json-file is accepted as another name for it)'],
  ['--log-opt max-size alpine', 'log-opt', 'invalid argument "max-size" for "--log-opt": expected key=value (max-size=10m, max-file=3)'],
  ['--log-opt max-size=lots alpine', 'log-opt', 'invalid argument "max-size=lots" for "--log-opt": invalid log opt max-size "lots": expected a size such as 512k, 10m or 1g, or -1 for no rotation'],
  ['--log-opt compress=true alpine', 'log-opt', 'invalid argument "compress=true" for "--log-opt": unknown log opt "compress" for the k8s-file log driver: expected max-size, max-file or path'],
  ['--pull sometimes alpine', 'pull', 'invalid argument "sometimes" for "--pull": expected always, missing or never'],
];

describe('every run validation error names the flag and the accepted form', () => {
  for (const [argv, field, message] of ERRORS) {
    it(argv, () => expect(err(argv)).toEqual({ message, field }));
  }
});

describe('help', () => {
  it('run --help is recognised anywhere before the image and lists every flag', () => {
    const p = parseCommandLine(ROOT, ['run', '-d', '--help']);
    expect(p.help).toBe(true);
    const h = renderHelp(p.command, p.path);
    expect(h).toContain('Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]');
    expect(h).toMatch(/-m, --memory bytes\s+Memory limit/);
    expect(h).toMatch(/--restart string\s+Restart policy .* \(default "no"\)/);
    expect(h).not.toContain('--net ');
  });
});
