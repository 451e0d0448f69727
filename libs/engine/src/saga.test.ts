import { describe, expect, it } from 'vitest';
import { errorCode, InvalidArgumentError, isInvalidArgument, NotFoundError } from '@berth/errors';
import { runSaga, SagaError, type SagaStep } from './saga';
import { createSteps, runSteps, startSteps, type RunContext } from './run-plan';
import { defaultContainerConfig, defaultHostConfig } from './types';
import { addTestImage, recordingPorts } from './testing/recording-ports';

describe('runSaga', () => {
  it('undoes completed steps in reverse, keeps the original error kind, collects undo failures', async () => {
    const log: string[] = [];
    const step = (name: string, opts: { fail?: boolean; undoFails?: boolean } = {}): SagaStep<null> => ({
      name,
      async run() { log.push(`run ${name}`); if (opts.fail) throw new NotFoundError(`${name} broke`, { field: 'f' }); },
      async undo() { log.push(`undo ${name}`); if (opts.undoFails) throw new Error(`undo ${name} broke`); },
    });
    const err = await runSaga([step('a'), step('b', { undoFails: true }), step('c'), step('d', { fail: true }), step('e')], null).catch((e) => e);
    expect(log).toEqual(['run a', 'run b', 'run c', 'run d', 'undo c', 'undo b', 'undo a']);
    expect(err).toBeInstanceOf(SagaError);
    expect(errorCode(err)).toBe('NotFound');
    expect(err.field).toBe('f');
    expect(err.step).toBe('d');
    expect(err.message).toBe('d: d broke; rollback also failed at b (undo b broke)');
    expect(err.undoFailures).toHaveLength(1);
  });
  it('a non-berth error becomes Internal with its message', async () => {
    const err = await runSaga([{ name: 'x', run: async () => { throw new TypeError('boom'); } }], null).catch((e) => e);
    expect(errorCode(err)).toBe('Internal');
    expect(err.message).toBe('x: boom');
  });
});

const ID = 'c'.repeat(64);
function ctx(image = 'alpine'): RunContext {
  return {
    id: ID, name: 'web', config: { ...defaultContainerConfig(image), cmd: ['sh'] }, hostConfig: defaultHostConfig(),
    pull: 'missing', logPath: '/logs/x.log', mounts: [],
  };
}

// Which call of the service each step makes first (its "run"), and which undo calls reverse it.
const STEP_CALLS: [string, string, string[]][] = [
  ['resolveImage', 'images.resolve', ['images.removeContainerRef']],
  ['prepareRoot', 'layers.prepare', ['layers.remove']],
  ['createCgroup', 'cgroups.create', ['cgroups.remove']],
  ['createProcess', 'namespaces.create', ['namespaces.kill', 'namespaces.delete']],
  ['attachNetwork', 'networks.attach', ['networks.detach']],
  ['bindHostsResolv', 'networks.writeHostsFiles', ['networks.removeHostsFiles']],
  ['start', 'namespaces.start', ['namespaces.kill']],
];

