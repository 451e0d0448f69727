// --network container:<name or id>, as Docker resolves it: at create the
// other container must exist and is recorded by its full id (the namespaces
// service knows containers by id; a rename later does not break the link);
// at each start it must be running, since the new process joins its network
// namespace.
import { FailedPreconditionError, InvalidArgumentError, NotFoundError, isNotFound } from '@berth/errors';
import type { ContainerStore } from '../container-store';
import type { ContainerRecord, HostConfig } from '../types';

/** The host config with `container:<ref>` replaced by `container:<full id>`. */
export function resolveSharedNetwork(store: ContainerStore, h: HostConfig): HostConfig {
  if (!h.networkMode.startsWith('container:')) return h;
  const ref = h.networkMode.slice('container:'.length);
  if (ref === '') throw new InvalidArgumentError('--network container: needs a container name or id, as in container:web', { field: 'network_mode' });
  try {
    return { ...h, networkMode: `container:${store.find(ref).id}` };
  } catch (e) {
    if (isNotFound(e)) throw new NotFoundError(`--network container:${ref}: no such container: ${ref}`, { field: 'network_mode' });
    throw e;
  }
}

/** Joining another container's network namespace needs that container running (Docker's rule). */
export function checkSharedNetwork(store: ContainerStore, rec: ContainerRecord): void {
  if (!rec.hostConfig.networkMode.startsWith('container:')) return;
  const other = rec.hostConfig.networkMode.slice('container:'.length);
  let state: string;
  try {
    state = store.get(other).state;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    throw new FailedPreconditionError(`cannot join the network of container ${other.slice(0, 12)}: it was removed; recreate ${rec.name} with another --network`, { field: 'network_mode' });
  }
  if (state !== 'running' && state !== 'paused') {
    throw new FailedPreconditionError(`cannot join the network of container ${other.slice(0, 12)}: it is not running (state: ${state}); start it first`, { field: 'network_mode' });
  }
}
