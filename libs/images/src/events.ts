// Event names and payloads the images service emits, after the state change
// is committed. service.ts publishes each on NATS as berth.images.image.<action>.
import { EventEmitter } from 'node:events';

export const ImageEvent = {
  Pulled: 'image.pulled',
  Pushed: 'image.pushed',
  Imported: 'image.imported',
  Loaded: 'image.loaded',
  Saved: 'image.saved',
  Tagged: 'image.tagged',
  /** A name was removed (rmi of one name, the names of a removed image). */
  Untagged: 'image.untagged',
  Committed: 'image.committed',
  /** The image itself is gone: no name and no holder left (after its untagged events). */
  Deleted: 'image.deleted',
} as const;
export type ImageEvent = (typeof ImageEvent)[keyof typeof ImageEvent];

export interface ImageEventPayload {
  /** Normalised reference (docker.io/library/busybox:latest). */
  name: string;
  /** Target descriptor digest (manifest or index). */
  digest: string;
  /** For tagged: the reference the new name was made from. */
  source?: string;
  /** Image id: "sha256:" + its config digest. */
  imageId?: string;
}

export interface ImageEvents extends EventEmitter {
  on(event: ImageEvent, listener: (payload: ImageEventPayload) => void): this;
  emit(event: ImageEvent, payload: ImageEventPayload): boolean;
}

export function createImageEvents(): ImageEvents {
  return new EventEmitter() as ImageEvents;
}
