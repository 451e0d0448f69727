// @berth/build: `berth build`'s logic without gRPC: the Dockerfile parser
// (line numbers, Docker's errors), variable substitution, .dockerignore and
// COPY globs, COPY/ADD planning into tar streams, the cache keys, and the
// evaluation of stages on a BuildBackend (the engine implements it).
// docs/design/build.md.
export { parseDockerfile, parseError, INSTRUCTIONS, type Node, type ParsedDockerfile } from './parser';
export { loadDockerfile, parseInstruction, parseGoDuration, type Dockerfile, type Instruction, type Stage, type Healthcheck } from './instructions';
export { processWord, processWords, LexError } from './shell-lex';
export { parseDockerignore, isIgnored, matchPath, type IgnoreRule } from './patterns';
export { planCopy, copyParts, type CopyPlan, type CopyRequest, type TargetRoot, type TarPart } from './copy-plan';
export { runBuild, withLatestTag, type BuildOptions, type BuildResult } from './evaluate';
export type { BuildBackend, CommitStep, CopyWork, ImageState, OciConfig, RunWork } from './backend';
export { packContext, type PackStats } from './context-pack';
