// Building a fresh container record (state "created").
import { defaultContainerConfig, defaultHostConfig, emptyNetworkSettings } from './types';
import type { ContainerConfig, ContainerRecord, HostConfig } from './types';

export interface NewRecordInput {
  id: string;
  name: string;
  image: string;
  imageDigest?: string;
  config?: Partial<ContainerConfig>;
  hostConfig?: Partial<HostConfig>;
  /** Process argv after the image merge: path = args[0]. */
  args?: string[];
  logPath?: string;
  /** Epoch ms; injected so tests control time. */
  now: number;
}

export function newContainerRecord(i: NewRecordInput): Omit<ContainerRecord, 'seq'> {
  const args = i.args ?? [];
  return {
    id: i.id,
    name: i.name,
    image: i.image,
    imageDigest: i.imageDigest ?? '',
    config: { ...defaultContainerConfig(i.image), ...i.config },
    hostConfig: { ...defaultHostConfig(), ...i.hostConfig },
    state: 'created',
    createdAt: i.now,
    startedAt: 0,
    finishedAt: 0,
    exitCode: 0,
    oomKilled: false,
    error: '',
    restartCount: 0,
    manuallyStopped: false,
    pid: 0,
    path: args[0] ?? '',
    args: args.slice(1),
    networkSettings: emptyNetworkSettings(),
    rootfs: '',
    mounts: [],
    logPath: i.logPath ?? '',
  };
}
