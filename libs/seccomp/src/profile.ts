// Reading and checking seccomp policies: Docker's profile format (a custom
// `--security-opt seccomp=<file>` arrives as its JSON text) and the OCI
// linux.seccomp a profile resolves to. Every error is an InvalidArgumentError
// whose message names the part that is wrong ("seccomp profile:
// syscalls[3].args[0].op: unknown operator ...") and whose field is the
// caller's (host_config.security_opt for the engine, spec.linux.seccomp for
// the runtime).
import { InvalidArgumentError } from '@berth/errors';
import {
  SECCOMP_ACTIONS,
  SECCOMP_ARCHITECTURES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  type LinuxSeccomp,
  type LinuxSeccompArg,
  type LinuxSyscall,
  type SeccompAction,
  type SeccompArchMap,
  type SeccompFilter,
  type SeccompOperator,
  type SeccompProfile,
  type SeccompProfileSyscall,
} from './types';

/** A custom profile's JSON is bounded: Docker's default is ~17 KiB. */
export const MAX_PROFILE_BYTES = 1 << 20;

type Json = Record<string, unknown>;

class Checker {
  constructor(
    private readonly what: string,
    private readonly field: string,
  ) {}

  bad(path: string, message: string): never {
    throw new InvalidArgumentError(`${this.what}: ${path ? `${path}: ` : ''}${message}`, { field: this.field });
  }

  object(v: unknown, path: string): Json {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.bad(path, `expected an object, got ${describe(v)}`);
    return v as Json;
  }

  known(o: Json, path: string, keys: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!keys.includes(k)) this.bad(path ? `${path}.${k}` : k, `unknown field (expected one of ${keys.join(', ')})`);
    }
  }

  strings(v: unknown, path: string): string[] {
    if (!Array.isArray(v)) this.bad(path, `expected a list of strings, got ${describe(v)}`);
    return v.map((s, i) => {
      if (typeof s !== 'string' || s === '') this.bad(`${path}[${i}]`, `expected a non-empty string, got ${describe(s)}`);
      return s;
    });
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.bad(path, `unknown value ${describe(v)} (expected one of ${allowed.join(', ')})`);
    }
    return v as T;
  }

  action(v: unknown, path: string): SeccompAction {
    if (v === 'SCMP_ACT_NOTIFY') this.bad(path, 'SCMP_ACT_NOTIFY is not supported (berth has no seccomp notify listener)');
    return this.oneOf(v, path, SECCOMP_ACTIONS);
  }

  uint(v: unknown, path: string, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      this.bad(path, `expected an integer 0..${max}, got ${describe(v)}`);
    }
    return v;
  }

  errnoRet(v: unknown, path: string, action: SeccompAction): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (action !== 'SCMP_ACT_ERRNO' && action !== 'SCMP_ACT_TRACE') this.bad(path, `only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return value, not ${action}`);
    return this.uint(v, path, 65535);
  }

  args(v: unknown, path: string): LinuxSeccompArg[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.bad(path, `expected a list, got ${describe(v)}`);
    return v.map((a, i): LinuxSeccompArg => {
      const p = `${path}[${i}]`;
      const o = this.object(a, p);
      this.known(o, p, ['index', 'value', 'valueTwo', 'op']);
      const op: SeccompOperator = this.oneOf(o['op'], `${p}.op`, SECCOMP_OPERATORS);
      const arg: LinuxSeccompArg = {
        index: this.uint(o['index'], `${p}.index`, 5),
        value: this.uint(o['value'] ?? 0, `${p}.value`, Number.MAX_SAFE_INTEGER),
        op,
      };
      if (o['valueTwo'] !== undefined && o['valueTwo'] !== null) arg.valueTwo = this.uint(o['valueTwo'], `${p}.valueTwo`, Number.MAX_SAFE_INTEGER);
      return arg;
    });
  }

  names(o: Json, path: string): string[] {
    // Docker's old single `name` is still accepted, never both.
    if (o['name'] !== undefined && o['names'] !== undefined) this.bad(path, 'both "name" and "names" are given; use "names"');
    const names = o['name'] !== undefined ? this.strings([o['name']], `${path}.name`) : this.strings(o['names'], `${path}.names`);
    if (names.length === 0) this.bad(`${path}.names`, 'is empty');
    return names;
  }

  architectures(v: unknown, path: string): string[] {
    const list = this.strings(v, path);
    list.forEach((a, i) => this.oneOf(a, `${path}[${i}]`, SECCOMP_ARCHITECTURES));
    return list;
  }

  flags(v: unknown, path: string): string[] {
    const list = this.strings(v, path);
    list.forEach((a, i) => this.oneOf(a, `${path}[${i}]`, SECCOMP_FLAGS));
    return list;
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

function filterOf(c: Checker, v: unknown, path: string): SeccompFilter | undefined {
  if (v === undefined || v === null) return undefined;
  const o = c.object(v, path);
  c.known(o, path, ['caps', 'arches', 'minKernel']);
  const f: SeccompFilter = {};
  if (o['caps'] !== undefined && o['caps'] !== null) f.caps = c.strings(o['caps'], `${path}.caps`);
  if (o['arches'] !== undefined && o['arches'] !== null) f.arches = c.strings(o['arches'], `${path}.arches`);
  if (o['minKernel'] !== undefined && o['minKernel'] !== null) {
    if (typeof o['minKernel'] !== 'string' || !/^\d+\.\d+$/.test(o['minKernel'])) {
      c.bad(`${path}.minKernel`, `expected "<major>.<minor>", got ${describe(o['minKernel'])}`);
    }
    f.minKernel = o['minKernel'];
  }
  return f;
}

/**
 * Parses a profile in Docker's format, from its JSON text or an already
 * parsed value. `field` is the error field (default host_config.security_opt).
 */
export function parseProfile(input: string | unknown, field = 'host_config.security_opt'): SeccompProfile {
  const c: Checker = new Checker('seccomp profile', field);
  let v: unknown = input;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input) > MAX_PROFILE_BYTES) c.bad('', `larger than ${MAX_PROFILE_BYTES} bytes`);
    try {
      v = JSON.parse(input);
    } catch (e) {
      c.bad('', `not valid JSON (${(e as Error).message})`);
    }
  }
  const o = c.object(v, '');
  c.known(o, '', ['defaultAction', 'defaultErrnoRet', 'architectures', 'archMap', 'flags', 'syscalls', 'listenerPath', 'listenerMetadata']);
  if (o['listenerPath']) c.bad('listenerPath', 'seccomp notify listeners are not supported');
  const defaultAction = c.action(o['defaultAction'], 'defaultAction');
  const profile: SeccompProfile = { defaultAction, syscalls: [] };
  const defaultErrnoRet = c.errnoRet(o['defaultErrnoRet'], 'defaultErrnoRet', defaultAction);
  if (defaultErrnoRet !== undefined) profile.defaultErrnoRet = defaultErrnoRet;
  const hasArchitectures = Array.isArray(o['architectures']) && o['architectures'].length > 0;
  const hasArchMap = Array.isArray(o['archMap']) && o['archMap'].length > 0;
  if (hasArchitectures && hasArchMap) c.bad('', 'both "architectures" and "archMap" are given; use one (moby refuses both too)');
  if (o['architectures'] !== undefined && o['architectures'] !== null) profile.architectures = c.architectures(o['architectures'], 'architectures');
  if (o['archMap'] !== undefined && o['archMap'] !== null) {
    if (!Array.isArray(o['archMap'])) c.bad('archMap', `expected a list, got ${describe(o['archMap'])}`);
    profile.archMap = o['archMap'].map((m, i): SeccompArchMap => {
      const p = `archMap[${i}]`;
      const e = c.object(m, p);
      c.known(e, p, ['architecture', 'subArchitectures']);
      const sub = e['subArchitectures'];
      return {
        architecture: c.oneOf(e['architecture'], `${p}.architecture`, SECCOMP_ARCHITECTURES),
        subArchitectures: sub === undefined || sub === null ? null : c.architectures(sub, `${p}.subArchitectures`),
      };
    });
  }
  if (o['flags'] !== undefined && o['flags'] !== null) profile.flags = c.flags(o['flags'], 'flags');
  const syscalls = o['syscalls'] ?? [];
  if (!Array.isArray(syscalls)) c.bad('syscalls', `expected a list, got ${describe(syscalls)}`);
  profile.syscalls = syscalls.map((s, i): SeccompProfileSyscall => {
    const p = `syscalls[${i}]`;
    const e = c.object(s, p);
    c.known(e, p, ['name', 'names', 'action', 'errnoRet', 'args', 'comment', 'includes', 'excludes']);
    const action = c.action(e['action'], `${p}.action`);
    const rule: SeccompProfileSyscall = { names: c.names(e, p), action };
    const ret = c.errnoRet(e['errnoRet'], `${p}.errnoRet`, action);
    if (ret !== undefined) rule.errnoRet = ret;
    const args = c.args(e['args'], `${p}.args`);
    if (args && args.length > 0) rule.args = args;
    if (typeof e['comment'] === 'string') rule.comment = e['comment'];
    const inc = filterOf(c, e['includes'], `${p}.includes`);
    if (inc) rule.includes = inc;
    const exc = filterOf(c, e['excludes'], `${p}.excludes`);
    if (exc) rule.excludes = exc;
    return rule;
  });
  return profile;
}

