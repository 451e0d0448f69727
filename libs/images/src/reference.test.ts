// Tables ported from github.com/distribution/reference (reference_test.go,
// normalize_test.go), the behaviour Docker users already rely on.
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import {
  InvalidReferenceError, ReferenceProblem as P, familiarMatch, parseAnyReference, parseDockerRef, parseNamed,
  parseNormalizedNamed, parseReference, withDigest, withName, withTag,
} from './reference.js';

const F64 = 'f'.repeat(64);
const reasonOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (e) {
    expect(isInvalidArgument(e)).toBe(true);
    expect((e as InvalidReferenceError).field).toBe('reference');
    return (e as InvalidReferenceError).reason;
  }
};

describe('TestReferenceParse', () => {
  type Case = { input: string; err?: string; repository?: string; domain?: string; tag?: string; digest?: string };
  const cases: Case[] = [
    { input: 'test_com', repository: 'test_com' },
    { input: 'test.com:tag', repository: 'test.com', tag: 'tag' },
    { input: 'test.com:5000', repository: 'test.com', tag: '5000' },
    { input: 'test.com/repo:tag', domain: 'test.com', repository: 'test.com/repo', tag: 'tag' },
    { input: 'test:5000/repo', domain: 'test:5000', repository: 'test:5000/repo' },
    { input: 'test:5000/repo:tag', domain: 'test:5000', repository: 'test:5000/repo', tag: 'tag' },
    { input: `test:5000/repo@sha256:${F64}`, domain: 'test:5000', repository: 'test:5000/repo', digest: `sha256:${F64}` },
    { input: `test:5000/repo:tag@sha256:${F64}`, domain: 'test:5000', repository: 'test:5000/repo', tag: 'tag', digest: `sha256:${F64}` },
    { input: '', err: P.NameEmpty },
    { input: ':justtag', err: P.InvalidFormat },
    { input: `@sha256:${F64}`, err: P.InvalidFormat },
    { input: 'repo@sha256:ffffffffffffffffffffffffffffffffff', err: P.DigestInvalidLength },
    { input: `validname@invaliddigest:${F64}`, err: P.DigestUnsupported },
    { input: 'Uppercase:tag', err: P.NameContainsUppercase },
    { input: 'test:5000/Uppercase/lowercase:tag', err: P.NameContainsUppercase },
    { input: 'lowercase:Uppercase', repository: 'lowercase', tag: 'Uppercase' },
    { input: 'a/'.repeat(128) + 'a:tag', err: P.NameTooLong },
    { input: 'a/'.repeat(127) + 'a:tag-puts-this-over-max', domain: 'a', repository: 'a/'.repeat(127) + 'a', tag: 'tag-puts-this-over-max' },
    { input: 'aa/asdf$$^/aa', err: P.InvalidFormat },
    { input: 'sub-dom1.foo.com/bar/baz/quux', domain: 'sub-dom1.foo.com', repository: 'sub-dom1.foo.com/bar/baz/quux' },
    { input: 'sub-dom1.foo.com/bar/baz/quux:some-long-tag', domain: 'sub-dom1.foo.com', repository: 'sub-dom1.foo.com/bar/baz/quux', tag: 'some-long-tag' },
    { input: 'b.gcr.io/test.example.com/my-app:test.example.com', domain: 'b.gcr.io', repository: 'b.gcr.io/test.example.com/my-app', tag: 'test.example.com' },
    { input: 'xn--n3h.com/myimage:xn--n3h.com', domain: 'xn--n3h.com', repository: 'xn--n3h.com/myimage', tag: 'xn--n3h.com' },
    { input: `xn--7o8h.com/myimage:xn--7o8h.com@sha512:${'f'.repeat(128)}`, domain: 'xn--7o8h.com', repository: 'xn--7o8h.com/myimage', tag: 'xn--7o8h.com', digest: `sha512:${'f'.repeat(128)}` },
    { input: 'foo_bar.com:8080', repository: 'foo_bar.com', tag: '8080' },
    { input: 'foo/foo_bar.com:8080', domain: 'foo', repository: 'foo/foo_bar.com', tag: '8080' },
    { input: '192.168.1.1', repository: '192.168.1.1' },
    { input: '192.168.1.1:tag', repository: '192.168.1.1', tag: 'tag' },
    { input: '192.168.1.1:5000', repository: '192.168.1.1', tag: '5000' },
    { input: '192.168.1.1/repo', domain: '192.168.1.1', repository: '192.168.1.1/repo' },
    { input: '192.168.1.1:5000/repo', domain: '192.168.1.1:5000', repository: '192.168.1.1:5000/repo' },
    { input: '192.168.1.1:5000/repo:5050', domain: '192.168.1.1:5000', repository: '192.168.1.1:5000/repo', tag: '5050' },
    { input: '[2001:db8::1]', err: P.InvalidFormat },
    { input: '[2001:db8::1]:5000', err: P.InvalidFormat },
    { input: '[2001:db8::1]:tag', err: P.InvalidFormat },
    { input: '[2001:db8::1]/repo', domain: '[2001:db8::1]', repository: '[2001:db8::1]/repo' },
    { input: '[2001:db8:1:2:3:4:5:6]/repo:tag', domain: '[2001:db8:1:2:3:4:5:6]', repository: '[2001:db8:1:2:3:4:5:6]/repo', tag: 'tag' },
    { input: '[2001:db8::1]:5000/repo', domain: '[2001:db8::1]:5000', repository: '[2001:db8::1]:5000/repo' },
    { input: '[2001:db8::1]:5000/repo:tag', domain: '[2001:db8::1]:5000', repository: '[2001:db8::1]:5000/repo', tag: 'tag' },
    { input: `[2001:db8::1]:5000/repo@sha256:${F64}`, domain: '[2001:db8::1]:5000', repository: '[2001:db8::1]:5000/repo', digest: `sha256:${F64}` },
    { input: `[2001:db8::1]:5000/repo:tag@sha256:${F64}`, domain: '[2001:db8::1]:5000', repository: '[2001:db8::1]:5000/repo', tag: 'tag', digest: `sha256:${F64}` },
    { input: '[2001:db8::]:5000/repo', domain: '[2001:db8::]:5000', repository: '[2001:db8::]:5000/repo' },
    { input: '[::1]:5000/repo', domain: '[::1]:5000', repository: '[::1]:5000/repo' },
    { input: '[fe80::1%eth0]:5000/repo', err: P.InvalidFormat },
    { input: '[fe80::1%@invalidzone]:5000/repo', err: P.InvalidFormat },
  ];
  for (const tc of cases) {
    it(tc.input || '(empty)', () => {
      if (tc.err) {
        expect(reasonOf(() => parseReference(tc.input))).toBe(tc.err);
        return;
      }
      const r = parseReference(tc.input);
      expect(r.toString()).toBe(tc.input);
      expect(r.name).toBe(tc.repository ?? '');
      expect(r.domain).toBe(tc.domain ?? '');
      expect(r.tag).toBe(tc.tag);
      expect(r.digest).toBe(tc.digest);
    });
  }
});

