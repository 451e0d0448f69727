// Loads berth's contracts from protos/ at run time with @grpc/proto-loader,
// parsing the .proto text: what reflection needs (full message descriptors),
// built on its first request. Servers and clients take the compiled path
// (compiled.ts) unless BERTH_PROTOS points at other contracts. The
// options (options.ts) must match scripts/gen-protos.sh, which generates the
// TypeScript types in ./generated from the same files.
import type { PackageDefinition } from '@grpc/proto-loader';
import type * as grpc from '@grpc/grpc-js';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, relative } from 'node:path';
import { LOADER_OPTIONS } from './options';
import { compiledServiceDefinition } from './compiled';

export { LOADER_OPTIONS };

/** The protos/ directory of this checkout (src/ and dist/ sit at the same depth). */
export function protosDir(): string {
  const dir = process.env.BERTH_PROTOS ?? resolve(__dirname, '..', '..', '..', 'protos');
  if (!existsSync(dir)) throw new Error(`protos directory not found at ${dir}; set BERTH_PROTOS`);
  return dir;
}

function listProtos(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listProtos(p, base));
    else if (name.endsWith('.proto')) out.push(relative(base, p));
  }
  return out;
}

let cached: { pkg: PackageDefinition; grpcObject: grpc.GrpcObject } | undefined;

/** Every contract in protos/, loaded once per process. */
export function loadProtos(): { pkg: PackageDefinition; grpcObject: grpc.GrpcObject } {
  if (!cached) {
    // Required here, not at the top: a client that never parses .proto text
    // (the CLI) does not pay for loading proto-loader and its parser.
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { loadSync } = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
    const { loadPackageDefinition } = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const dir = protosDir();
    const pkg = loadSync(listProtos(dir), { ...LOADER_OPTIONS, includeDirs: [dir] });
    cached = { pkg, grpcObject: loadPackageDefinition(pkg) };
  }
  return cached;
}

/** The grpc-js service definition of a fully-qualified service name. */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const { pkg } = loadProtos();
  const def = pkg[fullName];
  // Message and enum entries carry a `format` field; services are method maps.
  if (!def || typeof def !== 'object' || 'format' in def) {
    throw new Error(`service ${fullName} is not defined in protos/`);
  }
  return def as unknown as grpc.ServiceDefinition;
}

/** All fully-qualified service names under a package prefix (e.g. "berth."). */
export function serviceNames(prefix = 'berth.'): string[] {
  const { pkg } = loadProtos();
  return Object.keys(pkg).filter((k) => {
    const d = pkg[k];
    return k.startsWith(prefix) && d !== undefined && typeof d === 'object' && !('format' in d);
  });
}

/**
 * The grpc-js definition servers and clients use: compiled (no .proto parse,
 * compiled.ts), or parsed from BERTH_PROTOS when that names other contracts.
 */
export function grpcServiceDefinition(fullName: string): grpc.ServiceDefinition {
  return process.env.BERTH_PROTOS ? serviceDefinition(fullName) : (compiledServiceDefinition(fullName) as unknown as grpc.ServiceDefinition);
}
