// Healthchecks on the real stack (issue 16), through the berth CLI and a
// Docker client (dockerode on the gateway's socket):
//  - --health-cmd probes as an exec in the container: a failing probe makes
//    the container unhealthy after --health-retries failures, a passing one
//    healthy again; inspect shows State.Health (Status, FailingStreak, Log
//    with ExitCode and Output); ps shows "(healthy)"; health_status events
//    are announced, and reach Docker clients as Docker words them
//    ("health_status: healthy");
//  - output is kept to 4096 bytes; a probe past --health-timeout is killed
//    (probes do not pile up) and recorded as Docker's timeout message;
//  - an image's HEALTHCHECK (committed from a container with one) is run, and
//    --no-healthcheck turns it off; bad flags are refused by name;
//  - killing the engine (split stack) does not stop probing: after the
//    supervisor restarts it, the probe result still changes the status.
// Every wait is for a state (until), never a fixed sleep.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { readDaemonRecord } from '@berth/daemon';
import { GRPC_SERVICE, socketPath, waitServing } from '@berth/kit';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const SUBNET = 201; // 10.219.201.0/24: this file's
const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

interface Health { Status: string; FailingStreak: number; Log: { Start: string; End: string; ExitCode: number; Output: string }[] }

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('healthchecks', () => {
  let s: CliStack;
  let docker: Docker;
  const berth = (...args: string[]) => s.berth(args);
  const names: string[] = [];
  let n = 0;
  const nameOf = (what: string) => {
    const name = `bt-health-${what}-${process.pid}-${n++}`;
    names.push(name);
    return name;
  };
  const inspect = async (name: string): Promise<{ State: { Health?: Health; Status: string }; Config: { Healthcheck?: unknown } }> => {
    const r = await berth('inspect', name);
    expectOk(r);
    return (JSON.parse(r.stdout) as never[])[0]!;
  };
  const healthOf = async (name: string) => (await inspect(name)).State.Health;
  const untilStatus = (name: string, status: string, timeoutMs = 30_000) =>
    until(`${name} ${status}`, async () => { const h = await healthOf(name); return h?.Status === status ? h : undefined; }, timeoutMs);

  beforeAll(async () => {
    s = await startCliStack(true, SUBNET);
    docker = new Docker({ socketPath: join(s.paths.run, 'docker.sock') });
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 180_000);

  afterAll(async () => {
    if (s) {
      for (const name of names) await berth('rm', '-f', name);
      await berth('rmi', '-f', 'berth-test-health-image');
      await s.stop();
    }
  }, 180_000);

  it('turns unhealthy after the retries fail and healthy when the probe passes; inspect, ps and events show it, Docker clients get "health_status: <status>"', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    const name = nameOf('flip');
    expectOk(await berth('run', '-d', '--name', name, '--network', 'none', '--health-cmd', 'cat /tmp/ok', '--health-interval', '300ms',
      '--health-retries', '2', 'busybox', 'sleep', '1000'));
    const bad = await untilStatus(name, 'unhealthy');
    expect(bad.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(bad.Log.length).toBeGreaterThanOrEqual(2);
    expect(bad.Log.length).toBeLessThanOrEqual(5);
    expect(bad.Log[0]!.ExitCode).toBe(1);
    expect(bad.Log[0]!.Output).toMatch(/can't open '\/tmp\/ok'|No such file/);
    expect((await berth('ps', '--filter', `name=${name}`, '--format', '{{.Status}}')).stdout).toMatch(/^Up .* \(unhealthy\)\n$/);

    expectOk(await berth('exec', name, 'sh', '-c', 'echo all good > /tmp/ok'));
    const good = await untilStatus(name, 'healthy');
    expect(good.FailingStreak).toBe(0);
    expect(good.Log.at(-1)).toMatchObject({ ExitCode: 0, Output: 'all good\n' });
    expect((await berth('ps', '--filter', `name=${name}`, '--format', '{{.Status}}')).stdout).toMatch(/^Up .* \(healthy\)\n$/);
    // A Docker client lists it the same.
    const listed = await docker.listContainers({ filters: { name: [name] } });
    expect(listed[0]?.Status).toMatch(/^Up .* \(healthy\)$/);
    expect((await docker.getContainer(name).inspect()).State.Health?.Status).toBe('healthy');

    // Events: berth's own stream, and the Docker API's (replayed, so the test waits for nothing).
    const ev = await berth('events', '--since', String(t0), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', `container=${name}`, '--filter', 'event=health_status',
      '--format', '{{.Action}} {{index .Actor.Attributes "health_status"}}');
    expectOk(ev);
    expect(ev.stdout.trim().split('\n')).toEqual(['health_status unhealthy', 'health_status healthy']);
    const stream = await docker.getEvents({ since: t0, until: Math.ceil(Date.now() / 1000) + 1, filters: { container: [name], event: ['health_status'] } });
    let text = '';
    for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString();
    const docs = text.trim().split('\n').map((l) => JSON.parse(l) as { Action: string; status: string; Actor: { Attributes: Record<string, string> } });
    expect(docs.map((d) => d.Action)).toEqual(['health_status: unhealthy', 'health_status: healthy']);
    expect(docs[1]!.status).toBe('health_status: healthy');
    expect(docs[1]!.Actor.Attributes['name']).toBe(name);
  }, 120_000);

  it('keeps 4096 bytes of output; kills a probe past its timeout and records Docker\'s message', async () => {
    const big = nameOf('big');
    expectOk(await berth('run', '-d', '--name', big, '--network', 'none', '--health-cmd', "head -c 10000 /dev/zero | tr '\\0' x; exit 3",
      '--health-interval', '300ms', '--health-retries', '1', 'busybox', 'sleep', '1000'));
    const h = await untilStatus(big, 'unhealthy');
    expect(h.Log[0]!.ExitCode).toBe(3);
    expect(h.Log[0]!.Output).toBe(`${'x'.repeat(4096)}...`);

    const slow = nameOf('slow');
    expectOk(await berth('run', '-d', '--name', slow, '--network', 'none', '--health-cmd', 'echo probing; exec sleep 600',
      '--health-timeout', '400ms', '--health-interval', '200ms', '--health-retries', '2', 'busybox', 'sleep', '1000'));
    const t = await until('two timed-out probes', async () => { const x = await healthOf(slow); return (x?.Log.length ?? 0) >= 2 ? x : undefined; }, 30_000);
    expect(t.Log[0]).toMatchObject({ ExitCode: -1, Output: 'Health check exceeded timeout (400ms): probing\n' });
    // Killed at the timeout: at most the probe in flight is left, never one per past probe.
    const top = await berth('top', slow);
    expectOk(top);
    expect(top.stdout.split('\n').filter((l) => l.includes('sleep 600')).length).toBeLessThanOrEqual(1);
    expect((await untilStatus(slow, 'unhealthy')).FailingStreak).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it("runs the image's HEALTHCHECK; --no-healthcheck turns it off; bad flags are refused by name", async () => {
    const base = nameOf('base');
    expectOk(await berth('create', '--name', base, '--health-cmd', 'echo from-image', '--health-interval', '300ms', 'busybox', 'sleep', '1000'));
    expectOk(await berth('commit', base, 'berth-test-health-image'));
    const img = await berth('image', 'inspect', 'berth-test-health-image');
    expectOk(img);
    expect(img.stdout).toContain('echo from-image');

    const fromImage = nameOf('img');
    expectOk(await berth('run', '-d', '--name', fromImage, '--network', 'none', 'berth-test-health-image', 'sleep', '1000'));
    expect((await untilStatus(fromImage, 'healthy')).Log[0]!.Output).toBe('from-image\n');

    const off = nameOf('off');
    expectOk(await berth('run', '-d', '--name', off, '--network', 'none', '--no-healthcheck', 'berth-test-health-image', 'sleep', '1000'));
    const doc = await inspect(off);
    expect(doc.State.Status).toBe('running');
    expect(doc.State.Health).toBeUndefined();
    // Docker's merge: the other fields still come from the image; NONE is what turns it off.
    expect(doc.Config.Healthcheck).toMatchObject({ Test: ['NONE'] });
    expect((await berth('ps', '--filter', `name=${off}`, '--format', '{{.Status}}')).stdout).not.toContain('(');

    const conflict = await berth('run', '--no-healthcheck', '--health-cmd', 'true', 'busybox', 'true');
    expect(conflict.code).not.toBe(0);
    expect(conflict.stderr).toContain('--no-healthcheck conflicts with --health-* options');
    const negative = await berth('run', '--health-interval', '-1s', 'busybox', 'true');
    expect(negative.stderr).toContain('--health-interval cannot be negative');
    // A Docker client gets the engine's own check, naming the field.
    await expect(docker.createContainer({ Image: 'busybox', Cmd: ['true'], Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 5 } }))
      .rejects.toThrow(/config\.healthcheck\.interval.*1ms/);
    await expect(docker.createContainer({ Image: 'busybox', Cmd: ['true'], Healthcheck: { Test: ['HTTP', '/'] } }))
      .rejects.toThrow(/config\.healthcheck\.test.*unknown healthcheck type "HTTP"/);
    expect((await berth('ps', '-a', '--filter', 'ancestor=busybox', '--format', '{{.Names}}')).stdout.split('\n').filter((x) => x && !names.includes(x))).toEqual([]);
  }, 120_000);

  it('keeps probing after the engine is killed and restarted', async () => {
    const name = nameOf('restart');
    expectOk(await berth('run', '-d', '--name', name, '--network', 'none', '--health-cmd', 'cat /tmp/ok', '--health-interval', '300ms',
      '--health-retries', '1', 'busybox', 'sh', '-c', 'echo up > /tmp/ok; exec sleep 1000'));
    await untilStatus(name, 'healthy');
    const old = readDaemonRecord(s.paths)!.processes.find((p) => p.name === 'engine')!.pid;
    process.kill(old, 'SIGKILL');
    await until('engine gone', () => (alive(old) ? undefined : true), 10_000);
    await until('engine restarted', () => {
      const p = readDaemonRecord(s.paths)!.processes.find((x) => x.name === 'engine')?.pid;
      return p && p !== old && alive(p) ? p : undefined;
    }, 30_000);
    await waitServing([`unix:${socketPath('engine', s.paths)}`], GRPC_SERVICE.engine, 60_000);
    s.reconnect();
    expect((await healthOf(name))?.Status).toBe('healthy'); // the stored status survives
    expectOk(await berth('exec', name, 'rm', '/tmp/ok'));
    const h = await untilStatus(name, 'unhealthy');
    expect(h.Log.at(-1)!.ExitCode).toBe(1);
  }, 120_000);
});
