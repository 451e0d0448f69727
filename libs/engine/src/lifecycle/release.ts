// Releasing a container's runtime: what a process holds in the other
// services (its process state in namespaces, its network attachment and hosts
// files in networks, its cgroup), let go at its exit, at a forced remove and
// when recovery finds an exit committed but not released. The writable root
// stays (restart, commit, logs) unless the container is being removed, when
// it goes alongside (releaseRoot).
//
// Every release is idempotent: absent things are fine (NotFound is not an
// error), and a peer being restarted is waited for (peer-retry.ts). Attaches
// streaming the process's stdio hold it (runtime-holds.ts): the release waits
// for them first.
import { isNotFound } from '@berth/errors';
import type { EngineContext } from '../context';
import { RuntimeHolds } from '../runtime-holds';

export class RuntimeRelease {
  /** Attaches streaming a process's stdio; its release waits for them (runtime-holds.ts). */
  private readonly holds = new RuntimeHolds();

  constructor(private readonly ctx: EngineContext) {}

  /**
   * Keeps container `id`'s process state (namespaces service) from being
   * deleted while an attach streams it; call the returned function when the
   * stream ends. undefined when the exit is already being cleaned up.
   */
  hold(id: string): (() => void) | undefined {
    return this.holds.hold(id);
  }

  /** `alongside` runs in parallel with the network/hosts/cgroup release, after the process is deleted. */
  release(id: string, alongside?: () => Promise<void>): Promise<void> {
    return this.holds.afterHolds(id, () => this.releaseNow(id, alongside));
  }

  /**
   * The writable root and the image ref of a container being removed,
   * released early (in parallel with the rest of its runtime). false when
   * that failed: the removal then tries again and reports the error.
   */
  async releaseRoot(id: string, imageDigest: string): Promise<boolean> {
    const { ports } = this.ctx;
    try {
      await Promise.all([
        this.ctx.whileUnavailable(() => ports.layers.remove(id)),
        imageDigest ? this.ctx.whileUnavailable(() => ports.images.removeContainerRef(imageDigest, id)) : undefined,
      ]);
      return true;
    } catch (e) {
      this.ctx.warn(`releasing the root of container ${id} (removal retries): ${(e as Error).message}`);
      return false;
    }
  }

  /**
   * The process first: deleting it drops the last reference to its network
   * namespace, and the kernel then tears the veth down with the namespace
   * (a Detach before that deletes the link itself under the RTNL lock,
   * ~20 ms more). Then the network, hosts files and cgroup, which are
   * independent, in parallel.
   */
  private async releaseNow(id: string, alongside?: () => Promise<void>): Promise<void> {
    const { ports } = this.ctx;
    const release = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try { await this.ctx.whileUnavailable(fn); } catch (e) { if (!isNotFound(e)) this.ctx.warn(`${what} of container ${id}: ${(e as Error).message}`); }
    };
    await release('delete process', () => ports.namespaces.delete(id));
    await Promise.all([
      release('detach network', () => ports.networks.detach(id)),
      release('remove hosts files', () => ports.networks.removeHostsFiles(id)),
      release('remove cgroup', () => ports.cgroups.remove(id)),
      ...(alongside ? [alongside()] : []),
    ]);
  }
}
