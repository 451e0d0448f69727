// `--security-opt` as Docker takes it (moby daemon parseSecurityOpt; the CLI
// has already replaced `seccomp=<file>` by the file's JSON), and the engine's
// one choice of seccomp filter for a container.
//
//   no-new-privileges                 no_new_privs on (init and every exec)
//   no-new-privileges=<bool>          Go's strconv.ParseBool: 1 t T TRUE true True, 0 f F FALSE false False
//   no-new-privileges:<bool>          the old separator, accepted for every key
//   seccomp=unconfined                no filter
//   seccomp=builtin                   the default profile (as if not given)
//   seccomp=<profile JSON>            a custom profile in Docker's format
//   apparmor=unconfined               accepted and changing nothing: berth applies no
//                                     AppArmor profile (any other profile is refused rather
//                                     than silently not applied)
//   label=<anything>                  accepted and changing nothing, as Docker on a host
//                                     without SELinux (berth applies no SELinux labels)
//
// Anything else is an InvalidArgumentError naming the option.
import { InvalidArgumentError } from '@berth/errors';
import { defaultProfile } from './default-profile';
import { parseProfile } from './profile';
import { currentHost, resolveProfile, type SeccompHost } from './resolve';
import type { LinuxSeccomp, SeccompProfile } from './types';

/** Which profile a container runs under, as inspect shows it. */
export type SeccompProfileName = 'default' | 'unconfined' | 'custom';

export interface SecurityOptions {
  seccomp: { name: 'default' } | { name: 'unconfined' } | { name: 'custom'; profile: SeccompProfile };
  noNewPrivileges: boolean;
}

const FIELD = 'host_config.security_opt';

const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

function bad(opt: string, why: string): never {
  const shown = opt.length > 60 ? `${opt.slice(0, 60)}...` : opt;
  throw new InvalidArgumentError(`invalid --security-opt "${shown}": ${why}`, { field: FIELD });
}

/** Splits "key=value" (or the old "key:value"); null without a separator. */
function splitOpt(opt: string): [string, string] | null {
  const eq = opt.indexOf('=');
  const colon = opt.indexOf(':');
  // The first separator wins, so a JSON value full of ':' stays whole.
  const at = eq < 0 ? colon : colon < 0 ? eq : Math.min(eq, colon);
  return at < 0 ? null : [opt.slice(0, at), opt.slice(at + 1)];
}

/** Parses and checks every option (a custom profile is parsed too). */
export function parseSecurityOpts(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = { seccomp: { name: 'default' }, noNewPrivileges: false };
  for (const opt of opts) {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      continue;
    }
    const kv = splitOpt(opt);
    if (!kv) bad(opt, 'expected no-new-privileges[=true|false] or seccomp=<profile.json>|unconfined');
    const [key, value] = kv;
    switch (key) {
      case 'no-new-privileges':
        if (GO_TRUE.includes(value)) out.noNewPrivileges = true;
        else if (GO_FALSE.includes(value)) out.noNewPrivileges = false;
        else bad(opt, `"${value}" is not a boolean (true or false)`);
        break;
      case 'seccomp':
        if (value === 'unconfined') out.seccomp = { name: 'unconfined' };
        else if (value === 'builtin') out.seccomp = { name: 'default' };
        else if (value.trimStart().startsWith('{')) out.seccomp = { name: 'custom', profile: parseProfile(value, FIELD) };
        else bad(opt, 'expected seccomp=unconfined, seccomp=builtin or the JSON of a profile (the berth CLI reads seccomp=<file> and sends its content)');
        break;
      case 'apparmor':
        if (value !== 'unconfined') bad(opt, 'berth applies no AppArmor profiles (only apparmor=unconfined is accepted, and changes nothing)');
        break;
      case 'label':
        // Docker with SELinux off (go-selinux InitLabels) takes every label
        // option and applies none; berth has no SELinux support at all, so the
        // same: label=disable, nested, user:/role:/type:/level:/filetype:... change nothing.
        if (value === '') bad(opt, 'expected label=disable or label=<key>:<value> (accepted and ignored: berth applies no SELinux labels)');
        break;
      default:
        bad(opt, `unknown option "${key}" (expected no-new-privileges or seccomp)`);
    }
  }
  return out;
}

/** The engine's choice: a privileged container runs without a filter (as
 * Docker's), whatever --security-opt says; otherwise what the options say. */
export function seccompProfileFor(o: { securityOpt: readonly string[]; privileged: boolean }): { name: SeccompProfileName; profile: SeccompProfile | null } {
  if (o.privileged) return { name: 'unconfined', profile: null };
  const s = parseSecurityOpts(o.securityOpt).seccomp;
  if (s.name === 'unconfined') return { name: 'unconfined', profile: null };
  return { name: s.name, profile: s.name === 'custom' ? s.profile : defaultProfile() };
}

/** The OCI linux.seccomp for a container (undefined = no filter). */
export function seccompFor(o: { securityOpt: readonly string[]; privileged: boolean; capabilities: readonly string[]; host?: SeccompHost }): LinuxSeccomp | undefined {
  const { profile } = seccompProfileFor(o);
  return profile ? resolveProfile(profile, o.capabilities, o.host ?? currentHost()) : undefined;
}
