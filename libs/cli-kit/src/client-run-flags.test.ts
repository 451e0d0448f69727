// The run/create flags the client settles: --label-file, --expose,
// --network-alias, --platform, --cidfile, --detach-keys, --sig-proxy.
import { arch } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parseCommandLine, type CommandDef } from './command';
import { buildRunRequest, RUN_COMMAND } from './run-request';

const ROOT: CommandDef = { name: 'berth', usage: '[OPTIONS] COMMAND', description: 'berth', subcommands: [RUN_COMMAND] };
const FILES: Record<string, string> = { labels: '\uFEFF# comment\n a=1 \nb=two words\nc\n' };
const run = (...argv: string[]) => buildRunRequest(parseCommandLine(ROOT, ['run', ...argv]), {
  lookupEnv: () => undefined, readFile: (f) => { const c = FILES[f]; if (c === undefined) throw new Error(`ENOENT: ${f}`); return c; }, cwd: '/',
});
function field(...argv: string[]): string | undefined {
  try { run(...argv); } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    return (e as { field?: string }).field;
  }
  throw new Error(`expected ${argv.join(' ')} to fail`);
}

describe('client run flags', () => {
  it('reads labels from files, --label winning; expands --expose ranges; keeps aliases and CLI options', () => {
    const r = run('--label-file', 'labels', '--label', 'b=override', '--expose', '80', '--expose', '5000-5002/udp', '-p', '8080:80',
      '--network-alias', 'web', '--cidfile', '/tmp/x.cid', '--detach-keys', 'ctrl-a,x', '--sig-proxy=false', 'alpine');
    expect(r.config.labels).toEqual({ a: '1', b: 'override', c: '' });
    expect(r.config.exposedPorts).toEqual(['80/tcp', '5000/udp', '5001/udp', '5002/udp']);
    expect(r.hostConfig.networkAliases).toEqual(['web']);
    expect(r).toMatchObject({ cidfile: '/tmp/x.cid', detachKeys: 'ctrl-a,x', sigProxy: false });
    expect(run('alpine')).toMatchObject({ cidfile: '', detachKeys: '', sigProxy: true });
  });

  it('refuses what it cannot do, naming the flag', () => {
    expect(field('--label-file', 'missing', 'alpine')).toBe('label-file');
    expect(field('--expose', '70000', 'alpine')).toBe('expose');
    expect(field('--expose', '9-1', 'alpine')).toBe('expose');
    expect(field('--network-alias', 'bad alias', 'alpine')).toBe('network-alias');
    expect(field('--platform', arch() === 'arm64' ? 'linux/amd64' : 'linux/arm64', 'alpine')).toBe('platform');
    expect(field('--detach-keys', 'ctrl-', 'alpine')).toBe('detach-keys');
    expect(field('-d', '--sig-proxy', 'alpine')).toBe('sig-proxy');
  });
});
