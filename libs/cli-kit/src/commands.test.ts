import { describe, expect, it } from 'vitest';
import { parseCommandLine, renderHelp, type CommandDef } from './command';
import { BERTH, parseCopyArgs, parseFilters, parseStopTime, parseTail } from './commands';

const p = (argv: string) => parseCommandLine(BERTH, argv.split(' ').filter(Boolean));

function* walk(c: CommandDef, path: string[]): Generator<[CommandDef, string[]]> {
  yield [c, path];
  for (const s of c.subcommands ?? []) yield* walk(s, [...path, s.name]);
}

describe('berth command tree', () => {
  it('every command answers --help with usage and its flags', () => {
    let n = 0;
    for (const [cmd, path] of walk(BERTH, ['berth'])) {
      const r = parseCommandLine(BERTH, [...path.slice(1), '--help']);
      expect(r.help).toBe(true);
      expect(r.path).toEqual(path);
      const h = renderHelp(r.command, r.path);
      expect(h).toContain(`Usage:  ${path.join(' ')} ${cmd.usage.split('\n')[0]}`);
      for (const fl of cmd.flags ?? []) if (!fl.hidden) expect(h).toContain(`--${fl.name}`);
      n++;
    }
    expect(n).toBeGreaterThan(60);
  });

  it('no command has two flags with the same name or shorthand', () => {
    for (const [cmd, path] of walk(BERTH, ['berth'])) {
      const flags = cmd.flags ?? [];
      const shorts = flags.map((x) => x.short).filter(Boolean);
      expect([path.join(' '), new Set(shorts).size]).toEqual([path.join(' '), shorts.length]);
      expect([path.join(' '), new Set(flags.map((x) => x.name)).size]).toEqual([path.join(' '), flags.length]);
    }
  });

  it('groups without a subcommand print help; unknown commands are errors', () => {
    expect(p('image').help).toBe(true);
    expect(() => p('imag')).toThrow(/unknown command "imag" for "berth"/);
    expect(() => p('image frob')).toThrow(/unknown command "frob" for "berth image"/);
  });

  it('ps flags', () => {
    const r = p('ps -aq --filter status=exited -f label=a --format {{.ID}} --no-trunc -n 3');
    expect(r.flags).toMatchObject({ all: true, quiet: true, filter: ['status=exited', 'label=a'], format: '{{.ID}}', 'no-trunc': true, last: 3 });
    expect(() => p('ps web')).toThrow(/^"berth ps" accepts no arguments\./);
  });
  it('inspect -f is --format (Docker), for containers, images, networks and volumes', () => {
    for (const cmd of ['inspect', 'container inspect', 'image inspect', 'network inspect', 'volume inspect']) {
      expect(p(`${cmd} -f {{.Id}} x`).flags).toMatchObject({ format: '{{.Id}}' });
    }
  });
  it('logs, exec, stop, kill, rm, stats', () => {
    expect(p('logs -f --tail 10 -t --since 10m web')).toMatchObject({ flags: { follow: true, tail: '10', timestamps: true, since: '10m' }, args: ['web'] });
    expect(p('logs web').flags.tail).toBe('all');
    const e = p('exec -it -e A=1 -w /tmp -u 1000 web sh -c ls');
    expect(e).toMatchObject({ flags: { interactive: true, tty: true, env: ['A=1'], workdir: '/tmp', user: '1000' }, args: ['web', 'sh', '-c', 'ls'] });
    expect(p('exec -d web true').flags.detach).toBe(true);
    expect(() => p('exec web')).toThrow(/requires at least 2 arguments/);
    expect(p('stop -t 5 a b')).toMatchObject({ flags: { time: 5 }, args: ['a', 'b'] });
    expect(p('stop --time=0 a').flags.time).toBe(0);
    expect(p('kill -s HUP a').flags.signal).toBe('HUP');
    expect(p('kill a').flags.signal).toBe('KILL');
    expect(p('rm -fv a').flags).toMatchObject({ force: true, volumes: true });
    expect(p('stats --no-stream --format {{.Name}}').flags).toMatchObject({ 'no-stream': true, format: '{{.Name}}' });
  });
  it('images, image subcommands, rmi, network, volume, system, daemon', () => {
    expect(p('images -q').flags.quiet).toBe(true);
    expect(p('image ls -a').path).toEqual(['berth', 'image', 'ls']);
    expect(p('image list').path).toEqual(['berth', 'image', 'ls']);
    for (const sub of ['rm x', 'tag a b', 'inspect x', 'import f.tar', 'load -i f.tar', 'save -o f.tar x', 'pull alpine', 'push reg/x', 'prune -a -f']) {
      expect(p(`image ${sub}`).path[2]).toBe(sub.split(' ')[0]);
    }
    expect(p('rmi -f x').flags.force).toBe(true);
    expect(p('network create --subnet 10.9.0.0/24 --gateway 10.9.0.1 --internal n1').flags).toMatchObject({ subnet: ['10.9.0.0/24'], gateway: ['10.9.0.1'], internal: true, driver: 'bridge' });
    for (const sub of ['ls', 'rm n', 'inspect n', 'connect n c', 'disconnect n c']) expect(p(`network ${sub}`).path[2]).toBe(sub.split(' ')[0]);
    for (const sub of ['ls', 'create v', 'rm v', 'inspect v', 'prune -f']) expect(p(`volume ${sub}`).path[2]).toBe(sub.split(' ')[0]);
    expect(p('events --filter type=container --since 1h --until 10m').flags).toMatchObject({ filter: ['type=container'], since: '1h', until: '10m' });
    for (const sub of ['df', 'prune -af', 'info']) expect(p(`system ${sub}`).path[2]).toBe(sub.split(' ')[0]);
    expect(p('daemon up --split').flags.split).toBe(true);
    expect(p('daemon status').path).toEqual(['berth', 'daemon', 'status']);
    expect(p('daemon down').path).toEqual(['berth', 'daemon', 'down']);
  });
  it('update, commit, rename, port, cp, top, wait, pause, unpause, login, version, container group', () => {
    expect(p('update -m 64m --cpus 2 --restart always web').flags).toMatchObject({ memory: '64m', cpus: '2', restart: 'always' });
    expect(p('commit -m msg -a me -c CMD=x web repo:tag').flags).toMatchObject({ message: 'msg', author: 'me', change: ['CMD=x'] });
    expect(() => p('rename a')).toThrow(/requires exactly 2 arguments/);
    expect(p('port web 80/tcp').args).toEqual(['web', '80/tcp']);
    expect(p('cp web:/etc/hosts ./hosts').args).toEqual(['web:/etc/hosts', './hosts']);
    expect(p('top web -eo pid,comm').args).toEqual(['web', '-eo', 'pid,comm']);
    for (const c of ['wait a', 'pause a', 'unpause a', 'version', 'info']) expect(p(c).path[1]).toBe(c.split(' ')[0]);
    expect(p('login -u me --password-stdin reg.example.com').flags).toMatchObject({ username: 'me', 'password-stdin': true });
    expect(p('container ls -a').path).toEqual(['berth', 'container', 'ls']);
    expect(p('container run --rm alpine').flags.rm).toBe(true);
  });
  it('global flags before the command', () => {
    expect(p('-H unix:///run/berth.sock --debug ps').flags).toMatchObject({ host: 'unix:///run/berth.sock', debug: true });
  });
});