describe('TestWithNameFailure / TestDomainAndPath', () => {
  for (const input of ['', ':justtag', `@sha256:${F64}`, `validname@invaliddigest:${F64}`, 'a/'.repeat(128) + 'a:tag', 'aa/asdf$$^/aa']) {
    it(`rejects ${input.slice(0, 40)}`, () => expect(reasonOf(() => withName(input))).toBeDefined());
  }
  const ok: Array<[string, string, string]> = [
    ['test.com/foo', 'test.com', 'foo'], ['test_com/foo', '', 'test_com/foo'], ['test:8080/foo', 'test:8080', 'foo'],
    ['test.com:8080/foo', 'test.com:8080', 'foo'], ['test-com:8080/foo', 'test-com:8080', 'foo'], ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo'],
  ];
  for (const [input, domain, path] of ok) {
    it(input, () => {
      const n = withName(input);
      expect([n.domain, n.path]).toEqual([domain, path]);
    });
  }
});

describe('TestWithTag / TestWithDigest', () => {
  const d = 'sha256:1234567890098765432112345667890098765';
  const cases: Array<{ name: string; digest?: string; tag?: string; combined: string; tagLast: boolean }> = [
    { name: 'test.com/foo', tag: 'tag', combined: 'test.com/foo:tag', tagLast: true },
    { name: 'foo', tag: 'tag2', combined: 'foo:tag2', tagLast: true },
    { name: 'test.com:8000/foo', tag: 'tag4', combined: 'test.com:8000/foo:tag4', tagLast: true },
    { name: 'test.com:8000/foo', tag: 'TAG5', combined: 'test.com:8000/foo:TAG5', tagLast: true },
    { name: 'test.com:8000/foo', digest: d, tag: 'TAG5', combined: `test.com:8000/foo:TAG5@${d}`, tagLast: true },
    { name: 'test.com/foo', digest: d, combined: `test.com/foo@${d}`, tagLast: false },
    { name: 'foo', digest: d, combined: `foo@${d}`, tagLast: false },
    { name: 'test.com:8000/foo', digest: d, combined: `test.com:8000/foo@${d}`, tagLast: false },
    { name: 'test.com:8000/foo', digest: d, tag: 'latest', combined: `test.com:8000/foo:latest@${d}`, tagLast: false },
  ];
  for (const tc of cases) {
    it(tc.combined, () => {
      let n = withName(tc.name);
      if (tc.tagLast) {
        if (tc.digest) n = withDigest(n, tc.digest);
        n = withTag(n, tc.tag!);
      } else {
        if (tc.tag) n = withTag(n, tc.tag);
        n = withDigest(n, tc.digest!);
      }
      expect(n.toString()).toBe(tc.combined);
    });
  }
});

