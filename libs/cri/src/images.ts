// The CRI ImageService over the images service: the same store `berth
// images` and the Docker API show. A CRI image is one image ID (config
// digest) with all its names: tags as repo_tags, name@manifest-digest as
// repo_digests, full names as containerd reports them.
import { statfs } from 'node:fs/promises';
import { InvalidArgumentError, isNotFound } from '@berth/errors';
import type { imagesV1, runtimeV1 } from '@berth/proto';
import type { Backends } from './backends';

export class CriImages {
  constructor(private readonly b: Backends, private readonly imageRoot: string) {}

  async list(filter: runtimeV1.ImageFilter__Output | null): Promise<runtimeV1.Image[]> {
    const want = filter?.image?.image;
    if (want) {
      const one = await this.status(want);
      return one ? [one] : [];
    }
    const res = await this.b.images.List({ reference: [], label: [] });
    const ids = [...new Set(res.images.filter((i) => !i.dangling).map((i) => i.id))];
    const out: runtimeV1.Image[] = [];
    for (const id of ids) {
      const img = await this.status(id);
      if (img) out.push(img);
    }
    return out;
  }

  /** The image a reference or ID names; null when there is none (the CRI's "not present"). */
  async status(ref: string): Promise<runtimeV1.Image | null> {
    let inspect: imagesV1.ImageInspect__Output;
    try {
      inspect = await this.b.images.Inspect({ reference: ref });
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
    const id = inspect.image?.id ?? '';
    const all = await this.b.images.List({ reference: [], label: [] });
    const names = all.images.filter((i) => i.id === id && !i.dangling);
    const repoTags: string[] = [];
    const repoDigests = new Set<string>();
    for (const n of names) {
      if (n.name.includes('@')) repoDigests.add(n.name);
      else {
        repoTags.push(n.name);
        if (n.target?.digest) repoDigests.add(`${repoOf(n.name)}@${n.target.digest}`);
      }
    }
    const user = userOfConfig(inspect.configJson);
    const numeric = /^\d+$/.test(user.split(':')[0] ?? '');
    return {
      id, repoTags, repoDigests: [...repoDigests], size: Number(inspect.size),
      ...(numeric ? { uid: { value: Number(user.split(':')[0]) } } : {}),
      username: numeric ? '' : (user.split(':')[0] ?? ''),
      spec: { image: id, annotations: {} },
      pinned: false,
    };
  }

  /** Pulls `ref`, with the request's credentials for its registry when it brings them (never stored). */
  async pull(ref: string, auth?: runtimeV1.AuthConfig__Output | null): Promise<string> {
    const credentials = credentialsOf(auth);
    const call = this.b.transfer.Pull({ reference: ref, labels: {}, ...(credentials ? { credentials } : {}) });
    let id = '';
    for await (const m of call as AsyncIterable<imagesV1.PullResponse__Output>) {
      if (m.event === 'image' && m.image) id = m.image.id;
    }
    if (!id) throw new Error(`pull of ${ref} ended without an image`);
    return id;
  }

  /** Every name of the image (by ID) or the one name given; absent is fine. */
  async remove(ref: string): Promise<void> {
    const img = await this.status(ref);
    if (!img) return;
    const id = img.id ?? '';
    const byId = ref === id || id.replace(/^sha256:/, '').startsWith(ref.replace(/^sha256:/, ''));
    const names = byId ? [...(img.repoTags ?? []), ...(img.repoDigests ?? [])] : [ref];
    for (const n of names) {
      await this.b.images.Remove({ reference: n, force: false, noPrune: false }).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
    }
  }

  async fsInfo(): Promise<runtimeV1.ImageFsInfoResponse> {
    const s = await statfs(this.imageRoot);
    return {
      imageFilesystems: [{
        timestamp: Date.now() * 1_000_000,
        fsId: { mountpoint: this.imageRoot },
        usedBytes: { value: (s.blocks - s.bfree) * s.bsize },
        inodesUsed: { value: s.files - s.ffree },
      }],
    };
  }
}

/**
 * The CRI's AuthConfig as the images service's RegistryCredentials: `auth`
 * is base64 "user:password" (Docker's config.json form), used when username
 * is not given; undefined when it carries nothing.
 */
export function credentialsOf(a: runtimeV1.AuthConfig__Output | null | undefined): imagesV1.RegistryCredentials | undefined {
  if (!a) return undefined;
  let { username, password } = a;
  if (!username && a.auth) {
    const decoded = Buffer.from(a.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i <= 0) throw new InvalidArgumentError('auth.auth is not base64 of "user:password"', { field: 'auth.auth' });
    [username, password] = [decoded.slice(0, i), decoded.slice(i + 1)];
  }
  if (!username && !password && !a.identityToken && !a.registryToken) return undefined;
  return { username, password, identityToken: a.identityToken, registryToken: a.registryToken, serverAddress: a.serverAddress };
}

/** "docker.io/library/busybox:1.29" -> "docker.io/library/busybox". */
function repoOf(name: string): string {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return colon > slash ? name.slice(0, colon) : name;
}

function userOfConfig(json: Buffer): string {
  try {
    const c = JSON.parse(json.toString('utf8')) as { config?: { User?: string } };
    return c.config?.User ?? '';
  } catch {
    return '';
  }
}
