import { describe, expect, it } from 'vitest';
import {
  BerthError, ErrorCode, NotFoundError, errorCode, fromErrno, fromNodeError, isBerthError,
  isNotFound, isInvalidArgument, kindForErrno, makeError,
} from './index';

describe('errors', () => {
  it('keeps kind, field and errno', () => {
    const e = new NotFoundError('container "web" not found', { field: 'id' });
    expect(e.code).toBe(ErrorCode.NotFound);
    expect(e.field).toBe('id');
    expect(e.name).toBe('NotFoundError');
    expect(isNotFound(e)).toBe(true);
    expect(isInvalidArgument(e)).toBe(false);
  });

  it('recognises errors across package copies by brand, not class', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('berth.error')]: true, code: 'NotFound' });
    expect(isBerthError(foreign)).toBe(true);
    expect(isNotFound(foreign)).toBe(true);
    expect(isBerthError(new Error('plain'))).toBe(false);
    expect(errorCode(new Error('plain'))).toBe(ErrorCode.Internal);
  });

  it('maps errno names once', () => {
    expect(kindForErrno('ENOENT')).toBe('NotFound');
    expect(kindForErrno('EEXIST')).toBe('AlreadyExists');
    expect(kindForErrno('EPERM')).toBe('PermissionDenied');
    expect(kindForErrno('EACCES')).toBe('PermissionDenied');
    expect(kindForErrno('EBUSY')).toBe('FailedPrecondition');
    expect(kindForErrno('EINVAL')).toBe('InvalidArgument');
    expect(kindForErrno('ENOSPC')).toBe('ResourceExhausted');
    expect(kindForErrno('EWHATEVER')).toBe('Internal');
    const e = fromErrno('EBUSY', 'unmount /x', 'target is busy');
    expect(e.message).toBe('unmount /x: EBUSY (target is busy)');
    expect(e.errno).toBe('EBUSY');
  });

  it('converts node fs errors and passes berth errors through', () => {
    const nodeErr = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    const e = fromNodeError(nodeErr, 'read config /etc/berth.json');
    expect(e).toBeInstanceOf(BerthError);
    expect(e.code).toBe('NotFound');
    expect(e.message).toContain('read config /etc/berth.json');
    const own = makeError('DataLoss', 'digest mismatch');
    expect(fromNodeError(own, 'ignored')).toBe(own);
    expect(fromNodeError(new Error('boom'), 'parse').code).toBe('Internal');
  });
});
