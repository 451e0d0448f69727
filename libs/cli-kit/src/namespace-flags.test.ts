// run/create's namespace, sysctl, DNS, group and OOM score flags.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseCommandLine, type CommandDef } from './command';
import { buildRunRequest, RUN_COMMAND } from './run-request';

const ROOT: CommandDef = { name: 'berth', usage: '[OPTIONS] COMMAND', description: 'berth', subcommands: [RUN_COMMAND] };
const run = (...argv: string[]) => buildRunRequest(parseCommandLine(ROOT, ['run', ...argv]), { lookupEnv: () => undefined, readFile: () => '', cwd: '/' });
function err(...argv: string[]): { field: string | undefined; message: string } {
  try { run(...argv); } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return { field: (e as { field?: string }).field, message: (e as Error).message };
  }
  throw new Error(`expected ${argv.join(' ')} to fail`);
}

describe('namespace flags', () => {
  it('fills the HostConfig fields', () => {
    const h = run('--ipc', 'container:db', '--pid', 'container:web', '--uts', 'host', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'kernel.shmmax=1',
      '--dns', '1.1.1.1', '--dns-search', 'a.example', '--dns-option', 'ndots:2', '--group-add', 'audio', '--group-add', '1234', '--oom-score-adj', '500', 'alpine').hostConfig;
    expect(h).toMatchObject({
      ipcMode: 'container:db', pidMode: 'container:web', utsMode: 'host', sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1' },
      dns: ['1.1.1.1'], dnsSearch: ['a.example'], dnsOptions: ['ndots:2'], groupAdd: ['audio', '1234'], oomScoreAdj: 500,
    });
    // Docker's private and shareable are berth's default (a namespace of its own).
    expect(run('--ipc', 'shareable', 'alpine').hostConfig.ipcMode).toBeUndefined();
  });

  it('refuses host sysctls by key, net.* with --network host, and bad modes', () => {
    expect(err('--sysctl', 'vm.swappiness=1', 'alpine')).toMatchObject({ field: 'sysctl', message: expect.stringContaining('"vm.swappiness" is not namespaced') });
    expect(err('--network', 'host', '--sysctl', 'net.ipv4.ip_forward=1', 'alpine').message).toContain('--network host');
    expect(err('--ipc', 'host', '--sysctl', 'kernel.shmmax=1', 'alpine').message).toContain('--ipc host');
    expect(err('--sysctl', 'novalue', 'alpine').field).toBe('sysctl');
    expect(err('--pid', 'private', 'alpine').field).toBe('pid');
    expect(err('--uts', 'container:x', 'alpine').field).toBe('uts');
    expect(err('--ipc', 'none', 'alpine').field).toBe('ipc');
    expect(err('--uts', 'host', '--hostname', 'x', 'alpine').field).toBe('hostname');
    expect(err('--dns', 'resolver.example', 'alpine').field).toBe('dns');
    expect(err('--group-add', 'a b', 'alpine').field).toBe('group-add');
    expect(err('--oom-score-adj', '-1001', 'alpine').field).toBe('oom-score-adj');
  });
});
