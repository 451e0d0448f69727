// docker commit, orchestrated: the changes checked before anything happens,
// the container frozen for the diff when asked (and thawed whatever happens),
// the writable layer diffed by the layers service, the image written and
// named by the images service (Images.Commit), `commit` announced. The config
// arithmetic (imageConfigOf, applyChanges) is commit.ts.
import { FailedPreconditionError, InvalidArgumentError } from '@berth/errors';
import { applyChanges, imageConfigOf } from './commit';
import type { EngineContext } from './context';

/** docker commit options. */
export interface CommitOptions {
  repository?: string;
  tag?: string;
  author?: string;
  message?: string;
  changes?: string[];
  pause?: boolean;
}

export class ContainerCommit {
  constructor(private readonly ctx: EngineContext) {}

  /**
   * docker commit: the writable layer as a new image on top of the
   * container's, config = the container's with `changes` applied. Changes are
   * checked before anything happens; with pause a running container is frozen
   * for the diff (and thawed whatever happens).
   */
  async commit(ref: string, o: CommitOptions = {}): Promise<string> {
    const c = this.ctx.store.find(ref);
    const config = applyChanges(imageConfigOf(c.config), o.changes ?? []);
    if (o.tag && !o.repository) throw new InvalidArgumentError('a tag needs a repository (REPOSITORY[:TAG])', { field: 'tag' });
    const reference = o.repository ? `${o.repository}:${o.tag || 'latest'}` : '';
    if (!c.rootfs) throw new FailedPreconditionError(`container ${c.name} has no root filesystem to commit`, { field: 'state' });
    const freeze = (o.pause ?? true) && c.state === 'running';
    if (freeze) await this.ctx.ports.cgroups.freeze(c.id);
    let layer;
    try {
      layer = await this.ctx.ports.layers.diff(c.id);
    } finally {
      if (freeze) await this.ctx.ports.cgroups.thaw(c.id);
    }
    const { digest } = await this.ctx.ports.images.createImage({
      parentDigest: c.imageDigest, layer, config, author: o.author ?? '', comment: o.message ?? '', containerId: c.id, reference,
    });
    this.ctx.emit(c, 'commit', { imageId: digest });
    return digest;
  }
}