/** Checks an OCI linux.seccomp (what the wire carries); returns a normalised copy. */
export function validateLinuxSeccomp(v: unknown, field = 'spec.linux.seccomp'): LinuxSeccomp {
  const c: Checker = new Checker(field, field);
  const o = c.object(v, '');
  c.known(o, '', ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'syscalls']);
  const defaultAction = c.action(o['defaultAction'], 'defaultAction');
  const out: LinuxSeccomp = { defaultAction };
  const ret = c.errnoRet(o['defaultErrnoRet'], 'defaultErrnoRet', defaultAction);
  if (ret !== undefined) out.defaultErrnoRet = ret;
  if (o['architectures'] !== undefined) out.architectures = c.architectures(o['architectures'], 'architectures');
  if (o['flags'] !== undefined) out.flags = c.flags(o['flags'], 'flags');
  const syscalls = o['syscalls'] ?? [];
  if (!Array.isArray(syscalls)) c.bad('syscalls', `expected a list, got ${describe(syscalls)}`);
  out.syscalls = syscalls.map((s, i): LinuxSyscall => {
    const p = `syscalls[${i}]`;
    const e = c.object(s, p);
    c.known(e, p, ['names', 'action', 'errnoRet', 'args']);
    const action = c.action(e['action'], `${p}.action`);
    const names = c.strings(e['names'], `${p}.names`);
    if (names.length === 0) c.bad(`${p}.names`, 'is empty');
    const rule: LinuxSyscall = { names, action };
    const r = c.errnoRet(e['errnoRet'], `${p}.errnoRet`, action);
    if (r !== undefined) rule.errnoRet = r;
    const args = c.args(e['args'], `${p}.args`);
    if (args && args.length > 0) rule.args = args;
    return rule;
  });
  return out;
}
