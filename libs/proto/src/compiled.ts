// Client-side service definitions from the compiled descriptor
// generated/protos.json, which scripts/gen-protos.sh writes from the same
// protos/ files (and options) as the TypeScript types, so `--check` catches a
// stale copy like a stale type. A short-lived process (the `berth` CLI) pays
// ~70 ms to parse the .proto text and ~30 ms more for proto-loader to build
// file descriptors of every message for reflection; this path reads the JSON
// (protobufjs/light: no parser) in a few ms and builds only the methods of
// the one service asked for.
//
// The definitions behave as @grpc/proto-loader's (load.ts) do with
// LOADER_OPTIONS: same paths, streaming flags, originalName, method options
// (idempotency_level, which the client's retries read) and the same
// serialize (fromObject + encode) / deserialize (decode + toObject) pairs.
// compiled.test.ts checks that, method by method, for every service. The
// codecs are protobufjs's own generated functions, written out at generation
// time (generated/codecs/) rather than generated and compiled at every start. They
// carry no requestType/responseType descriptors: servers and reflection use
// load.ts.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as protobuf from 'protobufjs/light';
import type * as grpc from '@grpc/grpc-js';
import { LOADER_OPTIONS } from './options';

/** The compiled descriptor, beside the generated types (src/ and dist/ sit at the same depth). */
export const COMPILED_DESCRIPTOR = resolve(__dirname, '..', 'src', 'generated', 'protos.json');

/** A method of a compiled service: grpc-js's definition plus the proto method options. */
export type CompiledMethod = grpc.MethodDefinition<unknown, unknown> & {
  options: { deprecated: boolean; idempotency_level: string; uninterpreted_option: unknown[] } & Record<string, unknown>;
};

/** The message codecs protobufjs would generate at run time, one module per type, generated with the descriptor (gen-protos.sh). */
export const COMPILED_CODECS = resolve(__dirname, '..', 'src', 'generated', 'codecs');

type Codec = (writer: unknown, reader: unknown, types: unknown[], util: unknown) => ((...a: unknown[]) => unknown)[];

let root: protobuf.Root | undefined;
const services = new Map<string, Record<string, CompiledMethod>>();

/**
 * protobufjs's Type#setup, with the generated functions taken from
 * codecs.js instead of being generated and compiled here: the same five
 * functions over the same scope (Writer, Reader, the field types in field
 * order, util), then the same wrappers for well-known types.
 */
function setupFromCodecs(this: protobuf.Type): protobuf.Type {
  let make: Codec;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- generated CommonJS, outside the TS program
    make = require(join(COMPILED_CODECS, `${this.fullName.slice(1)}.js`)) as Codec;
  } catch (e) {
    if ((e as { code?: string }).code !== 'MODULE_NOT_FOUND') throw e;
    // No module for it: protobufjs generates the same functions itself (protos.json
    // and codecs/ are generated together, so only a damaged checkout lands here).
    return protobuf.Type.prototype.setup.call(this);
  }
  const types = this.fieldsArray.map((f) => f.resolve().resolvedType);
  const [encode, decode, verify, fromObject, toObject] = make(protobuf.Writer, protobuf.Reader, types, protobuf.util);
  const t = this as unknown as Record<string, unknown>;
  Object.assign(t, { encode, decode, verify, fromObject, toObject });
  const wrapper = (protobuf.wrappers as Record<string, protobuf.IWrapper | undefined>)[this.fullName];
  if (wrapper) {
    const originalThis = Object.create(this) as Record<string, unknown>;
    originalThis.fromObject = t.fromObject;
    t.fromObject = wrapper.fromObject!.bind(originalThis as unknown as protobuf.Type);
    originalThis.toObject = t.toObject;
    t.toObject = wrapper.toObject!.bind(originalThis as unknown as protobuf.Type);
  }
  return this;
}

function installCodecs(ns: protobuf.NamespaceBase): void {
  for (const o of ns.nestedArray) {
    if (o instanceof protobuf.Type) o.setup = setupFromCodecs;
    if (o instanceof protobuf.Namespace) installCodecs(o);
  }
}

function compiledRoot(): protobuf.Root {
  if (!root) {
    let json: protobuf.INamespace;
    try {
      json = JSON.parse(readFileSync(COMPILED_DESCRIPTOR, 'utf8')) as protobuf.INamespace;
    } catch (e) {
      throw new Error(`cannot read the compiled protos at ${COMPILED_DESCRIPTOR} (${(e as Error).message}); run 'npm run gen' (scripts/gen-protos.sh)`);
    }
    root = protobuf.Root.fromJSON(json);
    installCodecs(root);
  }
  return root;
}

// The same camelCase proto-loader names originalName with (GetOCIImage -> getOciImage).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- ships no types
const camelCase = require('lodash.camelcase') as (s: string) => string;

function serializer(t: protobuf.Type): (arg: unknown) => Buffer {
  return (arg) => {
    if (Array.isArray(arg)) throw new Error(`Failed to serialize message: expected object with ${t.name} structure, got array instead`);
    return t.encode(t.fromObject(arg as Record<string, unknown>)).finish() as Buffer;
  };
}

function deserializer(t: protobuf.Type): (buf: Buffer) => unknown {
  return (buf) => t.toObject(t.decode(buf), LOADER_OPTIONS as protobuf.IConversionOptions);
}

// proto-loader's mapMethodOptions: parsed options folded over the defaults.
function methodOptions(parsed: Record<string, unknown>[] | undefined): CompiledMethod['options'] {
  const out: CompiledMethod['options'] = { deprecated: false, idempotency_level: 'IDEMPOTENCY_UNKNOWN', uninterpreted_option: [] };
  for (const item of parsed ?? []) {
    for (const [k, v] of Object.entries(item)) {
      if (k === 'uninterpreted_option') out.uninterpreted_option.push(v);
      else out[k] = v;
    }
  }
  return out;
}

/**
 * The grpc-js definition of a fully-qualified service ("berth.engine.v1.Engine")
 * from the compiled descriptor; built once per process.
 */
export function compiledServiceDefinition(fullName: string): Record<string, CompiledMethod> {
  const cached = services.get(fullName);
  if (cached) return cached;
  const r = compiledRoot();
  let service: protobuf.Service;
  try {
    service = r.lookupService(fullName);
  } catch {
    throw new Error(`service ${fullName} is not defined in protos/`);
  }
  service.resolveAll();
  const def: Record<string, CompiledMethod> = {};
  for (const m of service.methodsArray) {
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${fullName}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: camelCase(m.name),
      options: methodOptions(m.parsedOptions as Record<string, unknown>[] | undefined),
    };
  }
  services.set(fullName, def);
  return def;
}
