// Serialises a ContainerSpec into berth-shim's config format (and a
// ProcessSpec into its exec config). The format is specified in
// docs/design/shim.md: a header line, then one directive per line, fields
// separated by TAB, each field escaped (\\ \t \n \r \xHH) so any byte but NUL
// survives; the C side never parses JSON.
import { existsSync } from 'node:fs';
import { rename, writeFile, unlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FailedPreconditionError, fromNodeError } from '@berth/errors';
import type { LinuxSeccomp, SeccompAction } from '@berth/seccomp';
import type { ShimBinding } from './shim-binding';
import { releaseInit } from './start-fifo';
import { validateProcess, validateSpec, type ContainerSpec, type ProcessSpec } from './spec';

/** Escapes one field: backslash, TAB, LF, CR and every other control byte. */
export function escapeField(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** One directive line, newline included. */
export function formatLine(fields: readonly string[]): string {
  return `${fields.map(escapeField).join('\t')}\n`;
}

const limit = (v: number | 'unlimited') => (v === 'unlimited' ? 'unlimited' : String(v));

function processLines(p: ProcessSpec): string[] {
  const lines: string[] = [];
  for (const a of p.args) lines.push(formatLine(['arg', a]));
  for (const e of p.env) lines.push(formatLine(['env', e]));
  lines.push(formatLine(['cwd', p.cwd]));
  lines.push(formatLine(['user', String(p.user.uid), String(p.user.gid)]));
  for (const g of p.user.additionalGids ?? []) lines.push(formatLine(['group', String(g)]));
  const caps = p.capabilities ?? {};
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient'] as const) {
    lines.push(formatLine(['cap', set, ...(caps[set] ?? [])]));
  }
  for (const r of p.rlimits ?? []) lines.push(formatLine(['rlimit', r.type, limit(r.soft), limit(r.hard)]));
  if (p.noNewPrivileges) lines.push(formatLine(['no-new-privileges']));
  if (p.terminal) lines.push(formatLine(['terminal']));
  if (p.oomScoreAdj !== undefined) lines.push(formatLine(['oom-score-adj', String(p.oomScoreAdj)]));
  return lines;
}

// The shim wants an explicit return value for SCMP_ACT_ERRNO/SCMP_ACT_TRACE
// ("-" for the other actions): OCI's absent errnoRet is EPERM (runc).
const EPERM = 1;
const seccompRet = (action: SeccompAction, ret: number | undefined): string =>
  action === 'SCMP_ACT_ERRNO' || action === 'SCMP_ACT_TRACE' ? String(ret ?? EPERM) : '-';

/** linux.seccomp as `seccomp*` directives: one seccomp-syscall line per name. */
function seccompLines(s: LinuxSeccomp): string[] {
  const lines = [formatLine(['seccomp', s.defaultAction, seccompRet(s.defaultAction, s.defaultErrnoRet)])];
  for (const a of s.architectures ?? []) lines.push(formatLine(['seccomp-arch', a]));
  for (const f of s.flags ?? []) lines.push(formatLine(['seccomp-flag', f]));
  for (const r of s.syscalls ?? []) {
    const args = (r.args ?? []).flatMap((a) => [String(a.index), a.op, String(a.value), String(a.valueTwo ?? 0)]);
    for (const name of r.names) lines.push(formatLine(['seccomp-syscall', name, r.action, seccompRet(r.action, r.errnoRet), ...args]));
  }
  return lines;
}

/** What the binding adds to every create config besides the spec. */
export interface ShimConfigOptions {
  /**
   * Where the shim keeps compiled seccomp programs (a directory only the
   * service's user may write; made 0700 when missing): compiling Docker's
   * default profile costs every create and exec 10-15 ms, reading it back a
   * file read (docs/design/shim.md, "seccomp").
   */
  seccompCacheDir?: string;
}

