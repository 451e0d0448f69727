// PullImage's AuthConfig as the images service's credentials.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { credentialsOf } from './images';

const auth = (over: Record<string, string>) => ({ username: '', password: '', auth: '', serverAddress: '', identityToken: '', registryToken: '', ...over });

describe('credentialsOf', () => {
  it('takes username/password, or decodes auth (base64 user:password), keeping tokens and the server address', () => {
    expect(credentialsOf(auth({ username: 'u', password: 'p', serverAddress: 'r.example' }))).toMatchObject({ username: 'u', password: 'p', serverAddress: 'r.example' });
    expect(credentialsOf(auth({ auth: Buffer.from('alice:s3:cret').toString('base64') }))).toMatchObject({ username: 'alice', password: 's3:cret' });
    expect(credentialsOf(auth({ identityToken: 'refresh' }))).toMatchObject({ username: '', identityToken: 'refresh' });
    expect(credentialsOf(auth({ registryToken: 'bearer' }))).toMatchObject({ registryToken: 'bearer' });
  });
  it('no credentials at all: the stored ones', () => {
    expect(credentialsOf(null)).toBeUndefined();
    expect(credentialsOf(auth({ serverAddress: 'r.example' }))).toBeUndefined();
  });
  it('refuses an auth that is not user:password, naming the field', () => {
    let err: unknown;
    try {
      credentialsOf(auth({ auth: Buffer.from('no-colon').toString('base64') }));
    } catch (e) {
      err = e;
    }
    expect(isInvalidArgument(err)).toBe(true);
    expect((err as { field?: string }).field).toBe('auth.auth');
  });
});
