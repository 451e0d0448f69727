// The namespaces port sends the container's confinement from HostConfig's
// --security-opt and --privileged: Docker's default seccomp profile resolved
// for the container's capabilities, none for unconfined or privileged, and
// no_new_privs for the init and (from the container) for every exec.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { namespacesV1 } from '@berth/proto';
import type { ProcessSpec } from '../ports';
import type { CgroupsClient } from './cgroups';
import { grpcNamespacesPort, type NamespacesClient } from './namespaces';
import { ContainerFiles } from './shared';

const spec = (logPath: string, o: Partial<ProcessSpec> = {}): ProcessSpec => ({
  rootfs: '/r', readonlyRootfs: false, args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], hostname: 'h',
  terminal: false, openStdin: false, cgroupPath: '/sys/fs/cgroup/x', mounts: [], capAdd: [], capDrop: [], init: false,
  usernsMode: '', networkMode: 'none', logPath, logBounds: { maxSize: 1024, maxFiles: 2 }, securityOpt: [], ...o,
});

function fakes() {
  const creates: namespacesV1.CreateRequest[] = [];
  const execs: namespacesV1.ExecRequest[] = [];
  const ns = {
    async Create(req: namespacesV1.CreateRequest) { creates.push(req); return { pid: 4242, namespacePaths: {}, monitorPid: 1 }; },
    async Exec(req: namespacesV1.ExecRequest) { execs.push(req); return { pid: 4343 }; },
    async Delete() { return {}; },
    Logs() { return (async function* () { /* none */ })(); },
  } as unknown as NamespacesClient;
  const cg = { AddProcess: async () => ({}) } as unknown as CgroupsClient;
  return { creates, execs, ns, cg };
}

/** Names the filter allows with no argument condition. */
const allowed = (s: namespacesV1.CreateRequest['spec']) =>
  new Set((s?.linux?.seccomp?.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW' && (r.args ?? []).length === 0).flatMap((r) => r.names ?? []));

describe('grpc namespaces port: seccomp and no_new_privs', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'berth-nsport-sc-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("sends Docker's default profile resolved for the container's capabilities, none when unconfined or privileged", async () => {
    const f = fakes();
    const port = grpcNamespacesPort({ namespaces: f.ns, cgroups: f.cg, files: new ContainerFiles(dir) });
    try {
      await port.create('d', spec(join(dir, 'd.log')));
      await port.create('a', spec(join(dir, 'a.log'), { capAdd: ['SYS_ADMIN'] }));
      await port.create('u', spec(join(dir, 'u.log'), { securityOpt: ['seccomp=unconfined'] }));
      await port.create('p', spec(join(dir, 'p.log'), { privileged: true }));
      await port.create('n', spec(join(dir, 'n.log'), { securityOpt: ['no-new-privileges'] }));
      const [d, a, u, p, n] = f.creates;
      expect(d?.spec?.linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
      expect(d?.spec?.linux?.seccomp?.architectures).toContain(process.arch === 'x64' ? 'SCMP_ARCH_X86_64' : 'SCMP_ARCH_AARCH64');
      expect(allowed(d?.spec).has('read')).toBe(true);
      expect(allowed(d?.spec).has('unshare')).toBe(false);
      expect(allowed(d?.spec).has('keyctl')).toBe(false);
      expect(allowed(a?.spec).has('unshare')).toBe(true);
      expect(u?.spec?.linux?.seccomp).toBeUndefined();
      expect(p?.spec?.linux?.seccomp).toBeUndefined();
      expect(d?.spec?.process?.noNewPrivileges).toBe(false);
      expect(n?.spec?.process?.noNewPrivileges).toBe(true);
      expect(n?.spec?.linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    } finally {
      await port.close();
    }
  });

  it("gives an exec the container's no_new_privs", async () => {
    const f = fakes();
    const port = grpcNamespacesPort({ namespaces: f.ns, cgroups: f.cg, files: new ContainerFiles(dir) });
    try {
      const exec = { args: ['true'], env: [], cwd: '/', uid: 0, gid: 0, additionalGids: [], terminal: false, openStdin: false, privileged: false };
      await port.exec('c', 'e1', { ...exec, noNewPrivileges: true });
      await port.exec('c', 'e2', { ...exec, noNewPrivileges: false });
      expect(f.execs.map((e) => e.process?.noNewPrivileges)).toEqual([true, false]);
    } finally {
      await port.close();
    }
  });
});
