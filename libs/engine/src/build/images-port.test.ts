// A build's FROM pulls take the credentials of the image's registry from the
// build's own (the Docker API's X-Registry-Config), Docker Hub under any of
// the names clients give it.
import { describe, expect, it } from 'vitest';
import { NotFoundError } from '@berth/errors';
import { engineBuildBackend, type EngineBuildDeps } from './backend';
import { authForRef, type BuildImagesPort, type BuildRegistryAuth } from './images-port';

const auth = (serverAddress: string, username: string): BuildRegistryAuth => ({ serverAddress, username, password: 'pw', identityToken: '' });
const AUTHS = [auth('https://index.docker.io/v1/', 'hub'), auth('reg.example:5000', 'private'), auth('https://other.example/v2/', 'other')];

describe('build registry credentials', () => {
  it('picks the entry of the reference\'s registry', () => {
    expect(authForRef('busybox', AUTHS)?.username).toBe('hub');
    expect(authForRef('library/alpine:3', AUTHS)?.username).toBe('hub');
    expect(authForRef('docker.io/x/y', AUTHS)?.username).toBe('hub');
    expect(authForRef('reg.example:5000/app:1', AUTHS)?.username).toBe('private');
    expect(authForRef('other.example/a@sha256:00', AUTHS)?.username).toBe('other');
    expect(authForRef('quay.io/a/b', AUTHS)).toBeUndefined();
    expect(authForRef('busybox', [])).toBeUndefined();
  });

  it('a FROM image that is not local is pulled with them', async () => {
    const pulls: [string, string | undefined][] = [];
    const local = new Set<string>();
    const images: BuildImagesPort = {
      async inspect(ref) {
        if (!local.has(ref)) throw new NotFoundError(`no such image ${ref}`);
        return { id: `sha256:${ref.length}`, config: {} };
      },
      async pull(ref, a) { pulls.push([ref, a?.username]); local.add(ref); },
      async commit() { return ''; },
      async tag() {},
    };
    const backend = engineBuildBackend({ images, registryAuths: AUTHS } as unknown as EngineBuildDeps);
    await backend.resolveImage('reg.example:5000/app:1', false);
    await backend.resolveImage('quay.io/a/b', false);
    await backend.resolveImage('busybox', true);
    expect(pulls).toEqual([['reg.example:5000/app:1', 'private'], ['quay.io/a/b', undefined], ['busybox', 'hub']]);
  });
});
