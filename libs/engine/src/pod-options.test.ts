import { describe, expect, it } from 'vitest';
import { groupAddGids, podOptionsFromWire } from './pod-options';
import { sharedNamespaces } from './grpc-ports/namespace-sharing';

describe('pod options (--ipc, --pid, --uts, --sysctl, --dns, --group-add)', () => {
  it('takes host and container:<id> modes and Docker private/shareable as a namespace of its own', () => {
    expect(podOptionsFromWire({ ipcMode: 'shareable', pidMode: 'host', utsMode: 'container:pod' })).toEqual({ pidMode: 'host', utsMode: 'container:pod' });
    expect(() => podOptionsFromWire({ pidMode: 'container:' })).toThrow(/pid_mode "container:": expected host, private or container/);
    expect(() => podOptionsFromWire({ ipcMode: 'bogus' })).toThrow(expect.objectContaining({ field: 'host_config.ipc_mode' }));
  });

  it('refuses a malformed sysctl, a relative masked path and an out-of-range oom_score_adj, naming the field', () => {
    expect(() => podOptionsFromWire({ sysctls: { 'net ipv4': '1' } })).toThrow(expect.objectContaining({ field: 'host_config.sysctls[net ipv4]' }));
    expect(() => podOptionsFromWire({ maskedPaths: ['proc/kcore'] })).toThrow(expect.objectContaining({ field: 'host_config.masked_paths[0]' }));
    expect(() => podOptionsFromWire({ oomScoreAdj: 1001 })).toThrow(expect.objectContaining({ field: 'host_config.oom_score_adj' }));
    expect(podOptionsFromWire({ sysctls: { 'kernel.shm_rmid_forced': '1' }, oomScoreAdj: 0 })).toEqual({ sysctls: { 'kernel.shm_rmid_forced': '1' }, oomScoreAdj: 0 });
  });

  it('resolves --group-add names in the container group file and keeps numbers', () => {
    expect(groupAddGids(['1234', 'audio'], 'root:x:0:\naudio:x:29:\n')).toEqual([1234, 29]);
    expect(() => groupAddGids(['nope'], 'root:x:0:\n')).toThrow(expect.objectContaining({ field: 'host_config.group_add[0]' }));
  });

  it('joins the other container\'s handles, leaves host namespaces out and makes the rest', async () => {
    const handles = async (id: string): Promise<Record<string, string>> => (id === 'pod' ? { ipc: '/run/ipcns/pod', uts: '/run/utsns/pod', pid: '/run/pidns/pod' } : {});
    expect(await sharedNamespaces({ ipcMode: 'container:pod', utsMode: 'container:pod', pidMode: 'host' }, handles))
      .toEqual([{ type: 'ipc', path: '/run/ipcns/pod' }, { type: 'uts', path: '/run/utsns/pod' }]);
    expect(await sharedNamespaces(undefined, handles)).toEqual([{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }]);
    await expect(sharedNamespaces({ pidMode: 'container:gone' }, handles)).rejects.toThrow(/container gone has no pid namespace to share/);
  });
});
