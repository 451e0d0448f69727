// Wire -> runtime spec: the proto ContainerSpec / Process (generated
// __Output types, camelCase, proto3 defaults for unset scalars) turned into
// @berth/runtime's ContainerSpec / ProcessSpec with Docker's defaults for
// whatever was left unset.
//
// Proto3 cannot tell an empty repeated field from an unset one, so an empty
// list means "the default" for env, namespaces, masked and readonly paths;
// `mounts` are applied after the default mounts (the proto's contract),
// replacing a default mount with the same destination. Capabilities are a
// message, which proto3 does tell apart: unset is Docker's default set, a
// message with every set empty is no capability at all (--cap-drop ALL).
// Errors are InvalidArgumentError naming the proto field path (spec.process.args,
// process.rlimits[0].soft ...); the runtime's own validation of the result
// (shim-config.ts) names runtime field paths, which mirror the proto ones.
import { InvalidArgumentError } from '@berth/errors';
import {
  NAMESPACE_TYPES,
  defaultMounts,
  validateProcess,
  validateSpec,
  withDefaults,
  type Capabilities,
  type ContainerSpec,
  type IdMapping,
  type LinuxDevice,
  type LinuxSeccomp,
  type LinuxSeccompArg,
  type LinuxSyscall,
  type Mount,
  type Namespace,
  type NamespaceType,
  type ProcessSpec,
  type Rlimit,
  type RootfsPropagation,
  type SeccompAction,
  type SeccompOperator,
} from '@berth/runtime';
import type { typesV1 } from '@berth/proto';

function bad(field: string, message: string): never {
  throw new InvalidArgumentError(`${field}: ${message}`, { field });
}

/** The umask the shim applies; the runtime spec has no other. */
const DEFAULT_UMASK = 0o022;

// uint64 arrives as a JS number: RLIM_INFINITY (2^64-1) and anything past
// 2^53 cannot be represented exactly and only means "no limit" in practice.
function rlimitValue(field: string, v: number): number | 'unlimited' {
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0) bad(field, `expected a non-negative integer, got ${String(v)}`);
  return v > Number.MAX_SAFE_INTEGER ? 'unlimited' : v;
}

/** Unset: undefined (withDefaults gives Docker's set). Set: exactly these
 * sets, all empty included: a process that drops every capability must not
 * get the defaults back (Process.capabilities in process.proto). */
function capabilitiesOf(c: typesV1.LinuxCapabilities__Output | null): Capabilities | undefined {
  if (!c) return undefined;
  return { bounding: c.bounding, effective: c.effective, permitted: c.permitted, inheritable: c.inheritable, ambient: c.ambient };
}

/**
 * The parts of a wire Process the caller set, as runtime ProcessSpec fields
 * (absent where withDefaults should decide). `field` prefixes error fields.
 */
function processInput(p: typesV1.Process__Output, field: string): Partial<ProcessSpec> & { args: string[] } {
  if (p.args.length === 0) bad(`${field}.args`, 'must have at least args[0], the program to run');
  const out: Partial<ProcessSpec> & { args: string[] } = { args: p.args };
  if (p.env.length > 0) out.env = p.env;
  if (p.cwd !== '') out.cwd = p.cwd;
  if (p.user) {
    if (p.user.umask !== undefined && p.user.umask !== DEFAULT_UMASK) {
      bad(`${field}.user.umask`, `umask ${p.user.umask.toString(8).padStart(4, '0')} is not supported: berth-shim always applies 0022; leave it unset`);
    }
    out.user = { uid: p.user.uid, gid: p.user.gid, additionalGids: p.user.additionalGids };
  }
  const caps = capabilitiesOf(p.capabilities);
  if (caps) out.capabilities = caps;
  if (p.rlimits.length > 0) {
    out.rlimits = p.rlimits.map(
      (r, i): Rlimit => ({
        type: r.type,
        soft: rlimitValue(`${field}.rlimits[${i}].soft`, r.soft),
        hard: rlimitValue(`${field}.rlimits[${i}].hard`, r.hard),
      }),
    );
  }
  out.noNewPrivileges = p.noNewPrivileges;
  out.terminal = p.terminal;
  if (p.oomScoreAdj !== undefined) out.oomScoreAdj = p.oomScoreAdj;
  return out;
}

