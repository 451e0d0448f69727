// The error -> status mapping keeps what a peer can take: a message or field
// naming something a client or container sent (a 3 MB tar entry name) is cut,
// so the status still reaches the caller (whole, it made HTTP/2 trailers no
// peer accepted, and the call hung; test/robustness.test.ts shows it on the
// real stack with berth load).
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@berth/errors';
import { MAX_STATUS_DETAILS, MAX_STATUS_FIELD, toStatus } from './status';
import { META_FIELD } from './status-codes';

describe('toStatus', () => {
  it('cuts a huge message and field, saying how much was left out; short ones pass unchanged', () => {
    const name = 'n'.repeat(3 << 20);
    const s = toStatus(new InvalidArgumentError(`tar entry "${name}" is bad`, { field: name }));
    expect(s.details.length).toBeLessThan(MAX_STATUS_DETAILS + 100);
    expect(s.details).toMatch(/^tar entry "n+\.\.\. \(\d+ more characters\)$/);
    expect(String(s.metadata.get(META_FIELD)[0]).length).toBeLessThan(MAX_STATUS_FIELD + 100);
    const small = toStatus(new InvalidArgumentError('memory: too low', { field: 'memory' }));
    expect(small.details).toBe('memory: too low');
    expect(small.metadata.get(META_FIELD)).toEqual(['memory']);
  });
});
