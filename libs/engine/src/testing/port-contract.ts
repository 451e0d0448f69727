// The contract of the engine's ports (ports.ts), as one suite every
// implementation runs: the recording doubles the engine's unit tests use
// (port-contract.test.ts) and the gRPC adapters over the real services
// (port-contract.e2e.test.ts). containerd's snapshotter test suite is the
// model: a double that passes it cannot let an engine test pass on behaviour
// production does not have.
//
// What it holds each port to: creating calls are idempotent per key (a retry
// after a lost reply must not fail or leak), removing calls succeed on what is
// already gone, absent things are NotFound, and what one call makes the next
// one sees (a committed image resolves with one more layer and its config).
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isNotFound } from '@berth/errors';
import { emptyImageConfig } from '../merge';
import type { CgroupResources, EnginePorts, ResolvedImage } from '../ports';

export interface PortsUnderTest {
  ports: Pick<EnginePorts, 'images' | 'layers' | 'cgroups'>;
  /** A reference to an image the implementation has locally. */
  image: string;
}

const NO_LIMITS: CgroupResources = { memory: 0, memorySwap: 0, nanoCpus: 0, cpuShares: 0, cpusetCpus: '', pidsLimit: 0 };

const rejection = async (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);

/** Registers the contract's tests for the ports `setup` returns (called once per test). */
export function describePortContract(name: string, setup: () => Promise<PortsUnderTest> | PortsUnderTest): void {
  describe(`engine port contract: ${name}`, () => {
    let p: PortsUnderTest['ports'];
    let image: ResolvedImage;
    let key: string;
    const cleanups: (() => Promise<unknown>)[] = [];
    beforeEach(async () => {
      const u = await setup();
      p = u.ports;
      image = await p.images.resolve(u.image, 'never');
      key = randomBytes(32).toString('hex');
    });
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    });

    describe('images', () => {
      it('resolves a local image to its ID and layer chain; an absent one with pull "never" is NotFound', async () => {
        expect(image.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(image.layers.length).toBeGreaterThan(0);
        expect(isNotFound(await rejection(p.images.resolve(`bt-contract/absent-${key.slice(0, 8)}:1`, 'never')))).toBe(true);
      });

      it('a container hold is idempotent both ways, and an absent image cannot be held', async () => {
        await p.images.addContainerRef(image.digest, key);
        await p.images.addContainerRef(image.digest, key);
        await p.images.removeContainerRef(image.digest, key);
        await p.images.removeContainerRef(image.digest, key);
        expect(isNotFound(await rejection(p.images.addContainerRef(`sha256:${'0'.repeat(64)}`, key)))).toBe(true);
        await p.images.reconcileContainerRefs(new Map([[key, image.digest]]));
        cleanups.push(() => p.images.removeContainerRef(image.digest, key));
        await p.images.reconcileContainerRefs(new Map());
      });

      it('commit: the diff of a writable root on the image becomes an image with one more layer and the config sent', async () => {
        await p.layers.prepare(key, image.layers);
        cleanups.push(() => p.layers.remove(key));
        const layer = await p.layers.diff(key);
        expect(layer.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(layer.diffId).toMatch(/^sha256:[0-9a-f]{64}$/);
        const reference = `bt-contract/committed:${key.slice(0, 8)}`;
        const config = { ...emptyImageConfig(), cmd: ['echo', 'committed'], env: ['A=1'], labels: { contract: 'yes' } };
        const made = await p.images.createImage({ parentDigest: image.digest, layer, config, author: 'contract', comment: 'c', containerId: key, reference });
        const back = await p.images.resolve(reference, 'never');
        expect(back.digest).toBe(made.digest);
        expect(back.layers.slice(0, -1)).toEqual(image.layers);
        expect(back.layers).toHaveLength(image.layers.length + 1);
        expect(back.config).toMatchObject({ cmd: ['echo', 'committed'], env: ['A=1'], labels: { contract: 'yes' } });
        // The committed image can run: a root prepares on its whole chain.
        const next = randomBytes(32).toString('hex');
        await p.layers.prepare(next, back.layers);
        cleanups.push(() => p.layers.remove(next));
      });
    });

    describe('layers', () => {
      it('prepare is idempotent per key; mount gives the same root; remove twice is success', async () => {
        const a = await p.layers.prepare(key, image.layers);
        cleanups.push(() => p.layers.remove(key));
        const b = await p.layers.prepare(key, image.layers);
        expect(b.rootfs).toBe(a.rootfs);
        expect((await p.layers.mount(key)).rootfs).toBe(a.rootfs);
        await p.layers.remove(key);
        await p.layers.remove(key);
      });

      it('listRoots lists a prepared root until it is removed, and no layer of the image', async () => {
        await p.layers.prepare(key, image.layers);
        cleanups.push(() => p.layers.remove(key));
        const listed = await p.layers.listRoots();
        expect(listed).toContain(key);
        expect(listed.filter((k) => image.layers.includes(k))).toEqual([]);
        await p.layers.remove(key);
        expect(await p.layers.listRoots()).not.toContain(key);
      });

      it('mount and diff of a root never prepared are NotFound', async () => {
        expect(isNotFound(await rejection(p.layers.mount(key)))).toBe(true);
        expect(isNotFound(await rejection(p.layers.diff(key)))).toBe(true);
      });
    });

    describe('cgroups', () => {
      it('create is idempotent per id (same path); a new cgroup has no pids; remove twice is success', async () => {
        const a = await p.cgroups.create(key, NO_LIMITS);
        cleanups.push(() => p.cgroups.remove(key));
        expect((await p.cgroups.create(key, NO_LIMITS)).path).toBe(a.path);
        expect(await p.cgroups.pids(key)).toEqual([]);
        await p.cgroups.remove(key);
        await p.cgroups.remove(key);
      });

      it('pids and stats of a cgroup never created are NotFound', async () => {
        expect(isNotFound(await rejection(p.cgroups.pids(key)))).toBe(true);
        expect(isNotFound(await rejection(p.cgroups.readStats(key)))).toBe(true);
      });
    });
  });
}
