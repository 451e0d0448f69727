// The engine composed with the five services it drives, all in this process
// through their real gRPC servers (docs/design/services.md): busybox (made by
// the images service from the host's busybox-static at its start) runs `echo hi` with
// --network none, exits 0, and `hi` is in its logs. Everything the test makes
// is its own (testing/e2e-stack.test-support.ts): cgroups under
// berth-test-<rand>, bte* bridges and BERTH-E* chains (purged in afterAll),
// temp state dirs.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cgroupsModule } from '@berth/cgroups';
import { runServices, type RunningStack } from '@berth/daemon';
import { waitForEventsStream } from '@berth/events';
import { imagesModule } from '@berth/images';
import { layersModule } from '@berth/layers';
import { namespacesModule } from '@berth/namespaces';
import { networksModule } from '@berth/networks';
import { isNotFound, isUnavailable, type BerthError } from '@berth/errors';
import type { cgroupsV1, engineV1, imagesV1, layersV1 } from '@berth/proto';
import { engineModule } from './service';
import { useE2eStack } from './testing/e2e-stack.test-support';
import { startRegistry } from '../../images/src/testing/registry';
import { buildImageFromDirs } from '../../images/src/testing/build-image';
import { makeBusyboxRootfs } from '../../runtime/src/testing/busybox-rootfs';




describe('engine with images, layers, cgroups and networks (namespaces down)', () => {
  // The stack below runs without a namespaces service: the engine's releases,
  // which wait up to a minute for a peer being restarted, give up sooner.
  beforeAll(() => {
    process.env['BERTH_ENGINE_PEER_RETRY_MS'] = '2000';
  });
  afterAll(() => {
    delete process.env['BERTH_ENGINE_PEER_RETRY_MS'];
  });
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, networksModule, engineModule], { letter: 'e', subnets: [...Array(50).keys()].map((i) => 200 + i) });
  const { client, busybox } = s;

  it('creates through images and layers, and a start failing at the namespaces service rolls back the cgroup', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const layers = client<layersV1.LayersDefinition, layersV1.LayersHandlers>('berth.layers.v1.Layers', 'layers');
    const cgroups = client<cgroupsV1.CgroupsDefinition, cgroupsV1.CgroupsHandlers>('berth.cgroups.v1.Cgroups', 'cgroups');
    try {
      const bb = await busybox();
      const created = await engine.CreateContainer({
        name: `bt-c-${s.tag}`, config: { image: 'busybox:latest', cmd: { values: ['echo', 'hi'] } }, hostConfig: { networkMode: 'none' }, pull: 'never',
      });
      const ins = await engine.InspectContainer({ id: created.id });
      expect(ins.summary).toMatchObject({ state: 'created', imageDigest: bb.id });
      // The writable root is a layers snapshot keyed by the container id.
      expect((await layers.Stat({ key: created.id })).kind).toBe('SNAPSHOT_KIND_ACTIVE');

      // Commit of the created container: its (empty) writable layer on top of busybox, under a new name.
      const committed = await engine.Commit({ id: created.id, repository: `bt-commit-${s.tag}`, changes: ['CMD ["echo", "committed"]'], pause: false });
      const images = client<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', 'images');
      try {
        const ci = await images.Inspect({ reference: `bt-commit-${s.tag}:latest` });
        expect(ci.image?.id).toBe(committed.imageId);
        const parent = await images.Inspect({ reference: 'busybox:latest' });
        expect(ci.layers.length).toBe(parent.layers.length + 1);
        expect((JSON.parse(ci.configJson.toString()) as { config: { Cmd: string[] } }).config.Cmd).toEqual(['echo', 'committed']);
        await images.Remove({ reference: `bt-commit-${s.tag}:latest` });
      } finally {
        images.close();
      }

      const err = await engine.StartContainer({ id: created.id }).then(() => null, (e: unknown) => e as BerthError);
      expect(err && isUnavailable(err)).toBe(true);
      expect(err?.message).toMatch(/^createProcess: /);
      // createCgroup ran and was undone.
      expect((await cgroups.List({})).cgroups.map((c) => c.id)).not.toContain(created.id);
      const after = await engine.InspectContainer({ id: created.id });
      expect(after.summary).toMatchObject({ state: 'created', error: expect.stringMatching(/createProcess/) as unknown });

      await engine.RemoveContainer({ id: created.id });
      expect(isNotFound(await layers.Stat({ key: created.id }).catch((e: unknown) => e))).toBe(true);
      // Pull "never" of an image that is not there is NotFound naming the field.
      const missing = await engine.CreateContainer({ config: { image: `bt-absent-${s.tag}` }, pull: 'never' }).catch((e: unknown) => e as BerthError);
      expect(isNotFound(missing)).toBe(true);
    } finally {
      for (const c of [engine, layers, cgroups]) c.close();
    }
  }, 120_000);
});

