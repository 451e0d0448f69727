// Service definitions without reflection, for servers and clients: generated/wire.json
// (each message's field types, each enum's values, each service's methods)
// and generated/codecs/ (protobufjs's own generated encode/decode/verify/
// fromObject/toObject functions, one module per message), both written by
// scripts/gen-protos.sh from the same protos/ files and options as the
// TypeScript types, so `--check` catches a stale copy like a stale type. At
// run time only protobufjs/minimal (Writer, Reader, util) is loaded, and only
// the messages a call touches are set up. A short-lived process (the `berth`
// CLI) so skips parsing .proto text (~70 ms), proto-loader's descriptors
// (~30 ms), and protobufjs's reflection of the whole descriptor (~20 ms).
//
// The definitions behave as @grpc/proto-loader's (load.ts) do with
// LOADER_OPTIONS: same paths, streaming flags, originalName, method options
// (idempotency_level, which the client's retries read) and the same
// serialize (fromObject + encode) / deserialize (decode + toObject) pairs.
// compiled.test.ts checks that, method by method, for every service, on the
// wire. They carry no requestType/responseType descriptors, which only
// reflection needs (it parses protos/ with load.ts on its first request).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type * as Minimal from 'protobufjs/minimal';
import type * as grpc from '@grpc/grpc-js';
import { LOADER_OPTIONS } from './options';
import { BUNDLED_CODECS } from './bundled-codecs';

/** The compiled descriptor (protobufjs JSON of every contract), beside the generated types (src/ and dist/ sit at the same depth). */
export const COMPILED_DESCRIPTOR = resolve(__dirname, '..', 'src', 'generated', 'protos.json');
/** What the client path needs of it: field types, enum values, methods (gen-protos.sh). */
export const COMPILED_WIRE = resolve(__dirname, '..', 'src', 'generated', 'wire.json');

/** A method of a compiled service: grpc-js's definition plus the proto method options. */
export type CompiledMethod = grpc.MethodDefinition<unknown, unknown> & {
  options: { deprecated: boolean; idempotency_level: string; uninterpreted_option: unknown[] } & Record<string, unknown>;
};

/** The message codecs protobufjs would generate at run time, one module per type, generated with the descriptor (gen-protos.sh). */
export const COMPILED_CODECS = resolve(__dirname, '..', 'src', 'generated', 'codecs');

interface WireMethod {
  requestType: string;
  responseType: string;
  requestStream: boolean;
  responseStream: boolean;
  originalName: string;
  parsedOptions: Record<string, unknown>[];
}
/** A message: its field types in field order (null = scalar); its map (m) and repeated (r) fields. */
interface WireType { f: (string | null)[]; m?: string[]; r?: string[] }
interface Wire {
  types: Record<string, WireType>;
  enums: Record<string, Record<string, number>>;
  services: Record<string, Record<string, WireMethod>>;
}

/** A message type as the generated functions use one another (types[i].encode ...). */
interface MessageCodec {
  ctor: new (p?: Record<string, unknown>) => object;
  encode(m: unknown, w?: Minimal.Writer): Minimal.Writer;
  decode(r: Uint8Array | Minimal.Reader, l?: number): unknown;
  verify(m: unknown): string | null;
  fromObject(o: unknown): unknown;
  toObject(m: unknown, o?: unknown): Record<string, unknown>;
}
/** An enum as they use it: values by name, with values by id on its prototype (protobufjs's Enum#values). */
interface EnumCodec { values: Record<string, number> }

type Codec = (writer: unknown, reader: unknown, types: unknown[], util: unknown) => ((...a: unknown[]) => unknown)[];

// Required, not imported: its exports are assigned at run time, which an ES
// namespace import (vitest) does not see.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const minimal = require('protobufjs/minimal') as typeof Minimal;

let wire: Wire | undefined;
const codecs = new Map<string, MessageCodec | EnumCodec>();
const services = new Map<string, Record<string, CompiledMethod>>();

