// run/create flags on the real stack (issue 16): each one reaches the kernel,
// read back from inside the container, or is refused by name with why.
//  - cgroup limits: --memory-reservation, --memory-swappiness,
//    --oom-kill-disable, --cpu-period/--cpu-quota, --cpuset-mems,
//    --device-read/write-bps/iops (the container's own cgroup files, through
//    its cgroup namespace); --kernel-memory accepted with a warning;
//    --blkio-weight where the kernel has no weight files (no BFQ) fails the
//    start saying so; a path that is not a block device is refused at create
//    and leaves nothing; the same fields through the Docker API (dockerode);
//  - --sysctl (namespaced only, the others refused by key), --ipc/--pid/--uts
//    host and container:, --dns/--dns-search/--dns-option, --group-add,
//    --oom-score-adj, read back from /proc and /etc inside the container;
//  - --ulimit (/proc/self/limits), also as Docker's Ulimits; --mount bind
//    (readonly), volume and tmpfs (tmpfs-size);
//  - what the client settles: --label-file, --expose, --network-alias (the
//    container's name on its network), --platform, --cidfile, --quiet,
//    --sig-proxy, --detach-keys.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 202; // 10.219.202.0/24: this file's
const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

/** A block device of this host (virtio, SCSI or loop) and its major:minor. */
function blockDevice(): { path: string; dev: string } {
  for (const path of ['/dev/vda', '/dev/sda', '/dev/nvme0n1', '/dev/xvda', '/dev/loop0']) {
    if (!existsSync(path)) continue;
    const st = statSync(path);
    if (!st.isBlockDevice()) continue;
    const rdev = BigInt(st.rdev);
    const major = Number(((rdev >> 32n) & 0xfffff000n) | ((rdev >> 8n) & 0xfffn));
    const minor = Number(((rdev >> 12n) & 0xffffff00n) | (rdev & 0xffn));
    return { path, dev: `${major}:${minor}` };
  }
  throw new Error('no block device on this host for the I/O limit tests');
}