describe('engine with every service over gRPC', () => {
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule, engineModule], { letter: 'e', subnets: [...Array(50).keys()].map((i) => 200 + i) });
  const { client, busybox } = s;

  it('runs busybox echo hi with network none: exit 0, "hi" in the logs', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    try {
      await busybox();
      const run = await engine.RunContainer({
        create: { name: `bt-echo-${s.tag}`, config: { image: 'busybox:latest', cmd: { values: ['echo', 'hi'] } }, hostConfig: { networkMode: 'none' }, pull: 'never' },
      });
      expect(run.id).toMatch(/^[0-9a-f]{64}$/);
      const waited = await engine.WaitContainer({ id: run.id, condition: 'not-running' });
      expect(waited.exitCode).toBe(0);
      const lines: string[] = [];
      for await (const e of engine.Logs({ id: run.id }) as AsyncIterable<engineV1.LogEntry__Output>) lines.push(`${e.stream}:${e.line.toString()}`);
      expect(lines).toEqual(['stdout:hi']);
      const ins = await engine.InspectContainer({ id: run.id });
      expect(ins.summary).toMatchObject({ state: 'exited', exitCode: 0 });
      await engine.RemoveContainer({ id: run.id });
      expect((await engine.ListContainers({ all: true })).containers).toEqual([]);
    } finally {
      engine.close();
    }
  }, 120_000);

  it('ps --size and prune measure what a container wrote', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    try {
      await busybox();
      const run = await engine.RunContainer({
        create: { name: `bt-size-${s.tag}`, config: { image: 'busybox:latest', cmd: { values: ['dd', 'if=/dev/zero', 'of=/big', 'bs=1024', 'count=2048'] } }, hostConfig: { networkMode: 'none' }, pull: 'never' },
      });
      expect((await engine.WaitContainer({ id: run.id, condition: 'not-running' })).exitCode).toBe(0);
      const [c] = (await engine.ListContainers({ all: true, size: true, filters: { id: { values: [run.id] } } })).containers;
      expect(c!.sizeRw).toBeGreaterThanOrEqual(2 << 20);
      expect(c!.sizeRw).toBeLessThan(3 << 20);
      expect(c!.sizeRootFs).toBeGreaterThan(c!.sizeRw + 100_000); // plus busybox
      const unsized = (await engine.ListContainers({ all: true, filters: { id: { values: [run.id] } } })).containers[0]!;
      expect(unsized.sizeRw).toBe(-1);
      const pruned = await engine.Prune({});
      expect(pruned.deleted).toContain(run.id);
      expect(pruned.spaceReclaimed).toBeGreaterThanOrEqual(2 << 20);
    } finally {
      engine.close();
    }
  }, 120_000);

  it('pulls a two-layer image from a registry on loopback and runs it (images -> layers -> engine)', async () => {
    const registry = await startRegistry();
    const work = mkdtempSync(join(tmpdir(), 'berth-pullrun-'));
    const rootfs = makeBusyboxRootfs();
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const transfer = client<imagesV1.TransferDefinition, imagesV1.TransferHandlers>('berth.images.v1.Transfer', 'images');
    try {
      // Layer one: a busybox root; layer two adds a file. Pushed with skopeo.
      const extra = join(work, 'extra');
      mkdirSync(extra);
      writeFileSync(join(extra, 'hello.txt'), 'from layer two\n');
      const layout = join(work, 'layout');
      await buildImageFromDirs(layout, 'v1', [rootfs.rootfs, extra], ['cat', '/hello.txt']);
      const ref = `${registry.host}/bt/multi-${s.tag}:v1`;
      await promisify(execFile)('skopeo', ['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${ref}`]);

      let pulled: imagesV1.PullResponse__Output | undefined;
      for await (const ev of transfer.Pull({ reference: ref }) as AsyncIterable<imagesV1.PullResponse__Output>) pulled = ev;
      expect(pulled?.image).toBeTruthy();

      const run = await engine.RunContainer({ create: { config: { image: ref }, hostConfig: { networkMode: 'none' }, pull: 'never' } });
      expect((await engine.WaitContainer({ id: run.id, condition: 'not-running' })).exitCode).toBe(0);
      const lines: string[] = [];
      for await (const e of engine.Logs({ id: run.id }) as AsyncIterable<engineV1.LogEntry__Output>) lines.push(`${e.stream}:${e.line.toString()}`);
      expect(lines).toEqual(['stdout:from layer two']);
      await engine.RemoveContainer({ id: run.id });
    } finally {
      engine.close();
      transfer.close();
      rootfs.cleanup();
      rmSync(work, { recursive: true, force: true });
      await registry.stop();
    }
  }, 180_000);

  it('runs on the default bridge with hosts/resolv.conf filled after attach, execs through Attach, stops, and replays events', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    const since = String(Date.now() / 1000 - 1);
    try {
      await busybox();
      const run = await engine.RunContainer({
        create: { name: `bt-br-${s.tag}`, config: { image: 'busybox:latest', hostname: 'webhost', cmd: { values: ['sh', '-c', 'cat /etc/hosts; sleep 30'] } }, pull: 'never' },
      });
      const ins = JSON.parse((await engine.InspectContainer({ id: run.id })).json) as { NetworkSettings: { IPAddress: string } };
      const ip = ins.NetworkSettings.IPAddress;
      expect(ip).toMatch(/^10\.219\./);

      // The hosts file the process read was rewritten in place after Attach: it names its address.
      const hosts: string[] = [];
      for (let deadline = Date.now() + 10_000; !hosts.some((l) => l.includes(ip)) && Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
        hosts.length = 0;
        for await (const e of engine.Logs({ id: run.id }) as AsyncIterable<engineV1.LogEntry__Output>) hosts.push(e.line.toString());
      }
      expect(hosts.find((l) => l.includes(ip))).toMatch(/webhost/);

      // docker exec: output frames through the namespaces service's Attach, then the exit code.
      const ex = engine.Exec();
      const frames: string[] = [];
      let started = '';
      let code = -1;
      const done = new Promise<void>((resolve, reject) => {
        ex.on('data', (m: engineV1.ExecResponse__Output) => {
          if (m.started) started = m.started;
          if (m.output) frames.push(m.output.data.toString());
          if (m.msg === 'exitCode') code = m.exitCode!;
        });
        ex.on('end', () => resolve());
        ex.on('error', reject);
      });
      ex.write({ start: { id: run.id, args: ['sh', '-c', 'echo from-exec; exit 3'] } });
      ex.end();
      await done;
      expect(started).toMatch(/^[0-9a-f]{64}$/);
      expect(frames.join('')).toBe('from-exec\n');
      expect(code).toBe(3);

      // stats, top, pause/unpause through the cgroups (and networks) services.
      const samples: engineV1.StatsResponse__Output[] = [];
      for await (const m of engine.Stats({ ids: [run.id] }) as AsyncIterable<engineV1.StatsResponse__Output>) samples.push(m);
      expect(samples).toHaveLength(1);
      expect(samples[0]!.stats[0]).toMatchObject({ id: run.id, name: `bt-br-${s.tag}` });
      expect(samples[0]!.stats[0]!.memoryUsage).toBeGreaterThan(0);
      expect(samples[0]!.stats[0]!.pids).toBeGreaterThanOrEqual(1);
      const top = await engine.Top({ id: run.id });
      expect(top.titles).toContain('PID');
      expect(top.processes.map((p) => p.fields.join(' ')).join('\n')).toMatch(/sleep 30/);
      await engine.PauseContainer({ id: run.id });
      expect((await engine.InspectContainer({ id: run.id })).summary?.state).toBe('paused');
      await engine.UnpauseContainer({ id: run.id });

      const stopped = await engine.StopContainer({ id: run.id, timeoutSeconds: 1 });
      expect(stopped.container?.state).toBe('exited');
      await engine.RemoveContainer({ id: run.id });

      const actions: string[] = [];
      const ac = new AbortController();
      const stream = engine.Events({ since, filters: { container: { values: [run.id] } } }, { signal: ac.signal });
      try {
        for await (const e of stream as AsyncIterable<engineV1.Event__Output>) {
          actions.push(e.action);
          if (e.action === 'removed') break;
        }
      } finally {
        ac.abort();
      }
      expect(actions).toEqual(['created', 'started', 'exec_started', 'exec_died', 'paused', 'unpaused', 'die', 'exited', 'stopped', 'removed']);
    } finally {
      engine.close();
    }
  }, 120_000);
  it('attaches to the main process: replayed and live output, then the exit code', async () => {
    const engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
    try {
      await busybox();
      const run = await engine.RunContainer({
        create: { config: { image: 'busybox:latest', cmd: { values: ['sh', '-c', 'echo early; sleep 1; echo late >&2; exit 4'] } }, hostConfig: { networkMode: 'none', autoRemove: true }, pull: 'never' },
      });
      const at = engine.Attach();
      const out: string[] = [];
      let code = -1;
      await new Promise<void>((resolve, reject) => {
        at.on('data', (m: engineV1.AttachResponse__Output) => {
          if (m.output) out.push(`${m.output.stream}:${m.output.data.toString()}`);
          if (m.msg === 'exitCode') code = m.exitCode!;
        });
        at.on('end', () => resolve());
        at.on('error', reject);
        at.write({ start: { id: run.id, stdout: true, stderr: true, logs: true } });
      });
      at.end();
      expect(out.join('')).toBe('stdout:early\nstderr:late\n');
      expect(code).toBe(4);
      // --rm: the record goes once the exit is handled.
      await engine.WaitContainer({ id: run.id, condition: 'removed' }).catch(() => undefined);
      expect((await engine.ListContainers({ all: true })).containers.map((c) => c.id)).not.toContain(run.id);
    } finally {
      engine.close();
    }
  }, 120_000);
});

