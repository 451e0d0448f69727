// @berth/engine: the engine's local logic (container records, state machine,
// config merge, run saga, restart policy, recovery, events, inspect, volumes,
// logs). The gRPC service in apps/engine wraps this; see docs/design/engine.md.
export * from './types';
export * from './names';
export * from './state';
export * from './db';
export * from './container-store';
export * from './record';
export * from './merge';
export * from './user';
export * from './ports';
export * from './saga';
export * from './run-plan';
export * from './rootfs-reader';
export * from './volumes';
export * from './restart';
export * from './events';
export * from './engine';
export * from './recovery';
export * from './inspect';
export type { LogEntry } from '@berth/cri-log';
export * from './summary';
export * from './stats';
export * from './event-filter';
export * from './top';
export * from './wire';
export * from './commit';
export { engineModule } from './service';
