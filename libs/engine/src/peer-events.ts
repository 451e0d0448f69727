// The Events rpc beyond containers: what the images and networks services
// and the engine's own volumes publish on NATS, translated into the engine's
// Event (type image, network or volume) so one ordered stream (one JetStream
// consumer) carries everything `docker events` shows. Without a type filter
// the rpc streams container events only, as it always did; the Docker API
// gateway asks for every type.
//
// Subjects and payloads (libs/events/src/subjects.ts, events.proto):
//   berth.images.image.<action>        ImageEvent   -> image   <action>
//   berth.networks.network.<action>    NetworkEvent -> network created|removed
//   berth.networks.container.<action>  NetworkEvent -> network attached|detached
//   berth.engine.volume.<action>       VolumeEvent  -> volume  created|removed|mounted|unmounted
import { natsSubjectOf, type CloudEvent } from '@berth/events';
import { labelMatches } from './container-store';

/** berth.engine.v1.Event as the handler writes it. */
export interface WireEvent {
  type: string;
  action: string;
  id: string;
  name: string;
  image: string;
  timeUnixMs: number;
  attributes: Record<string, string>;
}

export const PEER_TYPES = ['image', 'network', 'volume'];

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Whether the filters ask for any type besides container (the subscription then covers every subject). */
export function wantsPeerEvents(filters: Record<string, string[]>): boolean {
  return (filters.type ?? []).some((t) => PEER_TYPES.includes(t));
}

/** Container events pass the type filter and have no network= or volume= filter excluding them. */
export function wantsContainerEvents(filters: Record<string, string[]>): boolean {
  return (!filters.type?.length || filters.type.includes('container')) && !filters.network?.length && !filters.volume?.length;
}

/** The Event for a peer's CloudEvent; undefined for subjects that are not passed on (exits, OOM: the engine reports those as container events). */
export function peerEventFromCloudEvent(ce: CloudEvent): WireEvent | undefined {
  const [, service, resource, action = ''] = natsSubjectOf(ce).split('.');
  const d = (ce.data ?? {}) as Record<string, unknown>;
  const timeUnixMs = Date.parse(ce.time) || 0;
  const base = { action, image: '', timeUnixMs };
  if (service === 'images' && resource === 'image') {
    const ref = str(d['reference']);
    return { ...base, type: 'image', id: str(d['imageId']) || ref, name: ref, attributes: { name: ref, ...(str(d['digest']) ? { digest: str(d['digest']) } : {}) } };
  }
  if (service === 'networks' && (resource === 'network' || resource === 'container')) {
    const name = str(d['network']);
    const container = str(d['containerId']);
    return {
      ...base, type: 'network', id: str(d['networkId']) || name, name,
      attributes: { name, type: 'bridge', ...(resource === 'container' && container ? { container } : {}) },
    };
  }
  if (service === 'engine' && resource === 'volume') {
    const name = str(d['name']);
    const labels = (d['labels'] && typeof d['labels'] === 'object' ? d['labels'] : {}) as Record<string, string>;
    const driver = str(d['driver']) || 'local';
    // mount / unmount (a container using it started / stopped): Docker's attributes, not the labels.
    if (resource === 'volume' && str(d['container'])) {
      return {
        ...base, type: 'volume', id: name, name,
        attributes: {
          driver, container: str(d['container']),
          ...(d['destination'] ? { destination: str(d['destination']), 'read/write': String(d['readWrite'] === true), propagation: '' } : {}),
        },
      };
    }
    return { ...base, type: 'volume', id: name, name, attributes: { ...labels, driver } };
  }
  return undefined;
}

/** "docker.io/library/busybox:latest" -> the names a user may filter it by. */
function referenceForms(ref: string): string[] {
  const short = ref.replace(/^docker\.io\/library\//, '').replace(/^docker\.io\//, '');
  const noTag = short.replace(/:[^/:@]+$/, '');
  return [ref, short, noTag];
}

/**
 * OR within a key, AND across keys, as moby's daemon/events/filter.go:
 * image= matches image events by reference or id, network= network events by
 * name or id prefix, volume= volume events by name, label= the attributes.
 * A filter naming another type's actor excludes the event: container= passes
 * container events only (a network connect's actor is the network), as in
 * Docker.
 */
export function peerEventMatches(ev: WireEvent, f: Record<string, string[]>): boolean {
  if (!f.type?.includes(ev.type)) return false;
  if (f.event?.length && !f.event.includes(ev.action)) return false;
  if (f.image?.length && (ev.type !== 'image' || !f.image.some((i) => i === ev.id || referenceForms(ev.name).includes(i)))) return false;
  if (f.network?.length && (ev.type !== 'network' || !f.network.some((n) => n === ev.name || (n.length > 0 && ev.id.startsWith(n))))) return false;
  if (f.volume?.length && (ev.type !== 'volume' || !f.volume.includes(ev.name))) return false;
  if (f.container?.length) return false;
  if (f.label?.length && !f.label.every((l) => labelMatches(ev.attributes, l))) return false;
  return true;
}
