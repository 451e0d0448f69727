import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { DEFAULT_PATH, emptyImageConfig, mergeConfig, processFields, type ImageConfig } from './merge';
import { defaultContainerConfig, type ContainerConfig } from './types';
import { resolveUser } from './user';

const user = (p: Partial<ContainerConfig>): ContainerConfig => ({ ...defaultContainerConfig('img'), ...p });
const image = (p: Partial<ImageConfig>): ImageConfig => ({ ...emptyImageConfig(), ...p });
const argv = (u: Partial<ContainerConfig>, i: Partial<ImageConfig>) => processFields(mergeConfig(user(u), image(i)), 'h').args;

describe('entrypoint / cmd merge (Docker behaviour)', () => {
  const img = { entrypoint: ['/docker-entrypoint.sh'], cmd: ['nginx', '-g', 'daemon off;'] };
  const cases: [string, Partial<ContainerConfig>, Partial<ImageConfig>, string[] | 'error'][] = [
    ['docker run nginx', {}, img, ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']],
    ['docker run nginx sh', { cmd: ['sh'] }, img, ['/docker-entrypoint.sh', 'sh']],
    ['docker run --entrypoint sh nginx', { entrypoint: ['sh'] }, img, ['sh']],
    ['docker run --entrypoint sh nginx -c id', { entrypoint: ['sh'], cmd: ['-c', 'id'] }, img, ['sh', '-c', 'id']],
    ['docker run --entrypoint "" nginx', { entrypoint: [''] }, img, 'error'],
    ['docker run --entrypoint "" nginx ls /', { entrypoint: [''], cmd: ['ls', '/'] }, img, ['ls', '/']],
    ['docker run alpine (CMD only)', {}, { cmd: ['/bin/sh'] }, ['/bin/sh']],
    ['docker run alpine echo hi', { cmd: ['echo', 'hi'] }, { cmd: ['/bin/sh'] }, ['echo', 'hi']],
    ['docker run scratch-like (nothing)', {}, {}, 'error'],
    ['ENTRYPOINT only, no args', {}, { entrypoint: ['/app'] }, ['/app']],
    ['ENTRYPOINT only, args', { cmd: ['--port', '80'] }, { entrypoint: ['/app'] }, ['/app', '--port', '80']],
    // API callers can send Entrypoint: [] (Go: empty, not nil): Docker then takes the image Cmd but not its Entrypoint.
    ['explicit empty entrypoint list (API) keeps image Cmd, drops image Entrypoint', { entrypoint: [] }, img, ['nginx', '-g', 'daemon off;']],
  ];
  for (const [name, u, i, want] of cases) {
    it(name, () => {
      if (want === 'error') {
        try { argv(u, i); expect.unreachable(); } catch (e) {
          expect(isInvalidArgument(e)).toBe(true);
          expect((e as Error).message).toMatch(/no command specified/);
        }
      } else expect(argv(u, i)).toEqual(want);
    });
  }
});

describe('other fields', () => {
  it('env: user overrides image by key, image-only keys appended', () => {
    const m = mergeConfig(user({ env: ['A=user', 'C=3'] }), image({ env: ['A=img', 'B=2', 'PATH=/img/bin'] }));
    expect(m.env).toEqual(['A=user', 'C=3', 'B=2', 'PATH=/img/bin']);
  });
  it('process env: daemon defaults, replaced by config, TERM with tty, bare KEY removes', () => {
    const f = processFields(mergeConfig(user({ env: ['PATH=/x', 'HOSTNAME'], tty: true, cmd: ['x'] }), image({ env: ['FOO=1'] })), 'abc');
    expect(f.env).toEqual(['PATH=/x', 'TERM=xterm', 'FOO=1']);
    const g = processFields(mergeConfig(user({}), image({ cmd: ['x'] })), 'abc');
    expect(g.env).toEqual([`PATH=${DEFAULT_PATH}`, 'HOSTNAME=abc']);
  });
  it('user, workdir, stop signal: request wins, image fills', () => {
    const m = mergeConfig(user({ cmd: ['x'] }), image({ user: 'nginx', workingDir: '/srv', stopSignal: 'SIGQUIT' }));
    expect([m.user, m.workingDir, m.stopSignal]).toEqual(['nginx', '/srv', 'SIGQUIT']);
    const n = mergeConfig(user({ cmd: ['x'], user: '1000', workingDir: '/tmp', stopSignal: 'SIGINT' }), image({ user: 'nginx', workingDir: '/srv', stopSignal: 'SIGQUIT' }));
    expect([n.user, n.workingDir, n.stopSignal]).toEqual(['1000', '/tmp', 'SIGINT']);
    expect(processFields(mergeConfig(user({ cmd: ['x'] }), image({})), 'h').cwd).toBe('/');
    expect(processFields(mergeConfig(user({ cmd: ['x'] }), image({ workingDir: 'app/' })), 'h').cwd).toBe('/app/');
  });
  it('labels, exposed ports and volumes merge', () => {
    const m = mergeConfig(
      user({ cmd: ['x'], labels: { a: 'user' }, exposedPorts: ['8080/tcp'], volumes: ['/data'] }),
      image({ labels: { a: 'img', b: 'img' }, exposedPorts: ['80/tcp', '8080/tcp'], volumes: ['/var/lib/x'] }),
    );
    expect(m.labels).toEqual({ a: 'user', b: 'img' });
    expect(m.exposedPorts).toEqual(['8080/tcp', '80/tcp']);
    expect(m.volumes).toEqual(['/data', '/var/lib/x']);
  });
  it('does not modify its inputs', () => {
    const u = user({ labels: { a: '1' } });
    const i = image({ labels: { b: '2' }, cmd: ['x'] });
    mergeConfig(u, i);
    expect(u.labels).toEqual({ a: '1' });
    expect(u.cmd).toBeNull();
  });
});

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# comment
nginx:x:101:101:nginx user:/var/cache/nginx:/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
broken line
`;
const GROUP = `root:x:0:
daemon:x:1:
nginx:x:101:
app:x:1000:
audio:x:29:app,nginx
video:x:44:app
`;

describe('resolveUser', () => {
  const cases: [string, { uid: number; gid: number; additionalGids: number[]; home: string }][] = [
    ['', { uid: 0, gid: 0, additionalGids: [], home: '/root' }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/app' }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [29, 44], home: '/home/app' }],
    ['4242', { uid: 4242, gid: 0, additionalGids: [], home: '/' }],
    ['4242:4343', { uid: 4242, gid: 4343, additionalGids: [], home: '/' }],
    ['nginx:audio', { uid: 101, gid: 29, additionalGids: [], home: '/var/cache/nginx' }],
    ['app:0', { uid: 1000, gid: 0, additionalGids: [29, 44], home: '/home/app' }],
  ];
  for (const [spec, want] of cases) {
    it(`"${spec}"`, () => expect(resolveUser(spec, PASSWD, GROUP)).toEqual(want));
  }
  it('errors name what is missing', () => {
    expect(() => resolveUser('ghost', PASSWD, GROUP)).toThrow('unable to find user ghost: no matching entries in passwd file');
    expect(() => resolveUser('app:ghosts', PASSWD, GROUP)).toThrow('unable to find group ghosts: no matching entries in group file');
    expect(() => resolveUser('app', null, null)).toThrow(/no \/etc\/passwd; use a numeric uid/);
    expect(() => resolveUser('1:2:3', PASSWD, GROUP)).toThrow(/expected user\[:group\]/);
    expect(() => resolveUser('app:', PASSWD, GROUP)).toThrow(/empty group/);
    expect(() => resolveUser('4294967296', PASSWD, GROUP)).toThrow(/out of range/);
  });
  it('numeric ids work without passwd/group files', () => {
    expect(resolveUser('5:6', null, null)).toEqual({ uid: 5, gid: 6, additionalGids: [], home: '/' });
  });
});
