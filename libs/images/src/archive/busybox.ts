// The default image: busybox:latest built from the host's busybox-static
// binary (Debian's /bin/busybox), so berth can run containers with no
// registry at all.
//
// Deterministic: every entry has uid/gid 0, no user/group names, mtime 0,
// and entries are sorted; the layer is stored uncompressed (gzip output can
// change with the zlib version) and the config's times are the epoch. The
// same busybox binary therefore always yields the same image digest.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { pack, type Header } from 'tar-stream';
import { FailedPreconditionError } from '@berth/errors';
import { sha256Digest } from '../digest.js';
import type { ImageRecord } from '../image-store.js';
import { MediaType, type ImageConfig, type ImageManifest } from '../media-types.js';
import { parseDockerRef } from '../reference.js';
import type { TransferContext } from '../transfer-context.js';
import { applyLayers } from '../unpack.js';
import { ImageEvent, nameImage, withLease, writeJson } from './commit.js';

export interface BusyboxOptions {
  /** The static busybox binary (default /bin/busybox). */
  binary?: string;
  /** Image name (default busybox:latest). */
  name?: string;
}

const EPOCH = new Date(0);

/** The rootfs tar of the busybox image, byte for byte reproducible. */
export async function buildBusyboxRootfs(binary = '/bin/busybox'): Promise<{ tar: Buffer; version: string }> {
  let bin: Buffer;
  let list: string;
  let banner: string;
  try {
    bin = await readFile(binary);
    list = (await promisify(execFile)(binary, ['--list-full'])).stdout;
    banner = (await promisify(execFile)(binary, ['--help']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }))).stdout;
  } catch (e) {
    throw new FailedPreconditionError(`cannot build the busybox image from ${binary} (install busybox-static): ${(e as Error).message}`, { cause: e });
  }
  const version = /BusyBox v[^\s]+/.exec(banner)?.[0] ?? 'BusyBox';
  type Entry = { header: Partial<Header> & { name: string }; data?: Buffer };
  const entries = new Map<string, Entry>();
  const dir = (name: string, mode = 0o755) => entries.set(name, { header: { name: `${name}/`, type: 'directory', mode } });
  const file = (name: string, data: Buffer, mode = 0o644) => entries.set(name, { header: { name, type: 'file', mode, size: data.length }, data });
  for (const d of ['bin', 'dev', 'etc', 'home', 'proc', 'sbin', 'sys', 'usr', 'usr/bin', 'usr/sbin', 'var', 'var/spool', 'var/spool/mail', 'var/www']) dir(d);
  dir('root', 0o700);
  dir('tmp', 0o1777);
  file('bin/busybox', bin, 0o755);
  file('etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n'));
  file('etc/group', Buffer.from('root:x:0:\nnobody:x:65534:\n'));
  for (const line of list.split('\n').map((l) => l.trim()).filter(Boolean)) {
    // "bin/busybox" names the binary itself, which is a file, not an applet link.
    if (line === 'bin/busybox' || entries.has(line)) continue;
    const parent = line.includes('/') ? line.slice(0, line.lastIndexOf('/')) : '';
    if (parent && !entries.has(parent)) dir(parent);
    entries.set(line, { header: { name: line, type: 'symlink', linkname: '/bin/busybox', mode: 0o777 } });
  }
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const key of [...entries.keys()].sort()) {
    const e = entries.get(key)!;
    const header = { uid: 0, gid: 0, uname: '', gname: '', mtime: EPOCH, ...e.header };
    if (e.data) p.entry(header, e.data);
    else p.entry(header);
  }
  p.finalize();
  await ended;
  return { tar: Buffer.concat(chunks), version };
}

export async function ensureBusyboxImage(ctx: TransferContext, opts: BusyboxOptions = {}): Promise<ImageRecord> {
  const name = parseDockerRef(opts.name ?? 'busybox:latest').toString();
  const existing = ctx.store.find(name);
  if (existing) return existing;
  const { tar, version } = await buildBusyboxRootfs(opts.binary);
  const diffId = sha256Digest(tar);
  return withLease(ctx, `busybox ${name}`, async (leaseId) => {
    const layer = await ctx.content.writeBlob(tar, { ref: `busybox-${diffId}`, expected: { digest: diffId, size: tar.length }, leaseId });
    const config: ImageConfig = {
      created: EPOCH.toISOString(),
      architecture: ctx.platform.architecture,
      os: ctx.platform.os,
      ...(ctx.platform.variant ? { variant: ctx.platform.variant } : {}),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: EPOCH.toISOString(), created_by: `berth: rootfs from ${opts.binary ?? '/bin/busybox'} (${version})` }],
    };
    const configDesc = await writeJson(ctx, leaseId, MediaType.OciConfig, config);
    const layerDesc = { mediaType: MediaType.OciLayer, digest: layer.digest, size: layer.size };
    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: [layerDesc] };
    const target = await writeJson(ctx, leaseId, MediaType.OciManifest, manifest);
    await applyLayers(ctx.content, ctx.applier, [layerDesc], config, async () => undefined);
    return nameImage(ctx, name, target, configDesc.digest, ImageEvent.Imported);
  });
}
