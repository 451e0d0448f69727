// POST /build's query as BuildOptions: Docker's parameters (a name without a
// tag becomes name:latest in the builder, libs/build), and options berth's builder does not have
// refused by name rather than ignored.
import { describe, expect, it } from 'vitest';
import { buildOptions, registryAuthsOf } from './build';

const q = (s: string) => new URLSearchParams(s);

describe('docker build query', () => {
  it('maps the classic builder parameters the docker CLI and docker-py send', () => {
    const o = buildOptions(q('dockerfile=sub%2FDockerfile.dev&t=app&t=reg.example:5000%2Fapp%3A2&buildargs=%7B%22A%22%3A%221%22%2C%22B%22%3Anull%7D&target=final&nocache=1&pull=True&labels=%7B%22x%22%3A%22y%22%7D&rm=1&forcerm=0&q=0&networkmode=default&shmsize=0&memory=0&cpusetcpus=&cachefrom=%5B%5D'));
    expect(o).toEqual({
      dockerfile: 'sub/Dockerfile.dev', tags: ['app', 'reg.example:5000/app:2'], buildArgs: { A: '1' }, target: 'final',
      noCache: true, pull: true, labels: { x: 'y' },
    });
  });

  it('reads X-Registry-Config: every registry\'s credentials, user and password or the auth pair or an identity token', () => {
    const header = Buffer.from(JSON.stringify({
      'https://index.docker.io/v1/': { username: 'hubber', password: 'p1' },
      'reg.example:5000': { auth: Buffer.from('me:s3:cret').toString('base64') },
      'tok.example': { identitytoken: 'refresh' },
      'empty.example': {},
    })).toString('base64');
    expect(registryAuthsOf(header)).toEqual([
      { serverAddress: 'https://index.docker.io/v1/', username: 'hubber', password: 'p1', identityToken: '' },
      { serverAddress: 'reg.example:5000', username: 'me', password: 's3:cret', identityToken: '' },
      { serverAddress: 'tok.example', username: '', password: '', identityToken: 'refresh' },
    ]);
    expect(registryAuthsOf(undefined)).toEqual([]);
    expect(registryAuthsOf('not json')).toEqual([]);
  });

  it('refuses what berth does not build, naming it', () => {
    expect(() => buildOptions(q('networkmode=host'))).toThrow(/networkmode=host is not supported/);
    expect(() => buildOptions(q('remote=https://example.com/x.git'))).toThrow(/remote=/);
    expect(() => buildOptions(q('version=2'))).toThrow(/BuildKit/);
    expect(() => buildOptions(q('platform=linux/s390x'))).toThrow(/platform=linux\/s390x/);
    expect(() => buildOptions(q('buildargs=%5B1%5D'))).toThrow(/invalid buildargs/);
    expect(() => buildOptions(q('labels=%7B%22a%22%3A1%7D'))).toThrow(/"a" is not a string/);
    expect(() => buildOptions(q('dockerfile=..%2FDockerfile'))).toThrow(/inside it/);
  });
});
