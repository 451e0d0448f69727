// The conformance suite every CgroupDriver runs (containerd's
// testsuite.SnapshotterSuite idea): behaviour the manager relies on,
// independent of the hierarchy. Needs no processes, so it runs against the
// host's real hierarchy and against the cgroup2-shaped temp tree alike.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import type { CgroupDriver } from '../index';

export interface DriverFixture {
  driver: CgroupDriver;
  /** A parent path the suite may create cgroups under (removed by cleanup). */
  base: string;
  cleanup(): Promise<void> | void;
}

export function cgroupDriverConformance(name: string, setup: () => DriverFixture | Promise<DriverFixture>): void {
  describe(`CgroupDriver conformance: ${name}`, () => {
    let fx: DriverFixture;
    beforeEach(async () => {
      fx = await setup();
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('create is idempotent, makes nested parents, and the cgroup shows up as a child', async () => {
      const { driver, base } = fx;
      await driver.create(`${base}/pod/c1`);
      await driver.create(`${base}/pod/c1`);
      expect(await driver.exists(`${base}/pod/c1`)).toBe(true);
      expect(await driver.children(`${base}/pod`)).toEqual(['c1']);
      expect(await driver.children(base)).toEqual(['pod']);
      expect(driver.directories(`${base}/pod/c1`).length).toBeGreaterThan(0);
    });

    it('applies limits and reads the same limits back', async () => {
      const { driver, base } = fx;
      const path = `${base}/c1`;
      await driver.create(path);
      await driver.apply(path, { memory: { limit: 64 * 2 ** 20, reservation: 32 * 2 ** 20 }, cpu: { quota: 50000, period: 100000, shares: 1024 }, pids: { limit: 20 } });
      expect(await driver.limits(path)).toEqual({ memoryLimit: 64 * 2 ** 20, memoryReservation: 32 * 2 ** 20, cpuQuota: 50000, cpuPeriod: 100000, cpuShares: 1024 });
      expect((await driver.stats(path)).pids.limit).toBe(20);
      expect((await driver.stats(path)).memory.limit).toBe(64 * 2 ** 20);
      // Only what is set changes.
      await driver.apply(path, { cpu: { quota: 25000 } });
      const l = await driver.limits(path);
      expect([l.cpuQuota, l.cpuPeriod, l.memoryLimit]).toEqual([25000, 100000, 64 * 2 ** 20]);
      // Unlimited spellings.
      await driver.apply(path, { cpu: { quota: -1 }, memory: { limit: -1 }, pids: { limit: 0 } });
      const u = await driver.limits(path);
      expect([u.cpuQuota, u.memoryLimit]).toEqual([-1, 0]);
      expect((await driver.stats(path)).pids.limit).toBe(0);
    });

    it('an empty cgroup has no processes and zero tasks, and freezes and thaws', async () => {
      const { driver, base } = fx;
      const path = `${base}/c1`;
      await driver.create(path);
      expect(await driver.processes(path)).toEqual([]);
      const s = await driver.stats(path);
      expect([s.processes, s.pids.current]).toEqual([0, 0]);
      expect(await driver.usage(path)).toEqual({ memory: expect.any(Number), pids: 0 });
      expect(await driver.oomKillCount(path)).toBe(0);
      expect(await driver.isFrozen(path)).toBe(false);
      await driver.freeze(path, 2000);
      expect(await driver.isFrozen(path)).toBe(true);
      await driver.thaw(path);
      expect(await driver.isFrozen(path)).toBe(false);
    });

    it('remove takes nested children with it, leaves nothing, and is idempotent', async () => {
      const { driver, base } = fx;
      await driver.create(`${base}/c1/inner`);
      await driver.remove(`${base}/c1`);
      expect(await driver.exists(`${base}/c1`)).toBe(false);
      expect(await driver.children(base)).toEqual([]);
      await driver.remove(`${base}/c1`);
    });

    it('a watch on OOM events can be opened and closed on a new cgroup', async () => {
      const { driver, base } = fx;
      await driver.create(`${base}/c1`);
      const w = await driver.watchOom(`${base}/c1`, () => undefined);
      w.close();
      w.close();
    });
  });
}
