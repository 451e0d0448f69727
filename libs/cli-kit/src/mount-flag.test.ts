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

describe('run flags berth does not do yet', () => {
  it('are taken by name and refused saying why', () => {
    const root = { name: 'berth', usage: '', description: '', subcommands: [RUN_COMMAND] };
    for (const [flag, why] of [[['--mac-address', '02:42:ac:11:00:02'], 'MAC address']] as const) {
      try {
        buildRunRequest(parseCommandLine(root, ['run', ...flag, 'alpine']), { lookupEnv: () => undefined, readFile: () => '', cwd: '/' });
        throw new Error(`accepted ${flag.join(' ')}`);
      } catch (e) {
        expect(isInvalidArgument(e), flag.join(' ')).toBe(true);
        expect((e as Error).message).toContain('not supported by berth');
        expect((e as Error).message).toContain(why);
      }
    }
  });
});
