// The compiled path must be indistinguishable on the wire from proto-loader's:
// for every method of every service, the same path, streaming, names and
// options, and byte-identical encodings of a message with every field set.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import * as protobuf from 'protobufjs/light';
import { COMPILED_CODECS, COMPILED_DESCRIPTOR, compiledServiceDefinition } from './compiled';
import { serviceDefinition, serviceNames } from './load';

const root = protobuf.Root.fromJSON(JSON.parse(readFileSync(COMPILED_DESCRIPTOR, 'utf8')) as protobuf.INamespace);
root.resolveAll();

/** A plain object with every field of `t` set (nested messages two levels deep), as a caller would pass it. */
function sample(t: protobuf.Type, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of t.fieldsArray) {
    f.resolve();
    let v: unknown;
    if (f.resolvedType instanceof protobuf.Type) {
      if (depth >= 2) continue;
      v = sample(f.resolvedType, depth + 1);
    } else if (f.resolvedType instanceof protobuf.Enum) {
      const names = Object.keys(f.resolvedType.values);
      v = names[names.length - 1];
    } else {
      v = ({ string: `s-${f.name}`, bytes: Buffer.from('ab'), bool: true, double: 1.5, float: 2.5 } as Record<string, unknown>)[f.type] ?? 7;
    }
    // One member per oneof, as a valid message has.
    if (f.partOf && f.partOf.oneof[0] !== f.name) continue;
    out[f.name] = f.map ? { k: v } : f.repeated ? [v, v] : v;
  }
  return out;
}

describe('compiled service definitions', () => {
  const names = serviceNames('');

  it('cover every service proto-loader finds', () => {
    expect(names.length).toBeGreaterThan(8);
    expect(names).toContain('berth.engine.v1.Engine');
    expect(names).toContain('grpc.health.v1.Health');
  });

  it.each(names)('%s matches proto-loader method by method, on the wire', (name) => {
    const fast = compiledServiceDefinition(name);
    const slow = serviceDefinition(name) as unknown as typeof fast;
    expect(Object.keys(fast).sort()).toEqual(Object.keys(slow).sort());
    const svc = root.lookupService(name);
    for (const [method, m] of Object.entries(slow)) {
      const f = fast[method]!;
      expect({ path: f.path, rq: f.requestStream, rs: f.responseStream, name: f.originalName, options: f.options }, `${name}.${method}`).toEqual({
        path: m.path, rq: m.requestStream, rs: m.responseStream, name: m.originalName, options: m.options,
      });
      const rpc = svc.methods[method]!;
      for (const [side, t] of [['request', rpc.resolvedRequestType!], ['response', rpc.resolvedResponseType!]] as const) {
        const msg = sample(t);
        const ser = side === 'request' ? [f.requestSerialize, m.requestSerialize] : [f.responseSerialize, m.responseSerialize];
        const de = side === 'request' ? [f.requestDeserialize, m.requestDeserialize] : [f.responseDeserialize, m.responseDeserialize];
        const bytes = ser[1]!(msg);
        expect(Buffer.from(ser[0]!(msg)).equals(Buffer.from(bytes)), `${name}.${method} ${side} bytes`).toBe(true);
        if (t.fieldsArray.length) expect(bytes.length, `${name}.${method} ${side} sample is not empty`).toBeGreaterThan(0);
        expect(de[0]!(bytes), `${name}.${method} ${side} decoded`).toEqual(de[1]!(bytes));
      }
    }
  });

  it('encodes with the generated codec modules, not code generated at run time', () => {
    const run = compiledServiceDefinition('berth.engine.v1.Engine')['RunContainer']!;
    run.requestSerialize({ create: { name: 'x', config: { image: 'busybox', cmd: { values: ['true'] } } } });
    const loaded = Object.keys(createRequire(__filename).cache);
    for (const t of ['RunContainerRequest', 'CreateContainerRequest', 'ContainerConfig']) {
      expect(loaded, t).toContain(join(COMPILED_CODECS, `berth.engine.v1.${t}.js`));
    }
  });

  it('marks idempotent methods as the proto does (the client retries those)', () => {
    const levels = Object.values(compiledServiceDefinition('berth.networks.v1.Networks')).map((m) => m.options.idempotency_level);
    expect(levels).toContain('NO_SIDE_EFFECTS');
    expect(levels).toContain('IDEMPOTENT');
    expect(levels).toContain('IDEMPOTENCY_UNKNOWN');
  });

  it('refuses a service that is not in protos/', () => {
    expect(() => compiledServiceDefinition('berth.nothing.v1.Nope')).toThrow(/berth\.nothing\.v1\.Nope is not defined in protos/);
    expect(() => compiledServiceDefinition('berth.types.v1.Mount')).toThrow(/not defined/);
  });
});