describe('TestParseNamed', () => {
  const cases: Array<[string, string?, string?]> = [
    ['test.com/foo', 'test.com', 'foo'], ['test:8080/foo', 'test:8080', 'foo'], ['test_com/foo'], ['test.com'], ['foo'],
    ['library/foo'], ['docker.io/library/foo', 'docker.io', 'library/foo'], ['docker.io/foo'],
  ];
  for (const [input, domain, path] of cases) {
    it(input, () => {
      if (domain === undefined) {
        expect(reasonOf(() => parseNamed(input))).toBe(P.NameNotCanonical);
      } else {
        const n = parseNamed(input);
        expect([n.domain, n.path]).toEqual([domain, path]);
      }
    });
  }
});

describe('TestValidateReferenceName / TestValidateRemoteName', () => {
  const valid = [
    'docker/docker', 'library/debian', 'debian', 'docker.io/docker/docker', 'docker.io/library/debian', 'docker.io/debian',
    'index.docker.io/docker/docker', 'index.docker.io/library/debian', 'index.docker.io/debian', '127.0.0.1:5000/docker/docker',
    '127.0.0.1:5000/library/debian', '127.0.0.1:5000/debian', '192.168.0.1', '192.168.0.1:80', '192.168.0.1:8/debian',
    '192.168.0.2:25000/debian', 'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev', '[fc00::1]:5000/docker',
    '[fc00::1]:5000/docker/docker', '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    'docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', 'Docker/docker', 'DOCKER/docker',
    'docker-rules/docker', 'docker---rules/docker', 'doc/docker', 'd/docker', 'jess/t', 'dock__er/docker',
  ];
  const invalid = [
    'https://github.com/docker/docker', 'docker/Docker', '-docker', '-docker/docker', '-docker.io/docker/docker', 'docker///docker',
    'docker.io/docker/Docker', 'docker.io/docker///docker', '[fc00::1]', '[fc00::1]:5000', 'fc00::1:5000/debian',
    '[fe80::1%eth0]:5000/debian', '[2001:db8:3:4::192.0.2.33]:5000/debian',
    '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a', 'docker-/docker', '-docker-/docker', '____/____',
    '_docker/_docker', 'dock..er/docker', 'dock_.er/docker', 'dock-.er/docker', 'docker/',
    `${'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_'.repeat(4)}/docker`,
  ];
  for (const name of valid) it(`valid ${name}`, () => expect(() => parseNormalizedNamed(name)).not.toThrow());
  for (const name of invalid) it(`invalid ${name}`, () => expect(reasonOf(() => parseNormalizedNamed(name))).toBeDefined());
  it('names the reference in the message', () => {
    expect(() => parseNormalizedNamed('docker/Docker')).toThrow(/"docker\/Docker".*lowercase/);
  });
});

