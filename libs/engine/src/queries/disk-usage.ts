// What containers take on disk: docker ps --size (size_rw: what the container
// wrote, its writable layer's disk use; size_root_fs: that plus its image's
// size as `berth images` shows it) and the space container prune reclaims
// (what each pruned container wrote, measured before it goes). The numbers
// are the layers and images services' (grpc-ports/disk-usage.ts).
import type { Engine } from '../engine';
import type { ContainerRecord } from '../types';

export interface DiskUsageSource {
  /** Bytes the container's writable layer uses; 0 when its root is gone. */
  writableSize(id: string): Promise<number>;
  /** The image's size as `berth images` shows it; 0 when it cannot be told. */
  imageSize(ref: string): Promise<number>;
}

/** size_rw and size_root_fs of each container, in order (each image asked once). */
export async function containerSizes(list: ContainerRecord[], usage: DiskUsageSource): Promise<{ rw: number; rootFs: number }[]> {
  const images = new Map<string, Promise<number>>();
  return Promise.all(list.map(async (c) => {
    const ref = c.imageDigest || c.image;
    if (!images.has(ref)) images.set(ref, usage.imageSize(ref));
    const rw = await usage.writableSize(c.id);
    return { rw, rootFs: rw + (await images.get(ref)!) };
  }));
}

/** docker container prune with the space it reclaimed (what the pruned containers wrote). */
export async function pruneReclaiming(engine: Engine, filters: Record<string, string[]>, usage: DiskUsageSource): Promise<{ deleted: string[]; spaceReclaimed: number }> {
  const stopped = engine.list({ all: true, filters: { status: ['created', 'exited', 'dead'] }, limit: 0 });
  const before = new Map(await Promise.all(stopped.map(async (c) => [c.id, await usage.writableSize(c.id).catch(() => 0)] as const)));
  const deleted = await engine.pruneContainers(filters);
  return { deleted, spaceReclaimed: deleted.reduce((a, id) => a + (before.get(id) ?? 0), 0) };
}
