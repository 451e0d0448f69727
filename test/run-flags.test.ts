// run/create flags on the real stack (issue 16): each one reaches the kernel,
// read back from inside the container, or is refused by name with why.
//  - cgroup limits: --memory-reservation, --memory-swappiness,
//    --oom-kill-disable, --cpu-period/--cpu-quota, --cpuset-mems,
//    --device-read/write-bps/iops (the container's own cgroup files, through
//    its cgroup namespace); --kernel-memory accepted with a warning;
//    --blkio-weight where the kernel has no weight files (no BFQ) fails the
//    start saying so; a path that is not a block device is refused at create
//    and leaves nothing; the same fields through the Docker API (dockerode).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
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

    it('--kernel-memory is accepted with a warning and not applied', async () => {
      const r = await berth('run', '--rm', '--network', 'none', '--kernel-memory', '64m', 'busybox', 'echo', 'ran');
      expectOk(r);
      expect(r.stdout).toBe('ran\n');
      expect(r.stderr).toContain('WARNING: Kernel memory limits are deprecated and not applied');
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
});
