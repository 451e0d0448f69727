// The CLI's own translations: detach-key matching across chunks, the run
// request in the engine's message shape, repo:tag splitting.
import { describe, expect, it } from 'vitest';
import { BERTH, buildRunRequest, parseCommandLine } from '@berth/cli-kit';
import { DetachMatcher, parseDetachKeys } from './commands/attach';
import { createRequest, splitRepoTag } from './commands/containers';

const env = { lookupEnv: (k: string) => ({ HOME: '/root' })[k], readFile: () => '', cwd: '/srv' };

describe('detach keys', () => {
  it('parses Docker syntax', () => {
    expect(parseDetachKeys('')).toEqual([0x10, 0x11]);
    expect(parseDetachKeys('ctrl-a,x')).toEqual([1, 0x78]);
    expect(parseDetachKeys('ctrl-[')).toEqual([27]);
    expect(() => parseDetachKeys('ctrl-')).toThrow(/detach keys/);
  });

  it('detaches on the sequence split over chunks and forwards everything else', () => {
    const m = new DetachMatcher([0x10, 0x11]);
    expect(m.feed(Buffer.from('ab'))).toEqual({ forward: Buffer.from('ab'), detach: false });
    expect(m.feed(Buffer.from([0x61, 0x10]))).toEqual({ forward: Buffer.from('a'), detach: false });
    expect(m.feed(Buffer.from([0x11]))).toEqual({ forward: Buffer.alloc(0), detach: true });
  });

  it('passes a lone Ctrl-P on when the next key is not Ctrl-Q', () => {
    const m = new DetachMatcher([0x10, 0x11]);
    expect(m.feed(Buffer.from([0x10]))).toEqual({ forward: Buffer.alloc(0), detach: false });
    expect(m.feed(Buffer.from([0x62]))).toEqual({ forward: Buffer.from([0x10, 0x62]), detach: false });
    expect(m.feed(Buffer.from([0x10, 0x10, 0x11]))).toEqual({ forward: Buffer.from([0x10]), detach: true });
  });
});

describe('run request in the engine shape', () => {
  const req = (argv: string[]) => createRequest(buildRunRequest(parseCommandLine(BERTH, argv), env));

  it('keeps absent cmd/entrypoint null (the image decides) and wraps given ones', () => {
    const a = req(['run', 'alpine']);
    expect(a.config?.cmd).toBeNull();
    expect(a.config?.entrypoint).toBeNull();
    expect(a.config).not.toHaveProperty('stopTimeout');
    const b = req(['run', '--entrypoint', '', '--stop-timeout', '3', 'alpine', 'ls', '-l']);
    expect(b.config?.cmd).toEqual({ values: ['ls', '-l'] });
    expect(b.config?.entrypoint).toEqual({ values: [''] });
    expect(b.config?.stopTimeout).toBe(3);
  });

  it('carries host config and pull policy', () => {
    const r = req(['run', '--rm', '-m', '64m', '-p', '8080:80', '--name', 'web', '--pull', 'never', 'nginx']);
    expect(r.name).toBe('web');
    expect(r.pull).toBe('never');
    expect(r.hostConfig).toMatchObject({ autoRemove: true, memory: 64 * 1024 * 1024, portBindings: [{ containerPort: 80, hostPort: 8080, protocol: 'tcp' }] });
    expect(r).not.toHaveProperty('detach');
  });
});

describe('splitRepoTag', () => {
  it('splits on the tag colon, not a registry port', () => {
    expect(splitRepoTag('app:1.0')).toEqual(['app', '1.0']);
    expect(splitRepoTag('reg:5000/app')).toEqual(['reg:5000/app', 'latest']);
    expect(splitRepoTag('reg:5000/app:2')).toEqual(['reg:5000/app', '2']);
    expect(splitRepoTag('')).toEqual(['', '']);
    expect(() => splitRepoTag('app@sha256:abc')).toThrow(/digest/);
  });
});
