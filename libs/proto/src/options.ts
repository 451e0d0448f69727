// The options berth loads its contracts with, at run time (load.ts,
// compiled.ts) and when generating the types (scripts/gen-protos.sh passes
// the same as flags): camelCase field names, 64-bit integers as numbers,
// enums as their names, defaults filled in, the set oneof member named.
import type { Options } from '@grpc/proto-loader';

export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};
