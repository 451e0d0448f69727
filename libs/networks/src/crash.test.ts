// A service killed (SIGKILL) at a random point of an attach must leave
// nothing that survives the next start's reconcile. The attaching service
// runs as a child process from the build (dist/), built once here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Fixture, sh } from './testing/fixture';
import { DATAPATHS } from './testing/datapath-suite';

const lib = resolve(__dirname, '..');

function childAttach(opts: object, netns: string, id: string): { started: Promise<void>; kill: () => Promise<void> } {
  const script = `
    const { NetworkManager } = require(${JSON.stringify(join(lib, 'dist', 'index.js'))});
    (async () => {
      const m = new NetworkManager(${JSON.stringify(opts)});
      await m.start();
      process.stdout.write('started\\n');
      await m.attach(${JSON.stringify(id)}, ${JSON.stringify(netns)}, 'bridge', { name: 'crashy', ports: ['80', '53/udp'] });
      process.stdout.write('attached\\n');
      setInterval(() => {}, 1000);
    })().catch((e) => { console.error(e); process.exit(3); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const started = new Promise<void>((res, rej) => {
    child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('started')) res(); });
    child.on('exit', (code) => rej(new Error(`child exited ${code} before start`)));
  });
  return { started, kill: async () => { child.kill('SIGKILL'); await exited; } };
}

describe.each(DATAPATHS)('%s datapath', (datapath) => {
  const fx = new Fixture(200 + Math.floor(Math.random() * 40));
  fx.datapath = datapath;
  beforeAll(async () => {
    execFileSync('npx', ['tsc', '-b'], { cwd: lib, stdio: 'inherit' });
    await fx.setup();
  });
  afterAll(async () => {
    await fx.cleanup();
  });

  it('killing the service mid-attach leaves nothing after reconcile', async () => {
    const [, path] = await fx.ns('crash');
    // The child gets plain JSON options; the fake upstream is irrelevant here.
    const opts = fx.options();
    for (let i = 0; i < 8; i++) {
      const c = childAttach(opts, path, `crash${i}`);
      await c.started;
      // Kill somewhere inside the attach: its steps span ~5-60 ms here.
      await new Promise((r) => setTimeout(r, Math.random() * (datapath === 'native' ? 25 : 60)));
      await c.kill();
      const m = await fx.manager({}, []);
      const bridge = m.inspectNetwork('bridge').network.bridge;
      await m.close();
      expect((await sh('ip', ['-o', 'link', 'show', 'master', bridge])).stdout.trim(), `round ${i}`).toBe('');
      const alloc = (await readdir(join(fx.dir, 'ipam', 'bridge')).catch(() => [] as string[])).filter((f) => /^\d+\./.test(f));
      expect(alloc, `round ${i}`).toEqual([]);
      expect(await readdir(join(fx.dir, 'cache', 'results')).catch(() => []), `round ${i}`).toEqual([]);
      expect((await sh('iptables-save', [])).stdout, `round ${i}`).not.toMatch(/crash\d/);
      expect((await sh('ip', ['netns', 'exec', `bt-${fx.tag}-crash`, 'ip', '-o', 'link'])).stdout, `round ${i}`).not.toContain('eth0');
    }
  });
});