describe('shared flag validators', () => {
  it('filters', () => {
    expect(parseFilters(['status=exited', 'label=a=b', 'status=created'])).toEqual({ status: ['exited', 'created'], label: ['a=b'] });
    expect(() => parseFilters(['oops'])).toThrow('invalid argument "oops" for "-f, --filter": bad format of filter: expected name=value (e.g. status=running, label=tier=web)');
  });
  it('tail, stop time, cp', () => {
    expect([parseTail('all'), parseTail('0'), parseTail('25')]).toEqual([-1, 0, 25]);
    expect(() => parseTail('-3')).toThrow('invalid argument "-3" for "-n, --tail": expected "all" or a number of lines');
    expect(parseStopTime(-1)).toBe(-1);
    expect(() => parseStopTime(-2)).toThrow(/for "-t, --time"/);
    expect(parseCopyArgs('web:/etc/hosts', './h')).toEqual({ direction: 'from', container: 'web', containerPath: '/etc/hosts', localPath: './h' });
    expect(parseCopyArgs('/tmp/a:b', 'web:/x')).toEqual({ direction: 'to', container: 'web', containerPath: '/x', localPath: '/tmp/a:b' });
    expect(() => parseCopyArgs('a:/x', 'b:/y')).toThrow(/between containers is not supported/);
    expect(() => parseCopyArgs('./a', './b')).toThrow(/one side must be CONTAINER:PATH/);
    expect(() => parseCopyArgs('web:', './b')).toThrow(/source can not be empty/);
    expect(() => parseCopyArgs('./a', 'web:')).toThrow(/destination can not be empty/);
    expect(() => parseCopyArgs('web:/x', '')).toThrow(/destination can not be empty/);
  });
});
