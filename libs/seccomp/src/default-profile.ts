// Docker's default profile, shipped as data: libs/seccomp/profiles/default.json
// (provenance, license and the differences from moby's file are in
// profiles/README.md). Read and checked once, on first use.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseProfile } from './profile';
import type { SeccompProfile } from './types';

// libs/seccomp/{src,dist}/ -> libs/seccomp/profiles/.
export const DEFAULT_PROFILE_PATH = resolve(__dirname, '..', 'profiles', 'default.json');

let cached: SeccompProfile | undefined;

/** The built-in default profile (parsed once; callers must not mutate it). */
export function defaultProfile(): SeccompProfile {
  cached ??= parseProfile(readFileSync(DEFAULT_PROFILE_PATH, 'utf8'), 'seccomp default profile');
  return cached;
}
