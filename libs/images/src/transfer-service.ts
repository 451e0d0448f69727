// The transfer service's local API: moving images between this store and
// registries or archives (Pull, Push, Login, Import, Load, Save RPCs).
import type { Readable } from 'node:stream';
import type { ImageRecord } from './image-store.js';
import { pullImage, type PullOptions, type PullProgress } from './pull.js';
import { streamProgress, type Streamed } from './progress-stream.js';
import { apiHost } from './registry/client.js';
import type { AuthConfig } from './registry/auth-config.js';
import { RegistryClient } from './registry/client.js';
import type { TransferContext } from './transfer-context.js';
import { pushImage, type PushOptions, type PushProgress } from './push.js';
import { importRootfs, type ImportOptions } from './archive/import.js';
import { loadArchive, type LoadOptions } from './archive/load.js';
import { saveImages, type SaveOptions } from './archive/save.js';
import { ensureBusyboxImage, type BusyboxOptions } from './archive/busybox.js';
import { listTags } from './tags.js';

export class TransferService {
  constructor(
    readonly ctx: TransferContext,
    private readonly authConfig: AuthConfig,
    private readonly insecureRegistries: string[],
    private readonly registryConfigDir?: string,
  ) {}

  /** Pulls `reference` and applies its layers; resolves with the image record once it is runnable. */
  pull(reference: string, opts: PullOptions = {}): Promise<ImageRecord> {
    return pullImage(this.ctx, reference, opts);
  }

  /** pull() as an async iterator of progress, ending with the record. */
  pullStream(reference: string, opts: Omit<PullOptions, 'onProgress'> = {}): AsyncGenerator<Streamed<PullProgress, ImageRecord>> {
    return streamProgress((onProgress) => pullImage(this.ctx, reference, { ...opts, onProgress }));
  }

  /** The tags of a repository on its registry, sorted (pull --all-tags). */
  listTags(repository: string, pageSize?: number): Promise<string[]> {
    return listTags(this.ctx, repository, pageSize);
  }

  /** Pushes a local image to `remote` (default: its own name). */
  push(local: string, remote?: string, opts: PushOptions = {}): Promise<{ reference: string; digest: string }> {
    return pushImage(this.ctx, local, remote, opts);
  }

  pushStream(local: string, remote?: string, opts: Omit<PushOptions, 'onProgress'> = {}): AsyncGenerator<Streamed<PushProgress, { reference: string; digest: string }>> {
    return streamProgress((onProgress) => pushImage(this.ctx, local, remote, { ...opts, onProgress }));
  }

  /**
   * Verifies `username`/`password` against the registry (its /v2/ challenge,
   * then the token server for bearer registries) and stores them.
   */
  async login(registry: string, username: string, password: string): Promise<void> {
    const client = new RegistryClient(registry, {
      authConfig: this.authConfig,
      insecureRegistries: this.insecureRegistries,
      credentials: { username, password },
      ...(this.registryConfigDir ? { hostsDir: this.registryConfigDir } : {}),
    });
    await client.verifyLogin();
    await this.authConfig.set(registry, { username, password });
    this.ctx.hosts.reset(registry);
    this.ctx.hosts.reset(apiHost(registry));
  }

  async logout(registry: string): Promise<boolean> {
    const removed = await this.authConfig.remove(registry);
    this.ctx.hosts.reset(registry);
    return removed;
  }

  /** docker import: a rootfs tar becomes a one-layer image named `name`. */
  import(rootfsTar: Readable, name: string, opts: ImportOptions = {}): Promise<ImageRecord> {
    return importRootfs(this.ctx, rootfsTar, name, opts);
  }

  /** docker load: a docker-archive or OCI archive; resolves with the records created. */
  load(archive: Readable, opts: LoadOptions = {}): Promise<ImageRecord[]> {
    return loadArchive(this.ctx, archive, opts);
  }

  /** docker save: a tar stream of the images in OCI layout or docker-archive format. */
  save(refs: string[], opts: SaveOptions): Promise<Readable> {
    return saveImages(this.ctx, refs, opts);
  }

  /** Creates busybox:latest from the host's busybox-static binary if no such image exists. */
  ensureBusyboxImage(opts: BusyboxOptions = {}): Promise<ImageRecord> {
    return ensureBusyboxImage(this.ctx, opts);
  }
}
