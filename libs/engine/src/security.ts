// A container's confinement as the engine decides it, in one place: which
// seccomp profile (Docker's default, none, or the user's), and
// no_new_privs, from HostConfig.securityOpt and the privileged flag. The run
// plan passes these to the namespaces port, which resolves the profile for
// the container's capabilities (@berth/seccomp); inspect shows the name.
import { parseSecurityOpts, seccompProfileFor, type SeccompProfileName } from '@berth/seccomp';
import type { HostConfig } from './types';

/** docker run --privileged (records from before the flag have none). A
 * privileged container runs without a seccomp filter, as Docker's. */
export function isPrivileged(h: HostConfig): boolean {
  return h.privileged === true;
}

/** Throws InvalidArgumentError (field host_config.security_opt) naming a bad option. */
export function checkSecurityOpts(h: HostConfig): void {
  parseSecurityOpts(h.securityOpt);
}

/** no_new_privs for the init and every exec (--security-opt no-new-privileges). */
export function noNewPrivilegesOf(h: HostConfig): boolean {
  return parseSecurityOpts(h.securityOpt).noNewPrivileges;
}

/** "default" | "unconfined" | "custom", as inspect shows it. */
export function seccompProfileNameOf(h: HostConfig): SeccompProfileName {
  return seccompProfileFor({ securityOpt: h.securityOpt, privileged: isPrivileged(h) }).name;
}
