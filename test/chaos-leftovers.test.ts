// What a service or an engine killed in the middle of a start leaves, and
// the retried start that must find its way past it, on a split stack. Each
// test puts the leftover in place exactly as the killed process made it and
// checks that a start runs and a removal leaves nothing.
//
// A cgroups service killed inside Create: the chaos soak (chaos.test.ts) once
// failed a start with "createCgroup: cgroup <id> not found" after a cgroups
// kill. Create makes the directory in every hierarchy before it saves its
// record, so a SIGKILL between the two leaves a cgroup on the host that the
// restarted service has no record of. The engine's retried start then got
// AlreadyExists from Create ("exists on the host but berth has no record")
// and NotFound from the Update it falls back to; and the rollback's Delete
// answered NotFound, so the directory stayed for good.
//
// An engine killed inside a start after the network attach (or a networks
// service killed after recording it): a client's retried start can reach the
// new engine before its recovery releases that attempt, and found the
// attachment in its way. A network answered AlreadyExists, which the engine
// took as that attempt's; --network none answered FailedPrecondition
// ("already has network mode none; detach it first"), which failed the start
// for good (the soak's second failure).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { defaultDriver } from '@berth/cgroups';
import { cgroupDirsUnder, startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

describe('leftovers of a start cut by a kill', () => {
  let s: CliStack;
  beforeAll(async () => {
    s = await startCliStack(true, 72);
    await until('busybox image', async () => ((await s.berth(['image', 'inspect', 'busybox'])).code === 0 ? true : undefined), 30_000);
  }, 150_000);
  afterAll(async () => {
    await s?.stop();
  }, 120_000);

  /** The directories a Create cut after its mkdir leaves (no record, no limits, no process). */
  const leaveUnrecordedCgroup = (id: string) => defaultDriver().create(`${s.cgroupParent}/${id}`);
  /** The container's cgroup directories, in every hierarchy. */
  const cgroupDirsOf = (id: string) => cgroupDirsUnder(s.cgroupParent).filter((d) => d.endsWith(`/${id}`));

  it('a cgroup without its record (cgroups killed inside Create): a start takes it over and runs; the removal leaves no cgroup', async () => {
    const created = await s.berth(['create', '--network', 'none', 'busybox', 'sh', '-c', 'echo started; exit 3']);
    expectOk(created);
    const id = created.stdout.trim();
    await leaveUnrecordedCgroup(id);
    expect(cgroupDirsOf(id)).not.toEqual([]);
    expectOk(await s.berth(['start', id]));
    const waited = await s.berth(['wait', id]);
    expectOk(waited);
    expect(waited.stdout.trim()).toBe('3');
    expect((await s.berth(['logs', id])).stdout).toBe('started\n');
    expectOk(await s.berth(['rm', id]));
    expect(cgroupDirsOf(id)).toEqual([]);
  }, 120_000);

  it('a cgroup without its record: removing a container that never started removes it too', async () => {
    const created = await s.berth(['create', '--network', 'none', 'busybox', 'true']);
    expectOk(created);
    const id = created.stdout.trim();
    await leaveUnrecordedCgroup(id);
    expectOk(await s.berth(['rm', id]));
    expect(cgroupDirsOf(id)).toEqual([]);
  }, 120_000);

  it('an attachment of an earlier attempt (--network none): a start replaces it and runs; the removal leaves no attachment', async () => {
    const created = await s.berth(['create', '--network', 'none', 'busybox', 'sh', '-c', 'echo none; exit 4']);
    expectOk(created);
    const id = created.stdout.trim();
    // The earlier attempt's process and its network namespace are gone with it: a namespace of our own stands in.
    const netns = `btcl${s.tag}`;
    execFileSync('ip', ['netns', 'add', netns]);
    try {
      await s.networks.Attach({ containerId: id, netnsPath: `/run/netns/${netns}`, network: 'none' });
      expectOk(await s.berth(['start', id]));
      const waited = await s.berth(['wait', id]);
      expectOk(waited);
      expect(waited.stdout.trim()).toBe('4');
      expect((await s.berth(['logs', id])).stdout).toBe('none\n');
      expectOk(await s.berth(['rm', id]));
      expect((await s.networks.ListAttachments({ containerId: id })).attachments).toEqual([]);
    } finally {
      execFileSync('ip', ['netns', 'del', netns]);
    }
  }, 120_000);
});
