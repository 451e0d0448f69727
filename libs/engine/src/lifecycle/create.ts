// docker create: a record first (its name taken at once), then the create
// saga (run-plan.ts: resolve the image, prepare the writable root; then the
// volumes step, volume-mounts.ts), then the record completed with the merged
// config and the root, and `created` announced. A failed saga rolls back its
// steps and deletes the record, so nothing is left.
//
// A create runs on the new container's operation chain: a start or remove of
// it (a client that retried a create cut by its deadline and found this one
// by name) waits for the create instead of finding no root. A create a
// crashed engine left half done (a record without a root) that holds the
// wanted name is discarded first (recovery.ts, discardInterruptedCreate).
import { join } from 'node:path';
import { InvalidArgumentError, isAlreadyExists, isNotFound } from '@berth/errors';
import { newContainerId } from '../container-store';
import type { EngineContext } from '../context';
import { uniqueName, validateContainerName } from '../names';
import type { PullPolicy } from '../ports';
import { newContainerRecord } from '../record';
import { discardInterruptedCreate } from '../recovery';
import { createSteps, type RunContext } from '../run-plan';
import { checkSecurityOpts } from '../security';
import type { ContainerConfig, ContainerRecord, HostConfig } from '../types';
import { allocateIdMapping, loadIdPool, passwdUid } from '../userns';
import { prepareVolumesStep } from '../volume-mounts';
import { resolveSharedNetwork } from './shared-network';
import { resolveSharedNamespaces } from '../namespace-options';

export interface CreateRequest {
  /** "" or undefined: generate adjective_surname. */
  name?: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  pull?: PullPolicy;
}

export class ContainerCreation {
  /** Containers this engine is creating now (their records have no root yet). */
  private readonly creating = new Set<string>();

  constructor(private readonly ctx: EngineContext) {}

  /** True while this engine is creating `id` (recovery must not discard its record). */
  isCreating(id: string): boolean {
    return this.creating.has(id);
  }

  /** docker create: record + image + writable root + volumes. */
  async create(request: CreateRequest): Promise<ContainerRecord> {
    const req = { ...request, hostConfig: resolveSharedNamespaces(this.ctx.store, resolveSharedNetwork(this.ctx.store, request.hostConfig)) };
    if (req.hostConfig.autoRemove && req.hostConfig.restartPolicy.name !== 'no') {
      throw new InvalidArgumentError('conflicting options: --restart and --rm; a container removed on exit cannot be restarted', { field: 'restart' });
    }
    const id = newContainerId();
    this.creating.add(id);
    try {
      // On the container's chain: a start or remove of it (a client that
      // retried a create cut by its deadline and found this one by name)
      // waits for the create to finish instead of finding no root.
      return await this.ctx.serial(id, () => this.createNow(id, req));
    } finally {
      this.creating.delete(id);
    }
  }

  private async createNow(id: string, req: CreateRequest): Promise<ContainerRecord> {
    // --log-opt path= (Podman's k8s-file option; the CRI's log_directory/log_path), else the state dir.
    const logPath = req.hostConfig.logConfig.config['path'] || join(this.ctx.stateDir, 'containers', id, 'container.log');
    const userns = req.hostConfig.usernsMode;
    if (userns !== '' && userns !== 'host' && userns !== 'auto') {
      throw new InvalidArgumentError(`invalid userns mode "${userns}": use "host", "auto" or leave it empty`, { field: 'host_config.userns_mode' });
    }
    checkSecurityOpts(req.hostConfig);
    const wanted = req.name ? validateContainerName(req.name) : undefined;
    if (wanted) await this.discardLeftoverCreate(wanted);
    // --userns auto: a host id range no other container holds, recorded in
    // the record; the pick and the insert run with no await between them, so
    // concurrent creates cannot take the same range (userns.ts).
    const idMapping = userns === 'auto' ? this.allocateIdMapping() : undefined;
    const insert = (name: string): ContainerRecord => this.ctx.store.insert({
      ...newContainerRecord({ id, name, image: req.config.image, config: req.config, hostConfig: req.hostConfig, logPath, now: this.ctx.clock.now() }),
      ...(idMapping ? { idMapping } : {}),
    });
    let rec: ContainerRecord;
    if (wanted) rec = insert(wanted);
    else {
      // A generated name can be taken between the check and the insert (another create): try again.
      for (let attempt = 0; ; attempt++) {
        try {
          rec = insert(uniqueName((n) => this.ctx.store.nameTaken(n)));
          break;
        } catch (e) {
          if (!isAlreadyExists(e) || attempt >= 3) throw e;
        }
      }
    }
    const name = rec.name;
    const run: RunContext = {
      id, name, config: req.config, hostConfig: req.hostConfig, pull: req.pull ?? 'missing', logPath, mounts: [],
      ...(idMapping ? { idMapping } : {}),
    };
    try {
      await this.ctx.runSteps([...createSteps(this.ctx.ports), prepareVolumesStep(this.ctx.volumes, (ref) => this.ctx.store.find(ref))], run);
    } catch (e) {
      this.ctx.store.delete(id); // volume_refs rows cascade
      throw e;
    }
    const merged = run.merged!;
    const args = run.args!;
    const done = this.ctx.store.update(id, (cur) => ({
      ...cur, config: merged, imageDigest: run.image!.digest, image: req.config.image,
      path: args[0] ?? '', args: args.slice(1), rootfs: run.rootfs!, mounts: run.mounts,
    }));
    if (idMapping) this.ctx.syncUsernsTraversal();
    this.ctx.freshRoots.set(id, this.ctx.clock.now());
    this.ctx.emit(done, 'created');
    return done;
  }

  /**
   * A name held by a create a crashed engine left half done (no root
   * recorded, not being created here) is freed now instead of when recovery
   * gets to it (which waits for every service): a client retrying its create
   * by name after an engine restart must not get the leftover.
   */
  private async discardLeftoverCreate(name: string): Promise<void> {
    let holder: ContainerRecord;
    try {
      holder = this.ctx.store.find(name);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    if (holder.name !== name || holder.state !== 'created' || holder.rootfs !== '' || this.creating.has(holder.id)) return;
    await discardInterruptedCreate(this.ctx, holder);
  }

  /** A free --userns auto range: the pool (userns.ts) minus every record's range. */
  private allocateIdMapping(): NonNullable<ContainerRecord['idMapping']> {
    const held = this.ctx.store.list({ all: true }).flatMap((r) => (r.idMapping ? [r.idMapping] : []));
    return allocateIdMapping(loadIdPool({ uidOf: (n) => passwdUid(n) }), held);
  }
}
