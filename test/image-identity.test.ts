// One image, many names, through the real stack and the `berth` CLI: an image
// loaded from another tool's docker-archive under another name gets another
// manifest of the same config — the same image, one ID (as in Docker). It runs (its ID was
// ambiguous before, and run failed holding the image by ID), `berth images`
// shows a row per name with the one ID, rmi of a name untags, rmi of the ID
// with two names is Docker's conflict. The saved archive is a docker-archive
// and an OCI archive at once (Docker 25+'s layout): skopeo reads it as
// oci-archive and berth loads it.
import { mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCliStack, until, type CliResult, type CliStack } from './support/cli-stack';

const expectOk = (r: CliResult) => expect(r, `${r.stderr}${r.stdout}`).toMatchObject({ code: 0 });

describe('image identity through the real stack', () => {
  let s: CliStack;
  let dir: string;
  const berth = (...args: string[]) => s.berth(args);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-identity-'));
    s = await startCliStack(false, 158);
    await until('busybox image', async () => ((await berth('image', 'inspect', 'busybox')).code === 0 ? true : undefined), 30_000);
  }, 150_000);

  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('an image loaded back under another name is one image: it runs, lists with one ID, rmi untags or refuses by ID', { timeout: 90_000 }, async () => {
    const id = (await berth('image', 'inspect', '--format', '{{.Id}}', 'busybox')).stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    expectOk(await berth('tag', 'busybox', 'bt-copy:1'));
    const archive = join(dir, 'copy.tar');
    expectOk(await berth('save', '-o', archive, 'bt-copy:1'));

    // The archive is an OCI archive too: skopeo reads it by tag.
    const oci = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${archive}:1`], { encoding: 'utf8' })) as { Layers: string[] };
    expect(oci.Layers.length).toBeGreaterThan(0);

    // The same image as another tool's docker-archive (manifest.json only): berth load writes a
    // Docker schema2 manifest for it, so bt-copy:1 gets another manifest of the same config.
    const legacy = join(dir, 'legacy.tar');
    execFileSync('skopeo', ['copy', '--quiet', `oci-archive:${archive}:1`, `docker-archive:${legacy}:bt-copy:1`]);
    expectOk(await berth('rmi', 'bt-copy:1'));
    expectOk(await berth('load', '-i', legacy));
    const digests = (await berth('images', '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}')).stdout;
    const digestOf = (name: string) => digests.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ')[1];
    // Another manifest, the same config.
    expect(digestOf('bt-copy:1')).toMatch(/^sha256:/);
    expect(digestOf('bt-copy:1')).not.toBe(digestOf('busybox:latest'));
    expect((await berth('images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}')).stdout.trim().split('\n').sort())
      .toEqual([`bt-copy:1 ${id.slice(7, 19)}`, `busybox:latest ${id.slice(7, 19)}`]);

    expect(await berth('run', '--rm', '--network', 'none', 'bt-copy:1', 'echo', 'copy runs')).toMatchObject({ code: 0, stdout: 'copy runs\n' });
    expect(await berth('run', '--rm', '--network', 'none', id.slice(7, 19), 'echo', 'by id')).toMatchObject({ code: 0, stdout: 'by id\n' });

    const refused = await berth('rmi', id.slice(7, 19));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`conflict: unable to delete ${id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    const untag = await berth('rmi', 'bt-copy:1');
    expectOk(untag);
    expect(untag.stdout).toMatch(/^Untagged: .*bt-copy:1$/m);
    expect(untag.stdout).not.toMatch(/^Deleted:/m);
    expect((await berth('images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}')).stdout.trim()).toBe(`busybox:latest ${id.slice(7, 19)}`);
    expect(await berth('run', '--rm', '--network', 'none', 'busybox', 'echo', 'still here')).toMatchObject({ code: 0, stdout: 'still here\n' });
  });
});
