// @berth/proto: berth's gRPC contracts. The types under ./generated are
// produced by scripts/gen-protos.sh (proto-loader-gen-types) from protos/ and
// never edited by hand; load.ts loads the same files at run time, and
// compiled.ts the compiled descriptor generated beside the types.
export { loadProtos, serviceDefinition, grpcServiceDefinition, serviceNames, protosDir, LOADER_OPTIONS } from './load';
export { compiledServiceDefinition, compiledServiceNames, COMPILED_DESCRIPTOR, type CompiledMethod } from './compiled';
export type * from './generated';
