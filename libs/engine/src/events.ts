// Container events, emitted after the state change they report is committed
// to the store, in order created -> started -> (die -> exited | restarted ->
// started) -> removed for one container. service.ts publishes each as a NATS
// CloudEvent on berth.engine.container.<action> (payload
// berth.events.v1.ContainerEvent).
import { EventEmitter } from 'node:events';

/**
 * Actions. `die` is every death of the container's process (Docker's name);
 * `exited` is the container reaching the exited state (not emitted when the
 * restart policy restarts it: then `restarted` follows `die`).
 */
export type ContainerAction =
  | 'created' | 'started' | 'die' | 'exited' | 'oom' | 'paused' | 'unpaused' | 'restarted'
  | 'killed' | 'stopped' | 'renamed' | 'removed' | 'updated' | 'commit' | 'exec_started' | 'exec_died'
  // docker cp: Docker's names for reading a path out (CopyFrom) and extracting into one (CopyTo).
  | 'archive-path' | 'extract-to-dir'
  // docker export: announced as the export of the container's root begins (Docker's "export").
  | 'export'
  // A healthcheck status change (healthStatus says to what: healthy or unhealthy), Docker's "health_status: <status>".
  | 'health_status';

export interface ContainerEvent {
  id: string;
  name: string;
  image: string;
  action: ContainerAction;
  /** Epoch ms. */
  time: number;
  /** For die, exited, exec_died. */
  exitCode?: number;
  /** For killed ("SIGTERM"). */
  signal?: string;
  /** For renamed: the old name. */
  oldName?: string;
  /** For commit: the new image digest. */
  imageId?: string;
  /** For exec_*: the exec id. */
  execId?: string;
  /** For health_status: "healthy" | "unhealthy" (Docker announces no return to "starting"). */
  healthStatus?: string;
  labels: Record<string, string>;
}

/**
 * Emits each event twice: on "container.<action>" and on "event" (for
 * subscribers wanting all, such as the NATS publisher and `berth events`).
 */
export class EngineEvents extends EventEmitter {
  publish(ev: ContainerEvent): void {
    this.emit(`container.${ev.action}`, ev);
    this.emit('event', ev);
  }
}