describe('run flags', () => {
  let s: CliStack;
  let docker: Docker;
  const berth = (...args: string[]) => s.berth(args);
  const names: string[] = [];
  let n = 0;
  const nameOf = (what: string) => {
    const name = `bt-flags-${what}-${process.pid}-${n++}`;
    names.push(name);
    return name;
  };
  /** berth run --rm --network none [flags] busybox sh -c script: stdout lines. */
  const inside = async (flags: string[], script: string): Promise<string[]> => {
    const r = await berth('run', '--rm', '--network', 'none', ...flags, 'busybox', 'sh', '-c', script);
    expectOk(r);
    return r.stdout.trim().split('\n');
  };

  beforeAll(async () => {
    s = await startCliStack(false, SUBNET);
    docker = new Docker({ socketPath: join(s.paths.run, 'docker.sock') });
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 180_000);

  afterAll(async () => {
    if (s) {
      for (const name of names) await berth('rm', '-f', name);
      await s.stop();
    }
  }, 180_000);

  describe('cgroup limits', () => {
    const MEM = '/sys/fs/cgroup/memory';
    const CPU = '/sys/fs/cgroup/cpu';

    it('--memory-reservation, --memory-swappiness and --oom-kill-disable set the memory cgroup', async () => {
      const out = await inside(['--memory', '64m', '--memory-reservation', '32m', '--memory-swappiness', '7', '--oom-kill-disable'],
        `cat ${MEM}/memory.soft_limit_in_bytes ${MEM}/memory.swappiness; grep oom_kill_disable ${MEM}/memory.oom_control`);
      expect(out).toEqual([String(32 * 1024 * 1024), '7', 'oom_kill_disable 1']);
      const r = await berth('run', '--memory', '16m', '--memory-reservation', '32m', 'busybox', 'true');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('--memory-reservation');
      expect((await berth('run', '--memory-swappiness', '101', 'busybox', 'true')).stderr).toContain('from 0 to 100');
    });

    it('--cpu-period and --cpu-quota set CFS bandwidth; --cpus with them is refused', async () => {
      expect(await inside(['--cpu-period', '50000', '--cpu-quota', '25000'], `cat ${CPU}/cpu.cfs_period_us ${CPU}/cpu.cfs_quota_us`)).toEqual(['50000', '25000']);
      const r = await berth('run', '--cpus', '1', '--cpu-quota', '50000', 'busybox', 'true');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('conflicting options: --cpus and --cpu-period/--cpu-quota');
      expect((await berth('run', '--cpu-period', '10', 'busybox', 'true')).stderr).toContain('between 1000 and 1000000');
    });

    it('--cpuset-mems sets cpuset.mems', async () => {
      expect(await inside(['--cpuset-mems', '0'], 'cat /sys/fs/cgroup/cpuset/cpuset.mems')).toEqual(['0']);
    });

    it('--device-read/write-bps/iops set the block I/O throttles of the named device', async () => {
      const { path, dev } = blockDevice();
      const out = await inside(['--device-read-bps', `${path}:1mb`, '--device-write-bps', `${path}:2mb`, '--device-read-iops', `${path}:100`, '--device-write-iops', `${path}:200`],
        'cd /sys/fs/cgroup/blkio; cat blkio.throttle.read_bps_device blkio.throttle.write_bps_device blkio.throttle.read_iops_device blkio.throttle.write_iops_device');
      expect(out).toEqual([`${dev} 1048576`, `${dev} 2097152`, `${dev} 100`, `${dev} 200`]);
    });

    it('a path that is not a block device is refused at create, naming it, and nothing is left', async () => {
      const name = nameOf('notblock');
      const r = await berth('create', '--name', name, '--device-read-bps', '/dev/null:1mb', 'busybox', 'true');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('host_config.blkio_device_read_bps[0].path');
      expect(r.stderr).toContain('not a block device');
      expect((await berth('ps', '-a', '--filter', `name=${name}`, '-q')).stdout).toBe('');
      expect((await berth('run', '--device-write-iops', 'sda:x', 'busybox', 'true')).stderr).toContain('--device-write-iops');
    });

    it('--blkio-weight: set where the kernel has weights, else the start says why', async () => {
      const weightFile = ['blkio.weight', 'blkio.bfq.weight'].find((f) => existsSync(`/sys/fs/cgroup/blkio/${f}`));
      const name = nameOf('weight');
      expectOk(await berth('create', '--name', name, '--network', 'none', '--blkio-weight', '300', 'busybox', 'sh', '-c', `cat /sys/fs/cgroup/blkio/${weightFile ?? 'blkio.weight'}`));
      const r = await berth('start', '-a', name);
      if (weightFile) {
        expectOk(r);
        expect(r.stdout.trim()).toBe('300');
      } else {
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/blkio\.weight.*BFQ|bfq/);
      }
      expect((await berth('run', '--blkio-weight', '5', 'busybox', 'true')).stderr).toContain('from 10 to 1000');
    });

    it('update changes --memory-reservation, --cpu-period/--cpu-quota and --cpuset-mems of a running container; --blkio-weight where the kernel has weights; conflicts are refused; the Docker API maps them', async () => {
      const name = nameOf('update');
      expectOk(await berth('run', '-d', '--name', name, '--network', 'none', '--memory', '64m', 'busybox', 'sleep', '1000'));
      expectOk(await berth('update', '--memory-reservation', '24m', '--cpu-period', '50000', '--cpu-quota', '20000', '--cpuset-mems', '0', name));
      const read = async () => (await berth('exec', name, 'cat', `${MEM}/memory.soft_limit_in_bytes`, `${CPU}/cpu.cfs_period_us`, `${CPU}/cpu.cfs_quota_us`, '/sys/fs/cgroup/cpuset/cpuset.mems')).stdout.trim().split('\n');
      expect(await read()).toEqual([String(24 << 20), '50000', '20000', '0']);
      expect(JSON.parse((await berth('inspect', name)).stdout)[0].HostConfig).toMatchObject({ MemoryReservation: 24 << 20, CpuPeriod: 50000, CpuQuota: 20000, CpusetMems: '0' });
      // --cpus on top of the CPU period the container now has: refused, nothing changed.
      const both = await berth('update', '--cpus', '1', name);
      expect(both.code).not.toBe(0);
      expect(both.stderr).toMatch(/--cpus and --cpu-period/);
      expect((await berth('update', '--cpus', '1', '--cpu-quota', '1000', name)).stderr).toMatch(/conflicting options/);
      expect((await berth('update', '--memory-reservation', '128m', name)).stderr).toMatch(/at least the reservation/);
      expect((await berth('update', '--blkio-weight', '5', name)).stderr).toContain('from 10 to 1000');
      const weightFile = ['blkio.weight', 'blkio.bfq.weight'].find((f) => existsSync(`/sys/fs/cgroup/blkio/${f}`));
      const w = await berth('update', '--blkio-weight', '300', name);
      if (weightFile) {
        expectOk(w);
        expect((await berth('exec', name, 'cat', `/sys/fs/cgroup/blkio/${weightFile}`)).stdout.trim()).toBe('300');
      } else {
        expect(w.code).not.toBe(0);
        expect(w.stderr).toMatch(/blkio\.weight.*BFQ|bfq/);
        expect(JSON.parse((await berth('inspect', name)).stdout)[0].HostConfig.BlkioWeight).toBe(0);
      }
      await docker.getContainer(name).update({ MemoryReservation: 8 << 20, CpuQuota: 30000 });
      expect(await read()).toEqual([String(8 << 20), '50000', '30000', '0']);
    });

    it('--cgroup-parent nests the container\'s cgroup inside berth\'s parent and the levels made for it go with the container; a path climbing out is refused; the Docker API maps CgroupParent', async () => {
      const name = nameOf('cgparent');
      expectOk(await berth('run', '-d', '--name', name, '--network', 'none', '--cgroup-parent', `/bt-cgp-${process.pid}/sub`, 'busybox', 'sleep', '1000'));
      const info = JSON.parse((await berth('inspect', name)).stdout)[0];
      expect(info.HostConfig.CgroupParent).toBe(`/bt-cgp-${process.pid}/sub`);
      const line = readFileSync(`/proc/${info.State.Pid}/cgroup`, 'utf8').split('\n').find((l) => /:memory:/.test(l))!;
      const path = line.split(':')[2]!;
      expect(path).toMatch(new RegExp(`/bt-cgp-${process.pid}/sub/${info.Id}$`));
      const top = `${MEM}${path.slice(0, path.indexOf(`/bt-cgp-${process.pid}`))}/bt-cgp-${process.pid}`;
      expect(existsSync(`${top}/sub/${info.Id}`)).toBe(true);
      expectOk(await berth('rm', '-f', name));
      expect(existsSync(top)).toBe(false);
      const out = await berth('run', '--rm', '--cgroup-parent', '../../escape', 'busybox', 'true');
      expect(out.code).toBe(125);
      expect(out.stderr).toContain('--cgroup-parent');
      const c = await docker.createContainer({ name: nameOf('docker-cgp'), Image: 'busybox', Cmd: ['sleep', '1000'], HostConfig: { NetworkMode: 'none', CgroupParent: `bt-cgp-d-${process.pid}` } });
      await c.start();
      const pid = (await c.inspect()).State.Pid;
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`/bt-cgp-d-${process.pid}/`);
      await c.remove({ force: true });
    });

    it('--kernel-memory is accepted with a warning and not applied', async () => {
      const r = await berth('run', '--rm', '--network', 'none', '--kernel-memory', '64m', 'busybox', 'echo', 'ran');
      expectOk(r);
      expect(r.stdout).toBe('ran\n');
      expect(r.stderr).toContain('WARNING: Kernel memory limits are deprecated and not applied');
    });

    it('--shm-size sizes /dev/shm (64 MiB without it, a --tmpfs /dev/shm wins); the Docker API maps ShmSize', async () => {
      // /proc/mounts shows the tmpfs size in KiB.
      const shmOf = (lines: string[]) => lines.find((l) => l.split(' ')[1] === '/dev/shm') ?? '';
      expect(shmOf(await inside(['--shm-size', '128m'], 'cat /proc/mounts'))).toMatch(/size=131072k/);
      expect(shmOf(await inside([], 'cat /proc/mounts'))).toMatch(/size=65536k/);
      expect(shmOf(await inside(['--shm-size', '128m', '--tmpfs', '/dev/shm:size=8m'], 'cat /proc/mounts'))).toMatch(/size=8192k/);
      const name = nameOf('shm');
      expectOk(await berth('create', '--name', name, '--shm-size', '1g', 'busybox', 'true'));
      expect(JSON.parse((await berth('inspect', name)).stdout)[0].HostConfig.ShmSize).toBe(1024 ** 3);
      expect((await berth('run', '--rm', '--shm-size', '0', 'busybox', 'true')).stderr).toContain('--shm-size');
      expect((await berth('run', '--rm', '--shm-size', 'big', 'busybox', 'true')).stderr).toContain('--shm-size');
      const c = await docker.createContainer({ name: nameOf('docker-shm'), Image: 'busybox', Cmd: ['sh', '-c', 'grep /dev/shm /proc/mounts'], HostConfig: { NetworkMode: 'none', ShmSize: 32 << 20 } });
      await c.start();
      expect((await c.wait()).StatusCode).toBe(0);
      expect((await c.logs({ stdout: true })).toString('utf8')).toContain('size=32768k');
      expect((await c.inspect()).HostConfig.ShmSize).toBe(32 << 20);
    });

    it('--add-host adds /etc/hosts lines (host-gateway is the default bridge gateway) and keeps them over a network connect; bad entries are refused naming them', async () => {
      const hosts = await inside(['--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway', '--add-host', 'six=::1'], 'cat /etc/hosts');
      expect(hosts).toContain('10.1.2.3\tdb');
      expect(hosts).toContain(`10.219.${SUBNET}.1\tgw`);
      expect(hosts).toContain('::1\tsix');
      const name = nameOf('addhost');
      expectOk(await berth('run', '-d', '--name', name, '--add-host', 'db:10.1.2.3', 'busybox', 'sleep', '1000'));
      expect(JSON.parse((await berth('inspect', name)).stdout)[0].HostConfig.ExtraHosts).toEqual(['db:10.1.2.3']);
      const net = nameOf('addhost-net');
      expectOk(await berth('network', 'create', '--subnet', `10.219.${SUBNET + 30}.0/24`, net));
      try {
        expectOk(await berth('network', 'connect', net, name));
        expect((await berth('exec', name, 'cat', '/etc/hosts')).stdout).toContain('10.1.2.3\tdb');
      } finally {
        await berth('rm', '-f', name);
        await berth('network', 'rm', net);
      }
      for (const bad of ['db', 'db:not-an-ip', ':10.0.0.1']) {
        const r = await berth('run', '--rm', '--add-host', bad, 'busybox', 'true');
        expect(r.code, bad).toBe(125);
        expect(r.stderr).toContain('--add-host');
      }
      const c = await docker.createContainer({ name: nameOf('docker-hosts'), Image: 'busybox', Cmd: ['cat', '/etc/hosts'], HostConfig: { NetworkMode: 'none', ExtraHosts: ['api:10.9.8.7'] } });
      await c.start();
      expect((await c.wait()).StatusCode).toBe(0);
      expect((await c.logs({ stdout: true })).toString('utf8')).toContain('10.9.8.7\tapi');
      const refused = await docker.createContainer({ Image: 'busybox', HostConfig: { ExtraHosts: ['api:nope'] } }).catch((e: { statusCode?: number; message: string }) => e);
      expect(refused).toMatchObject({ statusCode: 400 });
    });

    it('--ip gives the container that address on its user-defined network, at every start; elsewhere it is refused at create', async () => {
      const net = nameOf('ip-net');
      const subnet = `10.219.${SUBNET + 31}`;
      expectOk(await berth('network', 'create', '--subnet', `${subnet}.0/24`, net));
      const name = nameOf('ip');
      try {
        expectOk(await berth('run', '-d', '--name', name, '--network', net, '--ip', `${subnet}.77`, 'busybox', 'sleep', '1000'));
        expect((await berth('exec', name, 'ip', '-4', 'addr', 'show', 'eth0')).stdout).toContain(`inet ${subnet}.77/24`);
        expectOk(await berth('restart', '-t', '0', name));
        expect((await berth('exec', name, 'ip', '-4', 'addr', 'show', 'eth0')).stdout).toContain(`inet ${subnet}.77/24`);
        const c = await docker.createContainer({
          name: nameOf('docker-ip'), Image: 'busybox', Cmd: ['ip', '-4', 'addr', 'show', 'eth0'],
          HostConfig: { NetworkMode: net }, NetworkingConfig: { EndpointsConfig: { [net]: { IPAMConfig: { IPv4Address: `${subnet}.78` } } } },
        });
        await c.start();
        expect((await c.wait()).StatusCode).toBe(0);
        expect((await c.logs({ stdout: true })).toString('utf8')).toContain(`inet ${subnet}.78/24`);
        await c.remove({ force: true });
      } finally {
        await berth('rm', '-f', name);
        await berth('network', 'rm', net);
      }
      const onDefault = await berth('create', '--name', nameOf('ip-default'), '--ip', '10.219.1.5', 'busybox', 'true');
      expect(onDefault.code).toBe(125);
      expect(onDefault.stderr).toContain('user-defined networks only');
      expect((await berth('run', '--rm', '--ip', 'nope', 'busybox', 'true')).stderr).toContain('--ip');
    });

    it('--mac-address sets the MAC of the container\'s interface, on the default bridge and a user-defined network, at every start; a bad, multicast or taken one is refused by name; the Docker API maps MacAddress', async () => {
      const eth0 = (lines: string[]) => lines.find((l) => l.includes('link/ether'))?.trim().split(/\s+/)[1];
      const name = nameOf('mac');
      expectOk(await berth('run', '-d', '--name', name, '--mac-address', '92:D0:C6:0A:29:33', 'busybox', 'sleep', '1000'));
      expect(eth0((await berth('exec', name, 'ip', 'link', 'show', 'eth0')).stdout.split('\n'))).toBe('92:d0:c6:0a:29:33');
      const info = JSON.parse((await berth('inspect', name)).stdout)[0];
      expect(info.Config.MacAddress).toBe('92:d0:c6:0a:29:33');
      expect(info.NetworkSettings.MacAddress).toBe('92:d0:c6:0a:29:33');
      // Another container on the same bridge with the same address would take its frames.
      const taken = await berth('run', '--rm', '--mac-address', '92:d0:c6:0a:29:33', 'busybox', 'true');
      expect(taken.code).not.toBe(0);
      expect(taken.stderr).toContain('already in use');
      expectOk(await berth('restart', '-t', '0', name));
      expect(eth0((await berth('exec', name, 'ip', 'link', 'show', 'eth0')).stdout.split('\n'))).toBe('92:d0:c6:0a:29:33');
      await berth('rm', '-f', name);
      for (const bad of ['92:d0:c6:0a:29', 'zz:d0:c6:0a:29:33', '01:00:5e:00:00:01', '00:00:00:00:00:00']) {
        const r = await berth('run', '--rm', '--mac-address', bad, 'busybox', 'true');
        expect(r.code, bad).toBe(125);
        expect(r.stderr).toContain('--mac-address');
      }
      const none = await berth('create', '--network', 'none', '--mac-address', '92:d0:c6:0a:29:34', 'busybox', 'true');
      expect(none.code).toBe(125);
      expect(none.stderr).toContain('mac_address');
      const net = nameOf('mac-net');
      expectOk(await berth('network', 'create', '--subnet', `10.219.${SUBNET + 32}.0/24`, net));
      try {
        const c = await docker.createContainer({ name: nameOf('docker-mac'), Image: 'busybox', Cmd: ['ip', 'link', 'show', 'eth0'], MacAddress: '92:d0:c6:0a:29:35', HostConfig: { NetworkMode: net } } as Docker.ContainerCreateOptions);
        await c.start();
        expect((await c.wait()).StatusCode).toBe(0);
        expect((await c.logs({ stdout: true })).toString('utf8')).toContain('link/ether 92:d0:c6:0a:29:35');
        await c.remove({ force: true });
      } finally {
        await berth('network', 'rm', net);
      }
      const refused = await docker.createContainer({ Image: 'busybox', MacAddress: 'nope' } as Docker.ContainerCreateOptions).catch((e: { statusCode?: number; message: string }) => e);
      expect(refused).toMatchObject({ statusCode: 400 });
    });

    it('--storage-opt size is refused as Docker\'s overlay2 refuses it off xfs with pquota, naming the option, and leaves nothing; so is StorageOpt through the Docker API', async () => {
      const name = nameOf('sopt');
      const size = await berth('create', '--name', name, '--storage-opt', 'size=10G', 'busybox', 'true');
      expect(size.code).toBe(125);
      expect(size.stderr).toContain("--storage-opt size=10G is supported only for overlay over xfs with 'pquota' mount option");
      const unknown = await berth('create', '--name', name, '--storage-opt', 'inodes=5', 'busybox', 'true');
      expect(unknown.code).toBe(125);
      expect(unknown.stderr).toContain('--storage-opt inodes: unknown option');
      expect((await berth('create', '--storage-opt', 'size', 'busybox', 'true')).stderr).toContain('KEY=VALUE');
      const refused = await docker.createContainer({ name, Image: 'busybox', HostConfig: { StorageOpt: { size: '1G' } } }).catch((e: { statusCode?: number; message: string }) => e);
      expect(refused).toMatchObject({ statusCode: 400 });
      expect((refused as Error).message).toContain('pquota');
      expect((await berth('ps', '-a', '--filter', `name=${name}`, '-q')).stdout).toBe('');
    });

    it('-a/--attach shows only the streams named; a bad stream, or -a with -d, is refused', async () => {
      const script = ['sh', '-c', 'echo out; echo err >&2'];
      const out = await berth('run', '--rm', '--network', 'none', '-a', 'stdout', 'busybox', ...script);
      expect(out.code).toBe(0);
      expect(out.stdout).toBe('out\n');
      expect(out.stderr).not.toContain('err');
      const err = await berth('run', '--rm', '--network', 'none', '--attach', 'STDERR', 'busybox', ...script);
      expect(err.stdout).toBe('');
      expect(err.stderr).toContain('err');
      const both = await berth('run', '--rm', '--network', 'none', '-a', 'stdout', '-a', 'stderr', 'busybox', ...script);
      expect(both.stdout).toBe('out\n');
      expect(both.stderr).toContain('err');
      const bad = await berth('run', '--rm', '-a', 'stdlog', 'busybox', 'true');
      expect(bad.code).toBe(125);
      expect(bad.stderr).toContain('--attach');
      expect((await berth('run', '-d', '-a', 'stdout', 'busybox', 'true')).stderr).toContain('conflicting options: -a and -d');
    });

    it('--volumes-from mounts the other container\'s volumes and binds (:ro read-only); an unknown container is refused, leaving nothing', async () => {
      const src = nameOf('vfrom-src');
      expectOk(await berth('run', '--name', src, '--network', 'none', '-v', '/data', 'busybox', 'sh', '-c', 'echo kept > /data/f'));
      expect(await inside(['--volumes-from', src], 'cat /data/f')).toEqual(['kept']);
      const ro = await berth('run', '--rm', '--network', 'none', '--volumes-from', `${src}:ro`, 'busybox', 'sh', '-c', 'echo x > /data/g');
      expect(ro.code).not.toBe(0);
      expect(ro.stderr).toContain('Read-only file system');
      const name = nameOf('vfrom');
      const missing = await berth('create', '--name', name, '--volumes-from', 'bt-no-such-container', 'busybox', 'true');
      expect(missing.code).toBe(125);
      expect(missing.stderr).toContain('no such container');
      expect((await berth('ps', '-a', '--filter', `name=${name}`, '-q')).stdout).toBe('');
    });

    it('the Docker API maps the same HostConfig fields', async () => {
      const { path, dev } = blockDevice();
      const name = nameOf('docker');
      const c = await docker.createContainer({
        name, Image: 'busybox', Cmd: ['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.soft_limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device'],
        HostConfig: { NetworkMode: 'none', Memory: 64 << 20, MemoryReservation: 16 << 20, CpuPeriod: 40000, BlkioDeviceWriteBps: [{ Path: path, Rate: 4096 }] },
      });
      await c.start();
      expect((await c.wait()).StatusCode).toBe(0);
      const logs = (await c.logs({ stdout: true })).toString('utf8');
      expect(logs).toContain(String(16 << 20));
      expect(logs).toContain('40000');
      expect(logs).toContain(`${dev} 4096`);
      const info = await c.inspect();
      expect(info.HostConfig).toMatchObject({ MemoryReservation: 16 << 20, CpuPeriod: 40000 });
    });
  });

  describe('namespaces, sysctls, DNS, groups, OOM score', () => {
    const nsOf = (pid: number | 'self', type: string) => readlinkSync(`/proc/${pid}/ns/${type}`);

    it('--sysctl sets namespaced parameters; a host parameter, or a net.* one with --network host, is refused naming the key', async () => {
      expect(await inside(['--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=123456789', '--sysctl', 'fs.mqueue.msg_max=50'],
        'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max')).toEqual(['1', '123456789', '50']);
      const vm = await berth('run', '--rm', '--sysctl', 'vm.swappiness=1', 'busybox', 'true');
      expect(vm.code).not.toBe(0);
      expect(vm.stderr).toContain('sysctl "vm.swappiness" is not namespaced');
      const hostNet = await berth('run', '--rm', '--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true');
      expect(hostNet.stderr).toContain('not allowed with --network host');
      // The engine refuses the same for any client.
      await expect(docker.createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { Sysctls: { 'kernel.pid_max': '100000' } } }))
        .rejects.toThrow(/sysctls.*kernel\.pid_max.*not namespaced/);
    });

    it('--ipc, --pid and --uts host join the host namespaces; --ipc container: joins another container', async () => {
      const out = await inside(['--ipc', 'host', '--pid', 'host', '--uts', 'host'], 'for t in ipc pid uts; do readlink /proc/self/ns/$t; done; hostname');
      expect(out).toEqual([nsOf('self', 'ipc'), nsOf('self', 'pid'), nsOf('self', 'uts'), hostname()]);
      const own = await inside([], 'for t in ipc pid; do readlink /proc/self/ns/$t; done');
      expect(own[0]).not.toBe(nsOf('self', 'ipc'));
      expect(own[1]).not.toBe(nsOf('self', 'pid'));
      const owner = nameOf('ipc-owner');
      expectOk(await berth('run', '-d', '--name', owner, '--network', 'none', 'busybox', 'sleep', '1000'));
      const pid = Number(JSON.parse((await berth('inspect', owner)).stdout)[0].State.Pid);
      expect(await inside(['--ipc', `container:${owner}`, '--pid', `container:${owner}`], 'readlink /proc/self/ns/ipc; ps -o comm | grep -c sleep'))
        .toEqual([nsOf(pid, 'ipc'), '1']);
      const missing = await berth('run', '--rm', '--ipc', 'container:bt-no-such-container', 'busybox', 'true');
      expect(missing.stderr).toContain('no such container');
      expect((await berth('run', '--rm', '--ipc', 'none', 'busybox', 'true')).stderr).toContain('--ipc');
    });

    it('--domainname sets the NIS domain name in the container\'s UTS namespace (not the host\'s); with --uts host it is refused; the Docker API maps Domainname', async () => {
      const hostDomain = readFileSync('/proc/sys/kernel/domainname', 'utf8');
      expect(await inside(['--hostname', 'web', '--domainname', 'example.test'], 'cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname')).toEqual(['web', 'example.test']);
      expect(readFileSync('/proc/sys/kernel/domainname', 'utf8')).toBe(hostDomain);
      const name = nameOf('domain');
      expectOk(await berth('create', '--name', name, '--domainname', 'corp.test', 'busybox', 'true'));
      expect(JSON.parse((await berth('inspect', name)).stdout)[0].Config.Domainname).toBe('corp.test');
      const shared = await berth('run', '--rm', '--uts', 'host', '--domainname', 'x.test', 'busybox', 'true');
      expect(shared.code).toBe(125);
      expect(shared.stderr).toContain('domainname');
      expect((await berth('run', '--rm', '--domainname', 'bad name', 'busybox', 'true')).stderr).toContain('--domainname');
      const c = await docker.createContainer({ name: nameOf('docker-domain'), Image: 'busybox', Cmd: ['cat', '/proc/sys/kernel/domainname'], Domainname: 'api.test', HostConfig: { NetworkMode: 'none' } });
      await c.start();
      expect((await c.wait()).StatusCode).toBe(0);
      expect((await c.logs({ stdout: true })).toString('utf8')).toContain('api.test');
    });

    it('--dns, --dns-search and --dns-option write resolv.conf', async () => {
      const out = await inside(['--dns', '10.219.202.53', '--dns-search', 'corp.example', '--dns-option', 'ndots:3'], 'cat /etc/resolv.conf');
      expect(out).toContain('nameserver 10.219.202.53');
      expect(out.find((l) => l.startsWith('search'))).toContain('corp.example');
      expect(out.find((l) => l.startsWith('options'))).toContain('ndots:3');
      expect((await berth('run', '--dns', 'not-an-ip', 'busybox', 'true')).stderr).toContain('--dns');
    });

    it('--group-add adds supplementary groups (numbers and names); --oom-score-adj sets the process score', async () => {
      // A group the image names in its /etc/group (not root's), by name.
      const [name, , gid] = (await inside([], 'cat /etc/group')).map((l) => l.split(':')).find((f) => f[2] !== '0' && f[0])!;
      expect((await inside(['--group-add', '1234', '--group-add', name!], 'id -G'))[0]!.split(' ')).toEqual(expect.arrayContaining(['0', '1234', gid!]));
      // Raising is allowed without CAP_SYS_RESOURCE (lowering is not, on this host).
      expect(await inside(['--oom-score-adj', '777'], 'cat /proc/self/oom_score_adj')).toEqual(['777']);
      expect((await berth('run', '--oom-score-adj', '1001', 'busybox', 'true')).stderr).toContain('-1000 to 1000');
      const unknown = await berth('run', '--rm', '--group-add', 'no-such-group', 'busybox', 'true');
      expect(unknown.stderr).toContain('unable to find group no-such-group');
    });
  });

  describe('process limits', () => {
    const limitOf = (lines: string[], what: string) => lines.find((l) => l.startsWith(what))?.split(/\s{2,}/).slice(1, 3);

    it('--ulimit sets the init\'s soft and hard limits; bad ones are refused by name; the Docker API maps Ulimits', async () => {
      const out = await inside(['--ulimit', 'nofile=512:1024', '--ulimit', 'nproc=300'], 'cat /proc/self/limits');
      expect(limitOf(out, 'Max open files')).toEqual(['512', '1024']);
      expect(limitOf(out, 'Max processes')).toEqual(['300', '300']);
      expect((await berth('run', '--ulimit', 'nofile=2048:1024', 'busybox', 'true')).stderr).toContain('cannot exceed the hard limit');
      expect((await berth('run', '--ulimit', 'bogus=1', 'busybox', 'true')).stderr).toContain('unknown ulimit "bogus"');
      const name = nameOf('ulimit');
      const c = await docker.createContainer({ name, Image: 'busybox', Cmd: ['cat', '/proc/self/limits'], HostConfig: { NetworkMode: 'none', Ulimits: [{ Name: 'nofile', Soft: 256, Hard: 512 }] } });
      await c.start();
      await c.wait();
      expect((await c.logs({ stdout: true })).toString('utf8')).toMatch(/Max open files\s+256\s+512/);
    });
  });

  describe('--mount', () => {
    it('binds read-only, mounts a named volume and a sized tmpfs; a missing bind source is refused', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-mount-'));
      const vol = `bt-flags-vol-${process.pid}`;
      try {
        writeFileSync(join(dir, 'hello'), 'from the host\n');
        const out = await inside([
          '--mount', `type=bind,source=${dir},target=/data,readonly`,
          '--mount', `type=volume,source=${vol},target=/v`,
          '--mount', 'type=tmpfs,destination=/scratch,tmpfs-size=1m',
        ], 'cat /data/hello; touch /data/x 2>/dev/null || echo read-only; echo kept > /v/f; grep " /scratch " /proc/mounts | grep -o "size=[0-9a-z]*"');
        expect(out).toEqual(['from the host', 'read-only', 'size=1024k']);
        expect(await inside(['-v', `${vol}:/v`], 'cat /v/f')).toEqual(['kept']);
        const r = await berth('run', '--rm', '--mount', 'type=bind,source=/no/such/berth-dir,target=/x', 'busybox', 'true');
        expect(r.stderr).toContain('bind source path does not exist');
      } finally {
        await berth('volume', 'rm', '-f', vol);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('what the client settles', () => {
    let work: string;
    beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'berth-run-flags-')); });
    afterAll(() => { if (work) rmSync(work, { recursive: true, force: true }); });

    it('--label-file (with --label winning), --expose ranges reach the record', async () => {
      const file = join(work, 'labels');
      writeFileSync(file, '# team labels\ntier=web\nowner=ops\n\n');
      const name = nameOf('labels');
      expectOk(await berth('create', '--name', name, '--label-file', file, '--label', 'owner=dev', '--expose', '7000-7001/udp', '--expose', '9000', 'busybox', 'true'));
      const doc = JSON.parse((await berth('inspect', name)).stdout)[0] as { Config: { Labels: Record<string, string>; ExposedPorts: Record<string, unknown> } };
      expect(doc.Config.Labels).toMatchObject({ tier: 'web', owner: 'dev' });
      expect(Object.keys(doc.Config.ExposedPorts).sort()).toEqual(['7000/udp', '7001/udp', '9000/tcp']);
      expect((await berth('create', '--label-file', join(work, 'missing'), 'busybox', 'true')).stderr).toContain('--label-file');
      expect((await berth('create', '--expose', '9-1', 'busybox', 'true')).stderr).toContain('--expose');
    });

    it('--network-alias names the container on its network', async () => {
      const net = `bt-flags-net-${process.pid}`;
      expectOk(await berth('network', 'create', '--subnet', '10.218.202.0/24', net));
      try {
        const name = nameOf('alias');
        expectOk(await berth('run', '-d', '--name', name, '--network', net, '--network-alias', 'db-alias', 'busybox', 'sleep', '1000'));
        // The networks service holds the name for the container (inspect's Aliases and DNSNames come from the attachment).
        const ep = (JSON.parse((await berth('inspect', name)).stdout)[0] as { NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null; DNSNames: string[] | null }> } }).NetworkSettings.Networks[net]!;
        expect(ep.IPAddress).toMatch(/^10\.218\.202\./);
        expect(ep.Aliases).toContain('db-alias');
        expect(ep.DNSNames).toContain('db-alias');
        expect((await berth('run', '--rm', '--network-alias', 'x y', 'busybox', 'true')).stderr).toContain('--network-alias');
      } finally {
        for (const x of names.filter((m) => m.includes('-alias-'))) await berth('rm', '-f', x);
        await berth('network', 'rm', net);
      }
    });

    it('-P publishes the exposed ports, the image\'s and --expose\'s, on free host ports', async () => {
      const name = nameOf('publish-all');
      expectOk(await berth('run', '-d', '--name', name, '-P', '--expose', '8080', 'busybox', 'sh', '-c', 'while true; do echo hi | nc -l -p 8080; done'));
      const port = await berth('port', name);
      expectOk(port);
      const m = /^8080\/tcp -> 0\.0\.0\.0:(\d+)$/m.exec(port.stdout);
      expect(m, port.stdout).not.toBeNull();
      const doc = JSON.parse((await berth('inspect', name)).stdout)[0] as { HostConfig: { PublishAllPorts: boolean } };
      expect(doc.HostConfig.PublishAllPorts).toBe(true);
      // The host port answers with what the container's listener writes.
      const got = await until('the published port answers', () => new Promise<string | undefined>((resolve) => {
        const sock = connect({ host: '127.0.0.1', port: Number(m![1]) });
        let data = '';
        sock.on('data', (d) => { data += d.toString(); });
        sock.on('close', () => resolve(data.includes('hi') ? data : undefined));
        sock.on('error', () => resolve(undefined));
        sock.setTimeout(2000, () => sock.destroy());
      }), 20_000);
      expect(got).toContain('hi');
    });

    it('--platform: the host platform runs, another is refused saying why', async () => {
      const host = `linux/${({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch}`;
      expect(await inside(['--platform', host], 'echo ran')).toEqual(['ran']);
      const other = host === 'linux/amd64' ? 'linux/arm64' : 'linux/amd64';
      const r = await berth('run', '--platform', other, 'busybox', 'true');
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`the host's platform only (${host})`);
    });

    it('--cidfile gets the id, and a second run with the same file is refused before anything is created', async () => {
      const file = join(work, 'cid');
      const name = nameOf('cid');
      const r = await berth('run', '-d', '--quiet', '--name', name, '--cidfile', file, '--network', 'none', 'busybox', 'sleep', '1000');
      expectOk(r);
      expect(readFileSync(file, 'utf8')).toBe(r.stdout.trim());
      const again = nameOf('cid2');
      const second = await berth('run', '-d', '--name', again, '--cidfile', file, 'busybox', 'true');
      expect(second.stderr).toContain('container ID file found');
      expect((await berth('ps', '-a', '--filter', `name=${again}`, '-q')).stdout).toBe('');
    });

    it('--sig-proxy forwards a signal to the container; --detach-keys is checked', async () => {
      const run = s.spawnBerth(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'trap "echo got-term; exit 3" TERM; echo ready; while true; do sleep 1; done']);
      await until('the trap is set', () => (run.stdout().includes('ready') ? true : undefined), 30_000);
      run.child.kill('SIGTERM');
      const r = await run.result;
      expect(r.stdout).toContain('got-term');
      expect(r.code).toBe(3);
      expect((await berth('run', '--detach-keys', 'ctrl-', 'busybox', 'true')).stderr).toContain('detach');
    });
  });
});