describe('TestParseRepositoryInfo', () => {
  const cases = [
    { remote: 'fooo/bar', familiar: 'fooo/bar', full: 'docker.io/fooo/bar', ambiguous: 'index.docker.io/fooo/bar', domain: 'docker.io' },
    { remote: 'library/ubuntu', familiar: 'ubuntu', full: 'docker.io/library/ubuntu', ambiguous: 'library/ubuntu', domain: 'docker.io' },
    { remote: 'nonlibrary/ubuntu', familiar: 'nonlibrary/ubuntu', full: 'docker.io/nonlibrary/ubuntu', domain: 'docker.io' },
    { remote: 'other/library', familiar: 'other/library', full: 'docker.io/other/library', domain: 'docker.io' },
    { remote: 'private/moonbase', familiar: '127.0.0.1:8000/private/moonbase', full: '127.0.0.1:8000/private/moonbase', domain: '127.0.0.1:8000' },
    { remote: 'privatebase', familiar: '127.0.0.1:8000/privatebase', full: '127.0.0.1:8000/privatebase', domain: '127.0.0.1:8000' },
    { remote: 'private/moonbase', familiar: 'example.com/private/moonbase', full: 'example.com/private/moonbase', domain: 'example.com' },
    { remote: 'privatebase', familiar: 'example.com/privatebase', full: 'example.com/privatebase', domain: 'example.com' },
    { remote: 'private/moonbase', familiar: 'example.com:8000/private/moonbase', full: 'example.com:8000/private/moonbase', domain: 'example.com:8000' },
    { remote: 'privatebasee', familiar: 'example.com:8000/privatebasee', full: 'example.com:8000/privatebasee', domain: 'example.com:8000' },
    { remote: 'library/ubuntu-12.04-base', familiar: 'ubuntu-12.04-base', full: 'docker.io/library/ubuntu-12.04-base', ambiguous: 'index.docker.io/library/ubuntu-12.04-base', domain: 'docker.io' },
    { remote: 'library/foo', familiar: 'foo', full: 'docker.io/library/foo', ambiguous: 'docker.io/foo', domain: 'docker.io' },
    { remote: 'library/foo/bar', familiar: 'library/foo/bar', full: 'docker.io/library/foo/bar', domain: 'docker.io' },
    { remote: 'store/foo/bar', familiar: 'store/foo/bar', full: 'docker.io/store/foo/bar', domain: 'docker.io' },
    { remote: 'bar', familiar: 'Foo/bar', full: 'Foo/bar', domain: 'Foo' },
    { remote: 'bar', familiar: 'FOO/bar', full: 'FOO/bar', domain: 'FOO' },
  ];
  for (const tc of cases) {
    for (const r of [tc.familiar, tc.full, ...(tc.ambiguous ? [tc.ambiguous] : [])]) {
      it(r, () => {
        const n = parseNormalizedNamed(r);
        expect(n.familiarName()).toBe(tc.familiar);
        expect(n.toString()).toBe(tc.full);
        expect(n.domain).toBe(tc.domain);
        expect(n.path).toBe(tc.remote);
      });
    }
  }
});

describe('TestParseReferenceWithTagAndDigest / TestInvalidReferenceComponents', () => {
  it('keeps tag and digest', () => {
    const short = 'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
    const r = parseNormalizedNamed(short);
    expect(r.toString()).toBe(`docker.io/library/${short}`);
    expect(r.tag).toBe('latest');
    expect(r.digest).toBeDefined();
    expect(r.familiarString()).toBe(short);
  });
  it('rejects bad components', () => {
    expect(reasonOf(() => parseNormalizedNamed('-foo'))).toBeDefined();
    const r = parseNormalizedNamed('busybox');
    expect(reasonOf(() => withTag(r, '-foo'))).toBe(P.TagInvalidFormat);
    expect(reasonOf(() => withDigest(r, 'foo'))).toBe(P.DigestInvalidFormat);
  });
});

