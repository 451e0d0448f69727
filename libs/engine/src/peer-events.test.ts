// The Events rpc's other types (peer-events.ts): NATS CloudEvents of the
// images and networks services and the engine's volumes, as Events, and the
// filters docker events takes on them.
import { describe, expect, it } from 'vitest';
import { makeCloudEvent } from '@berth/events';
import { peerEventFromCloudEvent, peerEventMatches, wantsContainerEvents, wantsPeerEvents } from './peer-events';

const at = (subject: string, data: unknown) => ({ ...makeCloudEvent('x', subject, data), time: '2026-12-07T10:00:00.000Z' });

describe('peer events', () => {
  const untag = peerEventFromCloudEvent(at('berth.images.image.untagged', { reference: 'docker.io/library/busybox:1', digest: 'sha256:m', imageId: 'sha256:cfg', action: 'untagged' }))!;
  const connect = peerEventFromCloudEvent(at('berth.networks.container.attached', { network: 'appnet', networkId: 'abc123', action: 'attached', containerId: 'c0ffee', address: '10.0.0.2/24' }))!;
  const vol = peerEventFromCloudEvent(at('berth.engine.volume.created', { name: 'data', driver: 'local', action: 'created', labels: { team: 'a' } }))!;

  it('translates each service\'s payload; subjects the engine reports otherwise are not passed on', () => {
    expect(untag).toEqual({ type: 'image', action: 'untagged', id: 'sha256:cfg', name: 'docker.io/library/busybox:1', image: '', timeUnixMs: Date.parse('2026-12-07T10:00:00Z'), attributes: { name: 'docker.io/library/busybox:1', digest: 'sha256:m' } });
    expect(connect).toMatchObject({ type: 'network', action: 'attached', id: 'abc123', name: 'appnet', attributes: { name: 'appnet', type: 'bridge', container: 'c0ffee' } });
    expect(vol).toMatchObject({ type: 'volume', action: 'created', id: 'data', attributes: { driver: 'local', team: 'a' } });
    expect(peerEventFromCloudEvent(at('berth.namespaces.container.exited', { containerId: 'c' }))).toBeUndefined();
    expect(peerEventFromCloudEvent(at('berth.cgroups.container.oom', { containerId: 'c' }))).toBeUndefined();
  });

  it('filters: type selects, other keys narrow; a key a type does not have excludes it', () => {
    expect(wantsPeerEvents({})).toBe(false);
    expect(wantsContainerEvents({})).toBe(true);
    expect(wantsPeerEvents({ type: ['container', 'network'] })).toBe(true);
    expect(wantsContainerEvents({ type: ['image'] })).toBe(false);
    expect(wantsContainerEvents({ network: ['appnet'] })).toBe(false);
    const all = ['image', 'network', 'volume'];
    expect(peerEventMatches(untag, {})).toBe(false); // no type filter: containers only
    expect(peerEventMatches(untag, { type: all, image: ['busybox'] })).toBe(true);
    expect(peerEventMatches(untag, { type: all, image: ['busybox:1'] })).toBe(true);
    expect(peerEventMatches(untag, { type: all, image: ['alpine'] })).toBe(false);
    expect(peerEventMatches(connect, { type: all, image: ['busybox'] })).toBe(false);
    expect(peerEventMatches(connect, { type: all, network: ['abc'] })).toBe(true);
    // A network event's actor is the network: container= does not pass it (Docker's filter).
    expect(peerEventMatches(connect, { type: all, container: ['c0ffee'] })).toBe(false);
    expect(peerEventMatches(vol, { type: all, event: ['created'], label: ['team=a'] })).toBe(true);
    expect(peerEventMatches(vol, { type: all, volume: ['other'] })).toBe(false);
  });
});