// uint64 arrives as a JS number: past 2^53 it is no longer the value sent.
function seccompValue(field: string, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) bad(field, `${String(v)} is past 2^53-1, the largest argument value berth passes exactly`);
  return v;
}

/** linux.seccomp; the names of actions, operators and architectures are
 * checked by the runtime's validation (validateSpec). Unset: no filter. */
function seccompOf(s: typesV1.LinuxSeccomp__Output | null | undefined, field: string): LinuxSeccomp | undefined {
  if (!s) return undefined;
  const out: LinuxSeccomp = {
    defaultAction: s.defaultAction as SeccompAction,
    architectures: s.architectures,
    flags: s.flags,
    syscalls: s.syscalls.map((r, i): LinuxSyscall => {
      const rule: LinuxSyscall = { names: r.names, action: r.action as SeccompAction };
      if (r.errnoRet !== undefined) rule.errnoRet = r.errnoRet;
      if (r.args.length > 0) {
        rule.args = r.args.map((a, k): LinuxSeccompArg => ({
          index: a.index,
          op: a.op as SeccompOperator,
          value: seccompValue(`${field}.syscalls[${i}].args[${k}].value`, a.value),
          valueTwo: seccompValue(`${field}.syscalls[${i}].args[${k}].valueTwo`, a.valueTwo),
        }));
      }
      return rule;
    }),
  };
  if (s.defaultErrnoRet !== undefined) out.defaultErrnoRet = s.defaultErrnoRet;
  return out;
}

function mappings(list: typesV1.LinuxIDMapping__Output[]): IdMapping[] {
  return list.map((m) => ({ containerID: m.containerId, hostID: m.hostId, size: m.size }));
}

function namespacesOf(list: typesV1.LinuxNamespace__Output[], field: string): Namespace[] | undefined {
  if (list.length === 0) return undefined;
  return list.map((n, i) => {
    if (!(NAMESPACE_TYPES as readonly string[]).includes(n.type)) {
      bad(`${field}[${i}].type`, `unknown namespace "${n.type}"; expected one of ${NAMESPACE_TYPES.join(', ')}`);
    }
    return n.path === '' ? { type: n.type as NamespaceType } : { type: n.type as NamespaceType, path: n.path };
  });
}

function mountsOf(list: typesV1.Mount__Output[], field: string): Mount[] {
  const given = list.map((m, i): Mount => {
    if (m.destination === '') bad(`${field}[${i}].destination`, 'must not be empty');
    if (m.type === '') bad(`${field}[${i}].type`, 'must not be empty (a filesystem type, or "bind")');
    return { destination: m.destination, type: m.type, source: m.source, options: m.options };
  });
  const norm = (p: string) => p.replace(/\/+$/, '') || '/';
  const overridden = new Set(given.map((m) => norm(m.destination)));
  return [...defaultMounts().filter((m) => !overridden.has(norm(m.destination))), ...given];
}

/** linux.devices; the runtime's validation checks paths and numbers. */
function devicesOf(list: typesV1.LinuxDevice__Output[], field: string): LinuxDevice[] {
  return list.map((d, i) => {
    if (d.type !== 'c' && d.type !== 'b' && d.type !== 'p') bad(`${field}[${i}].type`, `"${d.type}" is not c, b or p`);
    return {
      path: d.path,
      type: d.type,
      major: Number(d.major),
      minor: Number(d.minor),
      ...(d.fileMode !== undefined ? { fileMode: d.fileMode } : {}),
      ...(d.uid !== undefined ? { uid: d.uid } : {}),
      ...(d.gid !== undefined ? { gid: d.gid } : {}),
      ...(d.hostPath ? { hostPath: d.hostPath } : {}),
    };
  });
}

