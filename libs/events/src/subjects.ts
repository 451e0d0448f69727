// Every NATS subject berth publishes on, in one place. The shape is
// berth.<service>.<resource>.<action>; payloads are in
// protos/berth/events/v1/events.proto, wrapped in a CloudEvents envelope.

/** The JetStream stream that keeps every berth event for replay. */
export const EVENTS_STREAM = 'BERTH_EVENTS';
/** Wildcard covering every berth subject. */
export const ALL_SUBJECTS = 'berth.>';

export type ContainerAction =
  | 'created' | 'started' | 'exited' | 'die' | 'oom' | 'paused' | 'unpaused' | 'restarted' | 'killed'
  | 'renamed' | 'removed' | 'exec_started' | 'exec_died' | 'committed' | 'updated' | 'archive-path' | 'extract-to-dir'
  | 'export' | 'health_status';

export type ImageAction = 'pulled' | 'pushed' | 'imported' | 'loaded' | 'saved' | 'tagged' | 'committed' | 'untagged' | 'deleted';
export type VolumeAction = 'created' | 'removed' | 'mounted' | 'unmounted';

export const subjects = {
  engineContainer: (action: ContainerAction) => `berth.engine.container.${action}`,
  cgroupsOom: 'berth.cgroups.container.oom',
  namespacesExited: 'berth.namespaces.container.exited',
  namespacesExecExited: 'berth.namespaces.container.exec_exited',
  imagesImage: (action: ImageAction) => `berth.images.image.${action}`,
  networksNetwork: (action: 'created' | 'removed') => `berth.networks.network.${action}`,
  networksContainer: (action: 'attached' | 'detached') => `berth.networks.container.${action}`,
  engineVolume: (action: VolumeAction) => `berth.engine.volume.${action}`,
} as const;

/** Validates a subject against the berth.<service>.<resource>.<action> shape. */
export function isBerthSubject(s: string): boolean {
  return /^berth\.[a-z]+\.[a-z_]+\.[a-z_]+$/.test(s);
}