describe('TestParseAnyReference', () => {
  const d = 'sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
  const cases: Array<[string, string, boolean?]> = [
    ['redis', 'docker.io/library/redis'], ['redis:latest', 'docker.io/library/redis:latest'],
    ['docker.io/library/redis:latest', 'docker.io/library/redis:latest'], [`redis@${d}`, `docker.io/library/redis@${d}`],
    [`docker.io/library/redis@${d}`, `docker.io/library/redis@${d}`], ['dmcgowan/myapp', 'docker.io/dmcgowan/myapp'],
    ['dmcgowan/myapp:latest', 'docker.io/dmcgowan/myapp:latest'], ['docker.io/mcgowan/myapp:latest', 'docker.io/mcgowan/myapp:latest'],
    [`dmcgowan/myapp@${d}`, `docker.io/dmcgowan/myapp@${d}`], [`docker.io/dmcgowan/myapp@${d}`, `docker.io/dmcgowan/myapp@${d}`],
    [d.slice(7), d, true], [d, d, true],
    [d.slice(7, -1), `docker.io/library/${d.slice(7, -1)}`], ['dbcc1', 'docker.io/library/dbcc1'],
  ];
  for (const [input, equivalent, digestOnly] of cases) {
    it(input, () => {
      const r = parseAnyReference(input);
      expect(r.toString()).toBe(equivalent);
      expect(r.isNamed).toBe(!digestOnly);
    });
  }
});

describe('TestNormalizedSplitHostname', () => {
  const cases: Array<[string, string, string]> = [
    ['test.com/foo', 'test.com', 'foo'], ['test_com/foo', 'docker.io', 'test_com/foo'], ['docker/migrator', 'docker.io', 'docker/migrator'],
    ['test.com:8080/foo', 'test.com:8080', 'foo'], ['test-com:8080/foo', 'test-com:8080', 'foo'], ['foo', 'docker.io', 'library/foo'],
    ['xn--n3h.com/foo', 'xn--n3h.com', 'foo'], ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo'], ['docker.io/foo', 'docker.io', 'library/foo'],
    ['docker.io/library/foo', 'docker.io', 'library/foo'], ['docker.io/library/foo/bar', 'docker.io', 'library/foo/bar'],
  ];
  for (const [input, domain, path] of cases) {
    it(input, () => {
      const n = parseNormalizedNamed(input);
      expect([n.domain, n.path]).toEqual([domain, path]);
    });
  }
});

describe('TestMatch / TestMatchError', () => {
  const cases: Array<[string, string, boolean]> = [
    ['foo', 'foo/**/ba[rz]', false], ['foo/any/bat', 'foo/**/ba[rz]', false], ['foo/a/bar', 'foo/**/ba[rz]', true],
    ['foo/b/baz', 'foo/**/ba[rz]', true], ['foo/c/baz:tag', 'foo/**/ba[rz]', true], ['foo/c/baz:tag', 'foo/*/baz:tag', true],
    ['foo/c/baz:tag', 'foo/c/baz:tag', true], ['example.com/foo/c/baz:tag', '*/foo/c/baz', true],
    ['example.com/foo/c/baz:tag', 'example.com/foo/c/baz', true],
  ];
  for (const [ref, pattern, expected] of cases) {
    it(`${ref} ~ ${pattern}`, () => expect(familiarMatch(pattern, parseAnyReference(ref))).toBe(expected));
  }
  it('bad pattern is an error', () => {
    expect(() => familiarMatch('[-x]', parseAnyReference('foo'))).toThrow(/bad pattern/);
  });
});

describe('TestParseDockerRef', () => {
  const d = 'sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582';
  const cases: Array<[string, string]> = [
    ['busybox', 'docker.io/library/busybox:latest'], ['busybox:latest', 'docker.io/library/busybox:latest'],
    [`busybox@${d}`, `docker.io/library/busybox@${d}`], ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'], ['docker.io/library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox:latest', 'docker.io/library/busybox:latest'], ['library/busybox:latest', 'docker.io/library/busybox:latest'],
    ['docker.io/library/busybox:latest', 'docker.io/library/busybox:latest'], ['gcr.io/library/busybox', 'gcr.io/library/busybox:latest'],
    [`gcr.io/library/busybox:latest@${d}`, `gcr.io/library/busybox@${d}`],
    ['127.0.0.1:5000/x/y:v1', '127.0.0.1:5000/x/y:v1'],
  ];
  for (const [input, expected] of cases) {
    it(input, () => {
      const out = parseDockerRef(input).toString();
      expect(out).toBe(expected);
      expect(() => parseReference(out)).not.toThrow();
    });
  }
});
