// The volumes step of the create saga: -v, --mount and --tmpfs, and the
// image's VOLUMEs no user mount covers, resolved to mount points, creating
// volumes as Docker does (a named volume that does not exist yet, an
// anonymous one for each image VOLUME). Each volume the container uses gets a
// reference to it (volume_refs), which rm -v and volume rm look at; the undo
// drops the references and the volumes this step created, nothing else.
import { InvalidArgumentError, NotFoundError } from '@berth/errors';
import type { RunContext } from './run-plan';
import type { SagaStep } from './saga';
import type { ContainerRecord, MountPoint } from './types';
import { chownToContainerRoot } from './userns';
import type { VolumeStore } from './volumes';

/** Resolves -v/--tmpfs and image VOLUMEs to mount points (ctx.mounts), creating volumes as Docker does. */
export function prepareVolumesStep(volumes: VolumeStore, findContainer?: (ref: string) => ContainerRecord): SagaStep<RunContext> {
  const created: string[] = [];
  return {
    name: 'prepareVolumes',
    run: async (ctx) => {
      const mounts: MountPoint[] = [];
      const dests = new Set<string>();
      for (const m of ctx.hostConfig.mounts) {
        if (dests.has(m.target)) throw new InvalidArgumentError(`duplicate mount point: ${m.target}`, { field: 'volume' });
        dests.add(m.target);
        const options = m.options.filter((o) => o !== 'ro' && o !== 'rw');
        if (m.type === 'bind') {
          mounts.push({ type: 'bind', name: '', source: m.source, destination: m.target, rw: !m.readOnly, options });
        } else if (m.type === 'tmpfs') {
          mounts.push({ type: 'tmpfs', name: '', source: '', destination: m.target, rw: !m.readOnly, options });
        } else {
          // An existing named volume is used as it is (whatever options it was created with).
          const existing = m.source !== '' ? volumes.find(m.source) : undefined;
          const v = existing ?? volumes.create(m.source ? { name: m.source } : {});
          if (!existing) created.push(v.name);
          // A volume made for a --userns auto container belongs to its root (Podman does the same).
          if (!existing && ctx.idMapping) chownToContainerRoot(v.mountpoint, ctx.idMapping);
          volumes.addRef(v.name, ctx.id);
          mounts.push({ type: 'volume', name: v.name, source: v.mountpoint, destination: m.target, rw: !m.readOnly, options });
        }
      }
      // --volumes-from: the other container's volumes and binds at the same paths (its tmpfs are its own).
      for (const entry of ctx.hostConfig.volumesFrom ?? []) {
        const [ref, mode] = entry.split(':') as [string, string | undefined];
        const from = findContainer ? findContainer(ref) : undefined;
        if (!from) throw new NotFoundError(`--volumes-from ${ref}: no such container`, { field: 'volumes_from' });
        for (const m of from.mounts) {
          if (m.type === 'tmpfs' || dests.has(m.destination)) continue;
          dests.add(m.destination);
          if (m.type === 'volume') volumes.addRef(m.name, ctx.id);
          mounts.push({ ...m, rw: mode === 'ro' ? false : mode === 'rw' ? true : m.rw });
        }
      }
      // Image VOLUMEs not covered by a user mount get anonymous volumes.
      for (const path of ctx.merged?.volumes ?? []) {
        if (dests.has(path)) continue;
        dests.add(path);
        const v = volumes.create({});
        created.push(v.name);
        if (ctx.idMapping) chownToContainerRoot(v.mountpoint, ctx.idMapping);
        volumes.addRef(v.name, ctx.id);
        mounts.push({ type: 'volume', name: v.name, source: v.mountpoint, destination: path, rw: true, options: [] });
      }
      // --shm-size: the container's /dev/shm at that size, unless a mount of the request is there.
      const shm = ctx.hostConfig.shmSize;
      if (shm && !dests.has('/dev/shm')) {
        mounts.push({ type: 'tmpfs', name: '', source: '', destination: '/dev/shm', rw: true, options: ['noexec', 'mode=1777', `size=${shm}`] });
      }
      ctx.mounts = mounts;
    },
    undo: async (ctx) => {
      volumes.removeRefs(ctx.id);
      for (const name of created) volumes.remove(name, { force: true });
    },
  };
}
