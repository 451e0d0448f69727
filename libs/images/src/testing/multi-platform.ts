// Test support: an OCI layout whose tag names an image index over two
// single-platform images (built with umoci), for multi-platform pulls.
import * as fs from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { run } from './registry.js';

export async function buildMultiPlatformLayout(layout: string, tag: string, work: string): Promise<void> {
  await run('umoci', ['init', '--layout', layout]);
  const entries: unknown[] = [];
  for (const [arch, variant] of [['amd64', undefined], ['arm64', 'v8']] as const) {
    const t = `p-${arch}`;
    await run('umoci', ['new', '--image', `${layout}:${t}`]);
    const src = join(work, `arch-${arch}`);
    await fs.writeFile(src, `${arch}\n`);
    await run('umoci', ['insert', '--image', `${layout}:${t}`, src, '/arch']);
    await run('umoci', ['config', '--image', `${layout}:${t}`, '--architecture', arch, '--os', 'linux']);
    const idx = JSON.parse(await fs.readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: Record<string, string>; digest: string; size: number; mediaType: string }> };
    const m = idx.manifests.find((e) => e.annotations?.['org.opencontainers.image.ref.name'] === t)!;
    entries.push({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { os: 'linux', architecture: arch, ...(variant ? { variant } : {}) } });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries }));
  const hex = createHash('sha256').update(index).digest('hex');
  await fs.writeFile(join(layout, 'blobs/sha256', hex), index);
  const top = JSON.parse(await fs.readFile(join(layout, 'index.json'), 'utf8')) as { manifests: unknown[] };
  top.manifests.push({
    mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${hex}`, size: index.length,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  });
  await fs.writeFile(join(layout, 'index.json'), JSON.stringify(top));
}
