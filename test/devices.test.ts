// Device confinement, the cgroup namespace and --privileged on the real stack
// (issue 12: a default container no more powerful than Docker's):
//  - a default container may mknod a node (Docker's "c *:* m") but not open
//    one outside Docker's list: /dev/kmsg's 1:11 cannot be written, from a
//    node it made or one its image ships, as root or uid 1000; kvm, loop,
//    fuse, userfaultfd and tty0 are neither in /dev nor openable;
//  - --device puts the node in /dev and allows it; --device-cgroup-rule
//    allows a node the container makes; bad devices and rules are named and
//    leave nothing behind;
//  - /proc/self/cgroup reads "/" in every hierarchy and /sys/fs/cgroup shows
//    the container's own cgroups (--cgroupns host: the host's paths);
//  - --privileged: CapEff is the host's bounding set, the kmsg node opens,
//    /sys remounts read-write, the host's /dev nodes are there.
// Writes to kmsg are one marker line, prefixed berth-test, and only where the
// container is meant to be able to.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mknod, S_IF } from '@berth/sys';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 243; // 10.219.243.0/24: this file's

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });
const EPERM = /Operation not permitted/;
const BUSYBOX = '/usr/bin/busybox';

describe('devices, cgroup namespace, --privileged', () => {
  let s: CliStack;
  const berth = (...args: string[]) => s.berth(args);
  const names: string[] = [];
  let n = 0;
  const nameOf = (what: string) => {
    const name = `bt-dev-${what}-${process.pid}-${n++}`;
    names.push(name);
    return name;
  };
  /** berth run --name X --network none [flags] busybox sh -c script. */
  const run = (flags: string[], script: string, name = nameOf('run')) => berth('run', '--name', name, '--network', 'none', ...flags, 'busybox', 'sh', '-c', script);

  beforeAll(async () => {
    s = await startCliStack(false, SUBNET);
    // The stack's temp base is made 0755, as /var/lib is: a --userns auto container's mapped root
    // must be able to search the path to its root (berth's own dirs grant it that, not the temp dir).
    chmodSync(dirname(s.paths.root), 0o755);
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 180_000);

  afterAll(async () => {
    if (s) {
      for (const name of names) await berth('rm', '-f', name);
      await berth('rmi', '-f', 'berth-test-kmsg-image');
      await s.stop();
    }
  }, 180_000);

  it('a default container can mknod /dev/kmsg\'s 1:11 but not open it (EPERM); kvm, loop, fuse, userfaultfd, tty0 are absent and refused', async () => {
    const r = await run([], [
      'mknod /tmp/kmsg c 1 11 && echo mknod-ok',
      'echo berth-test default container > /tmp/kmsg && echo kmsg-written',
      'cat /tmp/kmsg > /dev/null && echo kmsg-read',
      'for d in kvm loop0 loop-control fuse userfaultfd tty0 mem kmsg; do [ -e /dev/$d ] && echo present:$d; done',
      // Made by hand, they still do not open: 10:232 kvm, 7:0 loop0, 10:229 fuse, 10:126 userfaultfd, 4:0 tty0.
      'mknod /tmp/kvm c 10 232; mknod /tmp/loop0 b 7 0; mknod /tmp/fuse c 10 229; mknod /tmp/uffd c 10 126; mknod /tmp/tty0 c 4 0',
      'for d in kvm loop0 fuse uffd tty0; do cat /tmp/$d > /dev/null 2>&1 < /dev/null && echo opened:$d; done',
      'echo > /dev/null && echo null-ok',
      'true',
    ].join('; '));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['mknod-ok', 'null-ok']);
    expect(r.stderr).toMatch(EPERM);
  });

  it('an image that ships a kmsg node cannot write it, as root or as uid 1000', async () => {
    // A root filesystem tarball with busybox and a world-writable kmsg node, imported as an image.
    const dir = mkdtempSync(join(tmpdir(), 'berth-kmsg-image-'));
    try {
      mkdirSync(join(dir, 'root', 'bin'), { recursive: true });
      copyFileSync(BUSYBOX, join(dir, 'root', 'bin', 'busybox'));
      chmodSync(join(dir, 'root', 'bin', 'busybox'), 0o755);
      for (const tool of ['sh', 'ls', 'echo']) symlinkSync('busybox', join(dir, 'root', 'bin', tool));
      mknod(join(dir, 'root', 'kmsg'), S_IF.CHR | 0o666, 1, 11);
      chmodSync(join(dir, 'root', 'kmsg'), 0o666);
      execFileSync('tar', ['-C', join(dir, 'root'), '-cf', join(dir, 'image.tar'), '.']);
      expectOk(await berth('import', join(dir, 'image.tar'), 'berth-test-kmsg-image'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    for (const user of ['0', '1000']) {
      const name = nameOf(`ship${user}`);
      const r = await berth('run', '--name', name, '--network', 'none', '--user', user, 'berth-test-kmsg-image', '/bin/sh', '-c', 'ls -l /kmsg >&2; echo berth-test shipped node > /kmsg && echo written');
      expect(r.stdout).not.toMatch(/written/);
      expect(r.stderr, r.stderr).toMatch(/^crw-rw-rw-.*1,\s+11/m);
      expect(r.stderr).toMatch(EPERM);
    }
  });

  it('--device /dev/kmsg puts the node in /dev and lets it be written; --device-cgroup-rule lets a node the container makes be written', async () => {
    const devName = nameOf('dev');
    const dev = await run(['--device', '/dev/kmsg'], 'stat -c "%F %t:%T" /dev/kmsg; echo berth-test --device > /dev/kmsg && echo written', devName);
    expectOk(dev);
    expect(dev.stdout.trim().split('\n')).toEqual(['character special file 1:b', 'written']);
    // Read-only permission: the node is there, writing is refused.
    const ro = await run(['--device', '/dev/kmsg:/dev/klog:r'], 'ls /dev/klog; echo berth-test ro > /dev/klog && echo written; true');
    expect(ro.stdout.trim()).toBe('/dev/klog');
    expect(ro.stderr).toMatch(EPERM);

    const rule = await run(['--device-cgroup-rule', 'c 1:11 w'], 'mknod /tmp/k c 1 11 && echo berth-test --device-cgroup-rule > /tmp/k && echo written');
    expectOk(rule);
    expect(rule.stdout.trim()).toBe('written');
    const name = names.at(-1)!;
    const hc = (await berth('inspect', '--format', '{{json .HostConfig.DeviceCgroupRules}} {{.HostConfig.Privileged}} {{.HostConfig.CgroupnsMode}}', name)).stdout.trim();
    expect(hc).toBe('["c 1:11 w"] false private');
    expect((await berth('inspect', '--format', '{{json .HostConfig.Devices}}', devName)).stdout.trim()).toMatch(/"PathOnHost":"\/dev\/kmsg","PathInContainer":"\/dev\/kmsg","CgroupPermissions":"rwm"/);
  });

  it('--device in a container with its own user namespace (--userns auto): the host node is bound where mknod is refused', async () => {
    // /dev/full (1:7, 0666 on the host) under another name: writing it fails ENOSPC once opened.
    const rw = await run(['--userns', 'auto', '--device', '/dev/full:/dev/extra-full'], 'stat -c "%t:%T" /dev/extra-full; echo x > /dev/extra-full; true');
    expect(rw.code, rw.stderr).toBe(0);
    expect(rw.stdout.trim()).toBe('1:7');
    expect(rw.stderr).toMatch(/No space left on device/);
    // The rules hold in a user namespace too: a kmsg node made there cannot be written (mknod is
    // refused in a user namespace, so the shell cannot make one; the image's /dev has none).
    const kmsg = await run(['--userns', 'auto'], 'ls /dev/kmsg 2>&1; mknod /tmp/k c 1 11 2>&1 | grep -c "not permitted"; true');
    expect(kmsg.stdout.trim().split('\n')).toEqual(['ls: /dev/kmsg: No such file or directory', '1']);
    // --privileged with --userns auto is refused (a privileged container shares the host user namespace).
    const priv = await berth('run', '--rm', '--network', 'none', '--userns', 'auto', '--privileged', 'busybox', 'true');
    expect(priv.code).toBe(125);
    expect(priv.stderr).toMatch(/privileged mode is incompatible with --userns auto/);
  });

  it('bad devices and rules are refused, naming them, and leave no container', async () => {
    const before = (await berth('ps', '-a', '-q')).stdout;
    const missing = await berth('run', '--rm', '--network', 'none', '--device', '/dev/berth-no-such-device', 'busybox', 'true');
    expect(missing.code).toBe(125);
    expect(missing.stderr).toMatch(/\/dev\/berth-no-such-device/);
    const notNode = await berth('run', '--rm', '--network', 'none', '--device', '/etc/hostname', 'busybox', 'true');
    expect(notNode.code).toBe(125);
    expect(notNode.stderr).toMatch(/"\/etc\/hostname" is not a device node/);
    const badRule = await berth('run', '--rm', '--network', 'none', '--device-cgroup-rule', 'x 1:11 rwm', 'busybox', 'true');
    expect(badRule.code).toBe(125);
    expect(badRule.stderr).toMatch(/x 1:11 rwm/);
    const badNs = await berth('run', '--rm', '--network', 'none', '--cgroupns', 'shared', 'busybox', 'true');
    expect(badNs.code).toBe(125);
    expect(badNs.stderr).toMatch(/"shared" for "--cgroupns"/);
    expect((await berth('ps', '-a', '-q')).stdout).toBe(before);
  });

  it('a container has its own cgroup namespace: /proc/self/cgroup is "/" everywhere and /sys/fs/cgroup shows its own cgroups; --cgroupns host shows the host paths', async () => {
    const own = await run([], 'cat /proc/self/cgroup; echo --; cat /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/pids/cgroup.procs 2>/dev/null | sort -u | wc -l; ls /sys/fs/cgroup/memory | grep -c "^berth" ; true');
    expectOk(own);
    const [cg, counts] = own.stdout.split('--\n');
    const cgLines = cg!.trim().split('\n');
    expect(cgLines.length).toBeGreaterThan(0);
    for (const l of cgLines) expect(l).toMatch(/:\/$/);
    // Only the container's own processes, no cgroup directory of the host's tree.
    const [procs, berthDirs] = counts!.trim().split('\n').map(Number);
    expect(procs).toBeLessThan(5);
    expect(berthDirs).toBe(0);

    const host = await run(['--cgroupns', 'host'], 'cat /proc/self/cgroup');
    expectOk(host);
    expect(host.stdout).toMatch(new RegExp(`memory:/${s.cgroupParent}/[0-9a-f]{64}$`, 'm'));
  });

  it('--privileged: CapEff is the host\'s bounding set, a kmsg node opens, /sys remounts read-write, the host\'s /dev nodes are there; inspect says so', async () => {
    const capBnd = /^CapBnd:\s*(\S+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
    const name = nameOf('priv');
    const r = await run(['--privileged'], [
      'grep CapEff /proc/self/status',
      'mknod /tmp/k c 1 11 && echo berth-test --privileged > /tmp/k && echo kmsg-written',
      'mount -o remount,rw /sys && echo sys-rw',
      'touch /proc/sys/kernel/berth-test 2>&1 | grep -q "Read-only" && echo proc-sys-ro || echo proc-sys-not-ro',
      '[ -c /dev/kmsg ] && echo host-kmsg',
    ].join('; '), name);
    expectOk(r);
    expect(r.stdout.trim().split('\n')).toEqual([`CapEff:\t${capBnd}`, 'kmsg-written', 'sys-rw', 'proc-sys-not-ro', 'host-kmsg']);
    expect((await berth('inspect', '--format', '{{.HostConfig.Privileged}} {{.SeccompProfile}}', name)).stdout.trim()).toBe('true unconfined');

    // The same remount in a default container is refused.
    const plain = await run([], 'mount -o remount,rw /sys && echo sys-rw; grep CapEff /proc/self/status');
    expect(plain.stdout).not.toMatch(/sys-rw/);
    expect(plain.stdout).not.toContain(capBnd);
  });
});
