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
// compiled.test.ts checks that, method by method, for every service. They
// carry no requestType/responseType descriptors: servers and reflection use
// load.ts.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as protobuf from 'protobufjs/light';
import type * as grpc from '@grpc/grpc-js';
import { LOADER_OPTIONS } from './options';

/** The compiled descriptor, beside the generated types (src/ and dist/ sit at the same depth). */
export const COMPILED_DESCRIPTOR = resolve(__dirname, '..', 'src', 'generated', 'protos.json');

/** A method of a compiled service: grpc-js's definition plus the proto method options. */
export type CompiledMethod = grpc.MethodDefinition<unknown, unknown> & {
  options: { deprecated: boolean; idempotency_level: string; uninterpreted_option: unknown[] } & Record<string, unknown>;
};

let root: protobuf.Root | undefined;
const services = new Map<string, Record<string, CompiledMethod>>();

function compiledRoot(): protobuf.Root {
  if (!root) {
    let json: protobuf.INamespace;
    try {
      json = JSON.parse(readFileSync(COMPILED_DESCRIPTOR, 'utf8')) as protobuf.INamespace;
    } catch (e) {
      throw new Error(`cannot read the compiled protos at ${COMPILED_DESCRIPTOR} (${(e as Error).message}); run 'npm run gen' (scripts/gen-protos.sh)`);
    }
    root = protobuf.Root.fromJSON(json);
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
  let service: protobuf.Service;
  try {
    service = compiledRoot().lookupService(fullName);
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
