// What a cgroups service killed inside Create leaves, on a split stack: the
// chaos soak (chaos.test.ts) once failed a start with "createCgroup: cgroup
// <id> not found" after a cgroups kill. Create makes the directory in every
// hierarchy before it saves its record, so a SIGKILL between the two leaves
// a cgroup on the host that the restarted service has no record of. The
// engine's retried start then got AlreadyExists from Create ("exists on the
// host but berth has no record") and NotFound from the Update it falls back
// to; and the rollback's Delete answered NotFound, so the directory stayed
// for good. These tests put that leftover in place exactly as the killed
// service made it (the same driver, the same path) and check that a start
// runs and a removal leaves nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultDriver } from '@berth/cgroups';
import { cgroupDirsUnder, startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

describe('a cgroups service killed between making a cgroup and recording it', () => {
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

  it('a start that finds the leftover takes it over and runs; the removal leaves no cgroup', async () => {
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

  it('removing a container that never started removes the leftover too', async () => {
    const created = await s.berth(['create', '--network', 'none', 'busybox', 'true']);
    expectOk(created);
    const id = created.stdout.trim();
    await leaveUnrecordedCgroup(id);
    expectOk(await s.berth(['rm', id]));
    expect(cgroupDirsOf(id)).toEqual([]);
  }, 120_000);
});
