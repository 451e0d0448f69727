// The proto contract and the local API agree: values survive protobuf
// encoding with the loader options the service kit uses, and every RPC of
// berth.images.v1 has a method on the local service it maps to.
import { join } from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { ContentStore } from './content-store.js';
import { ImagesService } from './images-service.js';
import { LeaseManager } from './leases.js';
import { TransferService } from './transfer-service.js';
import { descriptorFromWire, descriptorToWire, imageToWire, listFiltersFromWire, platformFromWire, timestampFromWire } from './wire.js';

const PROTOS = join(__dirname, '../../../protos');
type Method = { requestSerialize: (o: unknown) => Buffer; requestDeserialize: (b: Buffer) => Record<string, unknown>; responseSerialize: (o: unknown) => Buffer; responseDeserialize: (b: Buffer) => Record<string, unknown> };
const load = (longs: typeof String | typeof Number) =>
  loadSync('berth/images/v1/images.proto', { includeDirs: [PROTOS], longs, enums: String, defaults: true, oneofs: true, keepCase: false });

describe('berth.images.v1 wire mapping', () => {
  for (const longs of [String, Number]) {
    it(`round-trips descriptors and images (longs as ${longs.name})`, () => {
      const def = load(longs);
      const get = (def['berth.images.v1.Images'] as unknown as Record<string, Method>)['Get']!;
      const target = {
        mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 12345,
        annotations: { 'org.opencontainers.image.ref.name': 'v1' }, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      };
      const created = new Date('2026-01-02T03:04:05.678Z');
      const bytes = get.responseSerialize(imageToWire({
        name: 'docker.io/library/busybox:latest', familiarName: 'busybox:latest', target, id: `sha256:${'b'.repeat(64)}`, dangling: false,
        labels: { a: 'b' }, createdAt: created,
      }));
      const back = get.responseDeserialize(bytes);
      expect(descriptorFromWire(back['target'])).toEqual(target);
      expect(timestampFromWire(back['createdAt'])).toEqual(created);
      expect(back['familiarName']).toBe('busybox:latest');
      expect(descriptorFromWire(descriptorToWire(target))).toEqual(target);
    });
  }

  it('reads list filters, with an unset dangling meaning "all"', () => {
    const def = load(Number);
    const list = (def['berth.images.v1.Images'] as unknown as Record<string, Method>)['List']!;
    const unset = list.requestDeserialize(list.requestSerialize({ reference: ['busy*'], label: ['a=b'] }));
    expect(listFiltersFromWire(unset)).toEqual({ reference: ['busy*'], label: ['a=b'] });
    const set = list.requestDeserialize(list.requestSerialize({ dangling: false, since: 'x' }));
    expect(listFiltersFromWire(set)).toEqual({ dangling: false, since: 'x' });
    expect(platformFromWire({ os: '', architecture: '' })).toBeUndefined();
  });

  it('every RPC maps onto a method of the local service', () => {
    const def = load(Number);
    const targets: Record<string, { proto: object; methods: Record<string, string> }> = {
      'berth.images.v1.Content': {
        proto: ContentStore.prototype,
        methods: { Info: 'info', List: 'list', Read: 'readStream', Delete: 'delete', Write: 'openWriter', Status: 'status', ListStatuses: 'listStatuses', Abort: 'abort' },
      },
      'berth.images.v1.Images': {
        proto: ImagesService.prototype,
        methods: { List: 'list', Get: 'get', Inspect: 'inspect', Tag: 'tag', Untag: 'untag', Remove: 'remove', Prune: 'prune', GarbageCollect: 'gc', Commit: 'commit' },
      },
      'berth.images.v1.Transfer': {
        proto: TransferService.prototype,
        methods: { Pull: 'pullStream', ListTags: 'listTags', Push: 'pushStream', Login: 'login', Logout: 'logout', Import: 'import', Load: 'load', Save: 'save', EnsureBusybox: 'ensureBusyboxImage' },
      },
    };
    const leaseRpcs: Record<string, string> = { CreateLease: 'create', DeleteLease: 'delete', ListLeases: 'list' };
    for (const [service, { proto, methods }] of Object.entries(targets)) {
      const rpcs = Object.keys(def[service] as object);
      for (const rpc of rpcs) {
        const name = methods[rpc] ?? leaseRpcs[rpc];
        expect(name, `${service}.${rpc} has no mapping`).toBeDefined();
        const owner = leaseRpcs[rpc] && service.endsWith('Content') ? LeaseManager.prototype : proto;
        expect(typeof (owner as Record<string, unknown>)[name!], `${service}.${rpc} -> ${name}`).toBe('function');
      }
      expect(rpcs.length).toBeGreaterThan(0);
    }
  });
});