/**
 * The runtime spec for a wire ContainerSpec (CreateRequest.spec), Docker's
 * defaults filled in. Throws InvalidArgumentError naming the proto field
 * (prefixed with `field`, "spec" for CreateRequest).
 */
export function specFromWire(spec: typesV1.ContainerSpec__Output | null, field = 'spec'): ContainerSpec {
  if (!spec) bad(field, 'is required');
  if (!spec.process) bad(`${field}.process`, 'is required');
  if (!spec.root || spec.root.path === '') bad(`${field}.root.path`, 'is required: the absolute host path of the prepared root filesystem');
  const linux = spec.linux;
  const ns = linux ? namespacesOf(linux.namespaces, `${field}.linux.namespaces`) : undefined;
  const propagation = linux?.rootfsPropagation;
  const seccomp = seccompOf(linux?.seccomp, `${field}.linux.seccomp`);
  const out = withDefaults({
    process: processInput(spec.process, `${field}.process`),
    root: { path: spec.root.path, readonly: spec.root.readonly },
    ...(spec.hostname !== '' ? { hostname: spec.hostname } : {}),
    ...(spec.domainname ? { domainname: spec.domainname } : {}),
    mounts: mountsOf(spec.mounts, `${field}.mounts`),
    linux: {
      ...(ns ? { namespaces: ns } : {}),
      ...(linux && linux.uidMappings.length > 0 ? { uidMappings: mappings(linux.uidMappings) } : {}),
      ...(linux && linux.gidMappings.length > 0 ? { gidMappings: mappings(linux.gidMappings) } : {}),
      // unmasked_paths (--privileged): none at all, where empty lists mean Docker's defaults.
      ...(linux?.unmaskedPaths ? { maskedPaths: [], readonlyPaths: [] } : {}),
      ...(linux && !linux.unmaskedPaths && linux.maskedPaths.length > 0 ? { maskedPaths: linux.maskedPaths } : {}),
      ...(linux && !linux.unmaskedPaths && linux.readonlyPaths.length > 0 ? { readonlyPaths: linux.readonlyPaths } : {}),
      ...(linux && linux.devices.length > 0 ? { devices: devicesOf(linux.devices, `${field}.linux.devices`) } : {}),
      ...(linux && Object.keys(linux.sysctl).length > 0 ? { sysctl: linux.sysctl } : {}),
      ...(linux && linux.cgroupsPaths.length > 0 ? { cgroupsPaths: linux.cgroupsPaths } : {}),
      ...(propagation ? { rootfsPropagation: propagation as RootfsPropagation } : {}),
      ...(seccomp ? { seccomp } : {}),
    },
    init: spec.init,
  });
  // The runtime's validation names runtime paths (process.args[0]), which
  // mirror the proto's: prefix them so the caller sees spec.process.args[0].
  try {
    validateSpec(out);
  } catch (e) {
    if (e instanceof InvalidArgumentError && e.field !== undefined) {
      throw new InvalidArgumentError(`${field}.${e.message}`, { field: `${field}.${e.field}`, cause: e });
    }
    throw e;
  }
  return out;
}

/**
 * The runtime ProcessSpec for an exec (ExecRequest.process): unset parts
 * default like a container's init (Docker's capabilities, PATH, cwd /, root).
 * Validated here so a bad field is named before anything runs.
 */
export function processFromWire(p: typesV1.Process__Output | null, field = 'process'): ProcessSpec {
  if (!p) bad(field, 'is required');
  const input = processInput(p, field);
  const proc = withDefaults({ process: input, root: { path: '/' } }).process;
  validateProcess(proc, field);
  return proc;
}
