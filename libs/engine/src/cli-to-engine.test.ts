// The CLI's parsed `berth run` request drives the engine unchanged (the two
// libs share the CreateContainerRequest field names). Services are the
// in-memory test doubles; this checks the shapes agree, not the kernel side.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BERTH, buildRunRequest, parseCommandLine } from '@berth/cli-kit';
import type { Engine } from './engine';
import { inspectContainer } from './inspect';
import { engineFixture, type EngineFixture } from './testing/engine-fixture';
import { addTestImage, type RecordingPorts } from './testing/recording-ports';

let f: EngineFixture;
let ports: RecordingPorts;
let engine: Engine;
beforeEach(() => {
  f = engineFixture({ alpine: false });
  ({ ports, engine } = f);
});
afterEach(() => f.close());

const cli = (line: string) => {
  const p = parseCommandLine(BERTH, line.split(' '));
  return buildRunRequest(p, { lookupEnv: () => undefined, readFile: () => '', cwd: '/' });
};

describe('berth run -> engine', () => {
  it('a parsed command line creates the container Docker would', async () => {
    addTestImage(ports, 'nginx:1.27', { entrypoint: ['/docker-entrypoint.sh'], cmd: ['nginx', '-g', 'daemon off;'], exposedPorts: ['80/tcp'], env: ['NGINX_VERSION=1.27'] });
    const r = cli('run -d --name web -p 8080:80 -v web-data:/usr/share/nginx/html:ro -e MODE=prod --restart on-failure:3 -m 64m --cpus 0.5 -l tier=front nginx:1.27');
    const c = await engine.run({ name: r.name, config: r.config, hostConfig: r.hostConfig, pull: r.pull });
    const j = inspectContainer(engine.store.get(c.id)) as any;
    expect(j.Name).toBe('/web');
    expect([j.Path, ...j.Args]).toEqual(['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;']);
    expect(j.Config.Env).toEqual(['MODE=prod', 'NGINX_VERSION=1.27']);
    expect(j.Config.Labels).toEqual({ tier: 'front' });
    expect(j.HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, NanoCpus: 500_000_000, RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 }, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } });
    expect(j.Mounts).toEqual([expect.objectContaining({ Type: 'volume', Name: 'web-data', Destination: '/usr/share/nginx/html', RW: false })]);
    expect(j.NetworkSettings.Ports['80/tcp']).toEqual([{ HostIp: '', HostPort: '8080' }]);
    expect(ports.specs.get(c.id)).toMatchObject({ args: ['/docker-entrypoint.sh', 'nginx', '-g', 'daemon off;'] });
  });

  it('--entrypoint "" with no command is refused by the merge, nothing created', async () => {
    addTestImage(ports, 'nginx', { entrypoint: ['/e'], cmd: ['x'] });
    const r = cli('run --entrypoint= nginx');
    await expect(engine.run({ name: r.name, config: r.config, hostConfig: r.hostConfig })).rejects.toThrow(/no command specified/);
    expect(engine.list({ all: true })).toEqual([]);
  });

  it('engine logs: reads the container log; follow ends after the container exits', async () => {
    addTestImage(ports, 'alpine', { cmd: ['sh'] });
    const c = await engine.run({ name: 'w1', config: cli('run alpine').config, hostConfig: cli('run alpine').hostConfig });
    mkdirSync(dirname(c.logPath), { recursive: true });
    writeFileSync(c.logPath, '2024-05-01T10:00:00.000000001Z stdout F hello\n');
    const seen: string[] = [];
    const done = (async () => { for await (const e of engine.logs('w1', { follow: true, pollMs: 10 })) seen.push(e.line.toString()); })();
    await new Promise((r) => setTimeout(r, 50));
    appendFileSync(c.logPath, '2024-05-01T10:00:01.000000000Z stderr F bye\n');
    ports.exitProcess(c.id, { exitCode: 0 });
    await done; // ends on its own
    expect(seen).toEqual(['hello\n', 'bye\n']);
    const tail: string[] = [];
    for await (const e of engine.logs('w1', { tail: 1 })) tail.push(e.line.toString());
    expect(tail).toEqual(['bye\n']);
  });
});