describe('run plan saga (in-memory test doubles for the services)', () => {
  it('runs every step in order and holds every resource on success', async () => {
    const p = recordingPorts();
    addTestImage(p, 'alpine');
    const c = ctx();
    await runSaga(runSteps(p), c);
    expect(p.rec.calls.map((x) => x.split(' ')[0])).toEqual([
      'images.resolve', 'images.addContainerRef', 'layers.prepare', 'cgroups.create', 'namespaces.create',
      'networks.attach', 'networks.writeHostsFiles', 'namespaces.start',
    ]);
    expect([...p.rec.live].sort()).toEqual(['cgroup', 'hosts', 'image-ref', 'net', 'process', 'rootfs'].map((r) => `${r} ${ID}`));
    expect(c.networkSettings?.hostsPath).toBe(`/run/berth/${ID}/hosts`);
    expect(p.specs.get(ID)).toMatchObject({ args: ['sh'], cwd: '/', uid: 0, gid: 0, hostname: ID.slice(0, 12), rootfs: `/rootfs/${ID}`, cgroupPath: `/sys/fs/cgroup/berth/${ID}` });
  });

  for (let n = 0; n < STEP_CALLS.length; n++) {
    const [stepName, failCall] = STEP_CALLS[n]!;
    it(`failure at step ${n + 1} (${stepName}) undoes exactly steps 1..${n} in reverse`, async () => {
      const p = recordingPorts();
      addTestImage(p, 'alpine');
      p.rec.failOn(failCall, new InvalidArgumentError(`${failCall} refused`));
      const err = await runSaga(runSteps(p), ctx()).catch((e) => e);
      expect(err).toBeInstanceOf(SagaError);
      expect(err.step).toBe(stepName);
      expect(isInvalidArgument(err)).toBe(true);
      expect(err.undoFailures).toEqual([]);
      const at = p.rec.calls.findIndex((c) => c.startsWith(failCall));
      const undone = p.rec.calls.slice(at + 1).map((c) => c.split(' ')[0]);
      const expected = STEP_CALLS.slice(0, n).reverse().flatMap(([, , undo]) => undo);
      expect(undone).toEqual(expected);
      expect([...p.rec.live]).toEqual([]); // nothing leaked
    });
  }

  it('mountRoot: a run does not mount the root prepareRoot just mounted; a start of a created container mounts it again', async () => {
    const p = recordingPorts();
    addTestImage(p, 'alpine');
    const c = ctx();
    await runSaga(createSteps(p), c);
    expect(p.rec.calls.filter((x) => x.startsWith('layers.mount'))).toEqual([]);
    const started = { ...ctx(), image: c.image, merged: c.merged, args: c.args };
    await runSaga(startSteps(p), started);
    expect(p.rec.calls.filter((x) => x.startsWith('layers.mount'))).toEqual([`layers.mount ${ID}`]);
    expect(started.rootfs).toBe(`/rootfs/${ID}`);
  });

  it('an undo failure is reported but the original error is kept', async () => {
    const p = recordingPorts();
    addTestImage(p, 'alpine');
    p.rec.failOn('networks.attach', new NotFoundError('network bridge not found'));
    p.rec.failOn('cgroups.remove');
    const err = await runSaga(runSteps(p), ctx()).catch((e) => e);
    expect(errorCode(err)).toBe('NotFound');
    expect(err.message).toMatch(/^attachNetwork: network bridge not found; rollback also failed at createCgroup \(injected failure in cgroups.remove\)$/);
    // The steps before the failed undo were still undone.
    expect(p.rec.calls.some((c) => c.startsWith('layers.remove'))).toBe(true);
    expect(p.rec.calls.some((c) => c.startsWith('images.removeContainerRef'))).toBe(true);
  });

  it('no command: fails at resolveImage before anything is created', async () => {
    const p = recordingPorts();
    addTestImage(p, 'scratchy');
    const c = ctx('scratchy');
    c.config.cmd = null;
    const err = await runSaga(runSteps(p), c).catch((e) => e);
    expect(err.message).toMatch(/resolveImage: no command specified/);
    expect(p.rec.live.size).toBe(0);
  });

  it('resolves the user from the rootfs passwd/group and sets HOME', async () => {
    const p = recordingPorts();
    addTestImage(p, 'app', { user: 'app', cmd: ['run'] });
    p.rootFiles.set('/etc/passwd', 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    p.rootFiles.set('/etc/group', 'app:x:1000:\nwheel:x:10:app\n');
    const c = ctx('app');
    c.config.cmd = null;
    await runSaga(runSteps(p), c);
    expect(p.specs.get(ID)).toMatchObject({ uid: 1000, gid: 1000, additionalGids: [10], args: ['run'] });
    expect(p.specs.get(ID)!.env).toContain('HOME=/home/app');
  });
});