/** The config text for `berth-shim create` (validates the spec first). */
export function serializeShimConfig(spec: ContainerSpec, opts: ShimConfigOptions = {}): string {
  validateSpec(spec);
  const lines = [formatLine(['berth-shim-config', '1']), ...processLines(spec.process)];
  const linux = spec.linux;
  for (const ns of linux.namespaces) {
    if (ns.type === 'time' && !existsSync('/proc/self/ns/time')) {
      throw new FailedPreconditionError('linux.namespaces: this kernel has no time namespaces (/proc/self/ns/time is missing); drop {type: "time"}', { field: 'linux.namespaces' });
    }
    lines.push(formatLine(ns.path === undefined ? ['namespace', ns.type] : ['namespace', ns.type, ns.path]));
  }
  for (const m of linux.uidMappings ?? []) lines.push(formatLine(['uid-map', String(m.containerID), String(m.hostID), String(m.size)]));
  for (const m of linux.gidMappings ?? []) lines.push(formatLine(['gid-map', String(m.containerID), String(m.hostID), String(m.size)]));
  lines.push(formatLine(['root', spec.root.path]));
  if (spec.root.readonly) lines.push(formatLine(['root-readonly']));
  if (linux.rootfsPropagation) lines.push(formatLine(['rootfs-propagation', linux.rootfsPropagation]));
  if (spec.hostname !== undefined) lines.push(formatLine(['hostname', spec.hostname]));
  if (spec.domainname !== undefined) lines.push(formatLine(['domainname', spec.domainname]));
  for (const m of spec.mounts) lines.push(formatLine(['mount', m.destination, m.type, m.source, ...(m.options ?? [])]));
  for (const p of linux.maskedPaths ?? []) lines.push(formatLine(['masked-path', p]));
  for (const p of linux.readonlyPaths ?? []) lines.push(formatLine(['readonly-path', p]));
  for (const [k, v] of Object.entries(linux.sysctl ?? {})) lines.push(formatLine(['sysctl', k, v]));
  for (const c of linux.cgroupsPaths ?? []) lines.push(formatLine(['cgroup', c]));
  if (spec.init) lines.push(formatLine(['init', initBinaryPath()]));
  for (const d of linux.devices ?? []) {
    const mode = (d.fileMode ?? 0o666).toString(8).padStart(4, '0');
    lines.push(formatLine(['device', d.path, d.type, String(d.major), String(d.minor), mode, String(d.uid ?? 0), String(d.gid ?? 0), d.hostPath ?? d.path]));
  }
  if (linux.seccomp) {
    lines.push(...seccompLines(linux.seccomp));
    if (opts.seccompCacheDir) lines.push(formatLine(['seccomp-cache', opts.seccompCacheDir]));
  }
  return lines.join('');
}

/** The config text for `berth-shim exec` (validates the process first). */
export function serializeExecConfig(p: ProcessSpec): string {
  validateProcess(p);
  return [formatLine(['berth-exec-config', '1']), ...processLines(p)].join('');
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, text, { mode: 0o600 });
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw fromNodeError(e, `write shim config ${path}`);
  }
}

/** Writes <stateDir>/config for `berth-shim create <stateDir>`. */
export async function writeShimConfig(stateDir: string, spec: ContainerSpec, opts: ShimConfigOptions = {}): Promise<void> {
  await writeAtomic(resolve(stateDir, 'config'), serializeShimConfig(spec, opts));
}

/** Writes an exec config for `berth-shim exec <stateDir> <path>`. */
export async function writeExecConfig(path: string, p: ProcessSpec): Promise<void> {
  await writeAtomic(path, serializeExecConfig(p));
}

// libs/runtime/{src,dist}/ -> repository root.
const repoRoot = resolve(__dirname, '..', '..', '..');

/** The berth-shim binary: $BERTH_SHIM, else native/build/berth-shim. */
export function shimBinaryPath(): string {
  return process.env['BERTH_SHIM'] || resolve(repoRoot, 'native', 'build', 'berth-shim');
}

/** The berth-init binary mounted at /dev/init: $BERTH_INIT, else native/build/berth-init. */
export function initBinaryPath(): string {
  return process.env['BERTH_INIT'] || resolve(repoRoot, 'native', 'build', 'berth-init');
}

/** The binding the Runtime drives berth-shim through (see shim-binding.ts). */
export function berthShim(opts: ShimConfigOptions = {}): ShimBinding<ContainerSpec, ProcessSpec> {
  return { path: shimBinaryPath(), writeConfig: (dir, spec) => writeShimConfig(dir, spec, opts), writeExecConfig, start: releaseInit };
}
