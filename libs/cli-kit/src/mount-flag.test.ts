// --mount's long form as Docker's CLI reads it.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseCommandLine } from './command';
import { parseMountFlag } from './mount-flag';
import { buildRunRequest, RUN_COMMAND } from './run-request';

describe('--mount', () => {
  it('reads bind, volume and tmpfs mounts with their options', () => {
    expect(parseMountFlag('type=bind,src=/tmp,dst=/data,readonly,bind-propagation=rslave', '/')).toEqual({ type: 'bind', source: '/tmp', target: '/data', readOnly: true, options: ['rslave'] });
    expect(parseMountFlag('type=bind,source=.,target=/w,ro=false', '/tmp')).toMatchObject({ source: '/tmp', readOnly: false });
    expect(parseMountFlag('source=cache,target=/cache,volume-nocopy', '/')).toEqual({ type: 'volume', source: 'cache', target: '/cache', readOnly: false, options: ['nocopy'] });
    expect(parseMountFlag('type=tmpfs,destination=/scratch,tmpfs-size=1m,tmpfs-mode=1770', '/')).toEqual({ type: 'tmpfs', source: '', target: '/scratch', readOnly: false, options: ['size=1048576', 'mode=1770'] });
  });

  it('refuses what it cannot do, naming the flag', () => {
    for (const bad of ['type=npipe,target=/x', 'type=bind,target=/x', 'type=bind,source=/no/such/berth/dir,target=/x', 'source=v,target=relative', 'source=v,target=/',
      'type=tmpfs,source=x,target=/t', 'type=tmpfs,target=/t,tmpfs-size=big', 'source=v,target=/v,volume-driver=nfs', 'source=v,target=/v,readonly=maybe']) {
      try {
        parseMountFlag(bad, '/');
        throw new Error(`accepted ${bad}`);
      } catch (e) {
        expect(isInvalidArgument(e), bad).toBe(true);
        expect((e as { field?: string }).field).toBe('mount');
      }
    }
  });
});

describe('run flags that were refused until built', () => {
  const root = { name: 'berth', usage: '', description: '', subcommands: [RUN_COMMAND] };
  const build = (args: string[]) => buildRunRequest(parseCommandLine(root, ['run', ...args, 'alpine']), { lookupEnv: () => undefined, readFile: () => '', cwd: '/' });

  it('--domainname, --mac-address and --cgroup-parent reach the request, normalized', () => {
    const r = build(['--domainname', 'example.test', '--mac-address', '02:42:AC:11:00:02', '--cgroup-parent', '/kubepods//burstable/']);
    expect(r.config.domainname).toBe('example.test');
    expect(r.hostConfig).toMatchObject({ macAddress: '02:42:ac:11:00:02', cgroupParent: 'kubepods/burstable' });
  });

  it('bad values are refused naming the flag', () => {
    for (const [flag, value] of [['--mac-address', '01:00:5e:00:00:01'], ['--cgroup-parent', '../escape'], ['--domainname', 'a b'], ['--storage-opt', 'size=1G']] as const) {
      try {
        build([flag, value]);
        throw new Error(`accepted ${flag} ${value}`);
      } catch (e) {
        expect(isInvalidArgument(e), `${flag} ${value}`).toBe(true);
        expect((e as Error).message).toContain(flag);
      }
    }
  });
});
