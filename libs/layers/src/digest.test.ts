import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { chainId, chainIds, checkDigest } from './digest';
import { cleanEntryPath } from './paths';

const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('chain IDs (OCI image-spec config.md)', () => {
  it('ChainID(L0) = DiffID(L0), ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))', () => {
    const [a, b, c] = [d('a'), d('b'), d('c')];
    expect(chainId(null, a)).toBe(a);
    const ab = d(`${a} ${b}`);
    expect(chainId(a, b)).toBe(ab);
    expect(chainIds([a, b, c])).toEqual([a, ab, d(`${ab} ${c}`)]);
  });

  it('checks digest syntax', () => {
    expect(() => checkDigest('sha256:abc', 'expectedDiffId')).toThrow(expect.objectContaining({ code: 'InvalidArgument', field: 'expectedDiffId' }));
    expect(checkDigest(d('x'), 'f')).toBe(d('x'));
  });
});

describe('entry path checks', () => {
  it('cleans harmless forms and rejects hostile ones naming the entry', () => {
    expect(cleanEntryPath('./a//b/./c/', 'e')).toBe('a/b/c');
    expect(cleanEntryPath('./', 'e')).toBe('');
    expect(cleanEntryPath('/', 'e')).toBe('');
    for (const bad of ['/etc/passwd', 'a/../../b', '..', `${'x'.repeat(256)}`, 'a\0b', `${'p/'.repeat(2048)}f`]) {
      expect(() => cleanEntryPath(bad, bad)).toThrow(expect.objectContaining({ code: 'InvalidArgument', field: bad }));
    }
    expect(cleanEntryPath('x'.repeat(255), 'e')).toBe('x'.repeat(255));
  });
});
