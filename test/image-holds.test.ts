// A container holds its image (a lease in the images service, made at create,
// dropped at remove): `berth rmi` of the image's only name is refused with
// Docker's conflict message, `rmi -f` untags and keeps the image for the
// container, `image prune` skips it until the container is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

describe('image holds through the real stack', () => {
  let s: CliStack;
  const berth = (...args: string[]) => s.berth(args);

  beforeAll(async () => {
    s = await startCliStack(false, 87);
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
  }, 120_000);

  it('rmi of an image a container uses is Docker\'s conflict; rmi -f untags and the container keeps it; prune takes it after rm', { timeout: 60_000 }, async () => {
    const run = await berth('run', '-d', '--name', 'holder', 'busybox', 'sleep', '300');
    expectOk(run);
    const id = run.stdout.trim();
    try {
      const image = (await berth('inspect', '--format', '{{.Image}}', 'holder')).stdout.trim();
      expect(image).toMatch(/^sha256:[0-9a-f]{64}$/);

      const refused = await berth('rmi', 'busybox');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain(
        `conflict: unable to remove repository reference "busybox" (must force) - container ${id.slice(0, 12)} is using its referenced image ${image.slice(7, 19)}`,
      );
      expectOk(await berth('image', 'inspect', 'busybox'));

      const forced = await berth('rmi', '-f', 'busybox');
      expectOk(forced);
      expect(forced.stdout).toMatch(/^Untagged: .*busybox:latest$/m);
      expect(forced.stdout).not.toMatch(/^Deleted:/m);
      // The name is gone, the image stays (dangling) for its container, which still runs and execs.
      expect((await berth('image', 'inspect', 'busybox')).code).not.toBe(0);
      expect((await berth('images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}')).stdout.trim()).toBe(`<none>:<none> ${image.slice(7, 19)}`);
      expect(await berth('exec', 'holder', 'echo', 'still here')).toMatchObject({ code: 0, stdout: 'still here\n' });
      expectOk(await berth('image', 'prune', '-f'));
      expectOk(await berth('image', 'inspect', image));

      expectOk(await berth('rm', '-f', 'holder'));
      const pruned = await berth('image', 'prune', '-f');
      expectOk(pruned);
      expect(pruned.stdout).toContain('deleted: ');
      expect((await berth('image', 'inspect', image)).code).not.toBe(0);
    } finally {
      await berth('rm', '-f', 'holder');
    }
  });
});