describe('engine restarted while its container runs', () => {
  const s = useE2eStack(async () => [layersModule, imagesModule, cgroupsModule, namespacesModule, networksModule], { letter: 'e', subnets: [...Array(50).keys()].map((i) => 200 + i) });
  const { client, busybox } = s;

  it('recovers the live container: its exit is recorded and its log is complete, once', async () => {
    const opts = () => ({ paths: s.paths, natsUrl: s.nats!.url, metrics: () => ({ host: '127.0.0.1', port: 0 }) as const });
    let e1: RunningStack | undefined = await runServices([engineModule], opts());
    let e2: RunningStack | undefined;
    try {
      await waitForEventsStream(s.nats!.url);
      await busybox();
      let engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
      const run = await engine.RunContainer({
        create: { name: `bt-rec-${s.tag}`, config: { image: 'busybox:latest', cmd: { values: ['sh', '-c', 'echo one; sleep 3; echo two'] } }, hostConfig: { networkMode: 'none' }, pull: 'never' },
      });
      await new Promise((r) => setTimeout(r, 500));
      engine.close();
      await e1.stop();
      e1 = undefined;

      // The container outlives the engine (its monitor is the namespaces service's).
      e2 = await runServices([engineModule], opts());
      await new Promise((r) => setTimeout(r, 500));
      engine = client<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', 'engine');
      try {
        const waited = await engine.WaitContainer({ id: run.id, condition: 'not-running' });
        expect(waited.exitCode).toBe(0);
        const lines: string[] = [];
        for await (const e of engine.Logs({ id: run.id }) as AsyncIterable<engineV1.LogEntry__Output>) lines.push(e.line.toString());
        expect(lines).toEqual(['one', 'two']);
        expect((await engine.InspectContainer({ id: run.id })).summary).toMatchObject({ state: 'exited', exitCode: 0 });
        await engine.RemoveContainer({ id: run.id });
      } finally {
        engine.close();
      }
    } finally {
      await e1?.stop();
      await e2?.stop();
    }
  }, 120_000);
});