function loadWire(): Wire {
  if (!wire) {
    try {
      wire = JSON.parse(readFileSync(COMPILED_WIRE, 'utf8')) as Wire;
    } catch (e) {
      throw new Error(`cannot read the compiled protos at ${COMPILED_WIRE} (${(e as Error).message}); run 'npm run gen' (scripts/gen-protos.sh)`);
    }
  }
  return wire;
}

/**
 * The codec of a message or enum ("berth.engine.v1.LogConfig"), set up on
 * first use as protobufjs's Type#setup would: the same five functions over
 * the same scope (Writer, Reader, the field types in field order, util).
 * Registered before its fields are resolved, so recursive types close.
 */
function codecOf(name: string): MessageCodec | EnumCodec {
  const known = codecs.get(name);
  if (known) return known;
  const w = loadWire();
  const values = w.enums[name];
  if (values) {
    const byId: Record<number, string> = {};
    for (const [k, v] of Object.entries(values)) byId[v] = k;
    const e: EnumCodec = { values: Object.assign(Object.create(byId) as Record<string, number>, values) };
    codecs.set(name, e);
    return e;
  }
  const t = w.types[name];
  if (!t) throw new Error(`message ${name} is not defined in protos/`);
  const codec = { ctor: messageConstructor(t) } as MessageCodec;
  codecs.set(name, codec);
  const make = (Object.hasOwn(BUNDLED_CODECS, name)
    ? BUNDLED_CODECS[name]!()
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- generated CommonJS, outside the TS program
    : require(join(COMPILED_CODECS, `${name}.js`))) as Codec;
  const types = t.f.map((f) => (f === null ? null : codecOf(f)));
  const [encode, decode, verify, fromObject, toObject] = make(minimal.Writer, minimal.Reader, types, minimal.util);
  Object.assign(codec, { encode, decode, verify, fromObject, toObject });
  return codec;
}

/**
 * The message class the generated functions instantiate (`new this.ctor`)
 * and test against (`d instanceof this.ctor`), as Type.generateConstructor
 * makes it: maps and repeated fields start as their own {} and [], then
 * the given properties are copied. No reflection hangs off it.
 */
function messageConstructor(t: WireType): new (p?: Record<string, unknown>) => object {
  const maps = t.m ?? [];
  const lists = t.r ?? [];
  return function Message(this: Record<string, unknown>, p?: Record<string, unknown>) {
    for (const k of maps) this[k] = {};
    for (const k of lists) this[k] = [];
    if (p) for (const k of Object.keys(p)) if (p[k] != null && k !== '__proto__') this[k] = p[k];
  } as unknown as new (p?: Record<string, unknown>) => object;
}

function messageCodec(name: string): MessageCodec {
  const c = codecOf(name);
  if (!('encode' in c)) throw new Error(`${name} is an enum, not a message`);
  return c;
}

// Set up on the first call, not when the service is defined: a CLI run
// touches a few of a service's messages, not all of them.
function serializer(name: string): (arg: unknown) => Buffer {
  const short = name.slice(name.lastIndexOf('.') + 1);
  return (arg) => {
    if (Array.isArray(arg)) throw new Error(`Failed to serialize message: expected object with ${short} structure, got array instead`);
    const t = messageCodec(name);
    return t.encode(t.fromObject(arg)).finish() as Buffer;
  };
}

function deserializer(name: string): (buf: Buffer) => unknown {
  return (buf) => {
    const t = messageCodec(name);
    return t.toObject(t.decode(buf), LOADER_OPTIONS);
  };
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
  const methods = loadWire().services[fullName];
  if (!methods) throw new Error(`service ${fullName} is not defined in protos/`);
  const def: Record<string, CompiledMethod> = {};
  for (const [name, m] of Object.entries(methods)) {
    def[name] = {
      path: `/${fullName}/${name}`,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      requestSerialize: serializer(m.requestType),
      requestDeserialize: deserializer(m.requestType),
      responseSerialize: serializer(m.responseType),
      responseDeserialize: deserializer(m.responseType),
      originalName: m.originalName,
      options: methodOptions(m.parsedOptions),
    };
  }
  services.set(fullName, def);
  return def;
}

/** Every service the compiled contracts define, by fully-qualified name. */
export function compiledServiceNames(): string[] {
  return Object.keys(loadWire().services);
}
