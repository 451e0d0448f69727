// @berth/seccomp: Docker's default seccomp profile (data, profiles/default.json),
// custom profiles in Docker's format, their resolution into the OCI
// linux.seccomp for one container (capabilities, architecture, kernel), and
// `--security-opt` parsing. The engine chooses (seccompFor), the namespaces
// service and libs/runtime carry the OCI shape, berth-shim applies it.
export * from './types';
export { parseProfile, validateLinuxSeccomp, MAX_PROFILE_BYTES } from './profile';
export { resolveProfile, currentHost, kernelAtLeast, type SeccompHost } from './resolve';
export { defaultProfile, DEFAULT_PROFILE_PATH } from './default-profile';
export { parseSecurityOpts, seccompProfileFor, seccompFor, type SecurityOptions, type SeccompProfileName } from './security-opt';
