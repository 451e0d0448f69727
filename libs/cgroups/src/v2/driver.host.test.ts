// The v2 driver against this host's *real* cgroup2 mount. On the development
// VM that is the hybrid layout's /sys/fs/cgroup/unified, which has no
// controllers, so limits cannot be exercised here, but the core interface
// files are the kernel's own: cgroup.procs, cgroup.threads, cgroup.freeze,
// cgroup.events, cgroup.kill, cpu.stat, and inotify on cgroup2 files. On a
// pure v2 host this runs against /sys/fs/cgroup (with controllers).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, watch } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { queryDevicePrograms } from '@berth/sys';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { V2Driver, CgroupsManager } from '../index';
import { Harness, layout, go, until, sleep, exited } from '../testing/harness';

const root = layout.unifiedRoot;

describe.runIf(root !== undefined)(`V2Driver on this host's cgroup2 mount (${root})`, () => {
  let h: Harness;
  let driver: V2Driver;
  let stateDir: string;
  beforeEach(() => {
    h = new Harness();
    driver = new V2Driver({ root: root! });
    stateDir = mkdtempSync(join(tmpdir(), 'berth-cgroups-state-'));
  });
  afterEach(async () => {
    await h.cleanup(); // kills our processes (and cleans the v1 side if any)
    // Remove what this test made in the cgroup2 tree, deepest first.
    const base = join(root!, h.parent);
    const rm = (d: string) => {
      if (!existsSync(d)) return;
      for (const c of driverChildren(d)) rm(join(d, c));
      for (let i = 0; i < 40; i++) {
        try {
          rmdirSync(d);
          return;
        } catch {
          /* busy a moment */
        }
      }
    };
    rm(base);
    rmSync(stateDir, { recursive: true, force: true });
    expect(existsSync(base)).toBe(false);
  });

  it('moves a process in, lists it, freezes and thaws it with cgroup.freeze/cgroup.events, kills it with cgroup.kill', async () => {
    const path = `${h.parent}/c1`;
    await driver.create(path);
    const dir = join(root!, path);
    const counterDir = mkdtempSync('/tmp/berth-v2fz-');
    try {
      const counter = join(counterDir, 'n');
      const c = h.spawn(`read go && { i=0; while :; do i=$((i+1)); echo $i > ${counter}; done; }`);
      await driver.addProcess(path, c.pid!);
      go(c);
      expect(await driver.processes(path)).toEqual([c.pid]);
      expect(readFileSync(join(dir, 'cgroup.events'), 'utf8')).toMatch(/populated 1/);
      const read = () => Number(readFileSync(counter, 'utf8') || '0');
      await until(() => existsSync(counter) && read() > 10, 5000, 'counting');

      await driver.freeze(path, 5000);
      expect(await driver.isFrozen(path)).toBe(true);
      const at = read();
      await sleep(300);
      expect(read()).toBe(at);
      await driver.thaw(path);
      expect(await driver.isFrozen(path)).toBe(false);
      await until(() => read() > at + 10, 5000, 'counting after thaw');

      const s = await driver.stats(path);
      expect(s.processes).toBe(1);
      expect(s.threads).toBeGreaterThanOrEqual(1);
      expect(s.cpu.usageTotalNs).toBeGreaterThan(0);

      expect(await driver.killViaKernel(path)).toBe(true);
      expect((await exited(c)).signal).toBe('SIGKILL');
      await until(async () => (await driver.processes(path)).length === 0, 5000, 'an empty cgroup');
      await driver.remove(path);
      expect(existsSync(dir)).toBe(false);
    } finally {
      await driver.killViaKernel(path).catch(() => false);
      rmSync(counterDir, { recursive: true, force: true });
    }
  });

  it('the kernel raises inotify events on cgroup2 interface files (what the v2 OOM watcher relies on)', async () => {
    const path = `${h.parent}/c2`;
    await driver.create(path);
    const events: string[] = [];
    const w = watch(join(root!, path, 'cgroup.events'), () => events.push('modified'));
    try {
      const c = h.spawn('read go && exec sleep 1000');
      await driver.addProcess(path, c.pid!);
      await until(() => events.length > 0, 3000, 'an inotify event for populated 0 -> 1');
    } finally {
      w.close();
    }
  });

  it('device rules become an eBPF program the kernel enforces: open refused (EPERM) outside the allow-list, mknod allowed by "c *:* m", replaced on update', async () => {
    const path = `${h.parent}/dev`;
    await driver.create(path);
    const tmp = mkdtempSync('/tmp/berth-v2dev-');
    const probe = (c: ChildProcess) =>
      new Promise<string>((resolve) => {
        let out = '';
        c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        c.on('exit', () => resolve(out));
      });
    const script =
      `read go && { echo x > /dev/null && echo null-ok; echo x > /dev/zero 2>/dev/null && echo zero-ok || echo zero-denied; ` +
      `mknod ${tmp}/n$$ c 1 5 && echo mknod-ok; cat ${tmp}/n$$ 2>/dev/null | head -c1 | wc -c; }`;
    try {
      await driver.apply(path, {
        devices: [
          { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
          { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        ],
      });
      const dir = join(root!, path);
      const c = h.spawn(script);
      await driver.addProcess(path, c.pid!);
      const out = probe(c);
      go(c);
      // /dev/null opens, /dev/zero (1:5) does not; its node can be made but not read.
      expect((await out).trim().split('\n')).toEqual(['null-ok', 'zero-denied', 'mknod-ok', '0']);
      // Update: a new program allowing 1:5 too replaces the old one (one program attached, not two).
      await driver.apply(path, { devices: [{ allow: true, type: 'c', major: 1, access: 'rwm' }] });
      const c2 = h.spawn(script);
      await driver.addProcess(path, c2.pid!);
      const out2 = probe(c2);
      go(c2);
      expect((await out2).trim().split('\n')).toEqual(['null-ok', 'zero-ok', 'mknod-ok', '1']);
      const fd = openSync(dir, 'r');
      try {
        expect(queryDevicePrograms(fd)).toHaveLength(1);
      } finally {
        closeSync(fd);
      }
      // Outside the cgroup nothing changed.
      closeSync(openSync('/dev/zero', 'r'));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('CgroupsManager runs on it: killAll goes through cgroup.kill, delete leaves nothing', async () => {
    const m = new CgroupsManager({ driver, parent: h.parent, stateDir });
    try {
      await m.create('c3');
      const c = h.spawn('read go && { sleep 1000 & sleep 1000 & wait; }');
      await m.addProcess('c3', c.pid!);
      go(c);
      await until(async () => (await m.listProcesses('c3')).length === 3, 5000, 'three processes');
      await m.killAll('c3');
      expect(await m.listProcesses('c3')).toEqual([]);
      await m.delete('c3');
      expect(existsSync(join(root!, h.parent, 'c3'))).toBe(false);
    } finally {
      m.close();
    }
  });
});

function driverChildren(d: string): string[] {
  try {
    return readdirSync(d, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}
