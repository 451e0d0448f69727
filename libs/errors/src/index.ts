// @berth/errors: the closed set of error kinds every berth library throws.
//
// Logic code throws these; the service kit converts them to gRPC status codes
// in exactly one place (libs/kit/src/status.ts) and the client wrapper converts
// statuses back, so a caller in another process sees the same kind and message.
// Check kinds with the helpers (isNotFound(e)...) rather than instanceof: two
// copies of this package in one process must still agree.

/** The kinds, named after the gRPC codes they map to. */
export const ErrorCode = {
  NotFound: 'NotFound',
  AlreadyExists: 'AlreadyExists',
  InvalidArgument: 'InvalidArgument',
  FailedPrecondition: 'FailedPrecondition',
  ResourceExhausted: 'ResourceExhausted',
  PermissionDenied: 'PermissionDenied',
  Unavailable: 'Unavailable',
  DataLoss: 'DataLoss',
  Internal: 'Internal',
  Cancelled: 'Cancelled',
  DeadlineExceeded: 'DeadlineExceeded',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const BRAND = Symbol.for('berth.error');

export interface ErrorOptions {
  cause?: unknown;
  /** Field or entry the error is about (a spec field, a tar entry, a flag). */
  field?: string;
  /** errno name when the error came from a system call (ENOENT...). */
  errno?: string;
}

/** Base class: message says what was wrong and, where it can, what to do. */
export class BerthError extends Error {
  readonly [BRAND] = true;
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly errno: string | undefined;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = `${code}Error`;
    this.code = code;
    this.field = opts.field;
    this.errno = opts.errno;
  }
}

export class NotFoundError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.NotFound, message, opts); }
}
export class AlreadyExistsError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.AlreadyExists, message, opts); }
}
export class InvalidArgumentError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.InvalidArgument, message, opts); }
}
export class FailedPreconditionError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.FailedPrecondition, message, opts); }
}
export class ResourceExhaustedError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.ResourceExhausted, message, opts); }
}
export class PermissionDeniedError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.PermissionDenied, message, opts); }
}
export class UnavailableError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.Unavailable, message, opts); }
}
export class DataLossError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.DataLoss, message, opts); }
}
export class InternalError extends BerthError {
  constructor(message: string, opts?: ErrorOptions) { super(ErrorCode.Internal, message, opts); }
}

/** True for any berth error, whichever copy of this package made it. */
export function isBerthError(e: unknown): e is BerthError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** The kind of e; Internal for anything that is not a berth error. */
export function errorCode(e: unknown): ErrorCode {
  return isBerthError(e) ? e.code : ErrorCode.Internal;
}

const is = (code: ErrorCode) => (e: unknown): e is BerthError => isBerthError(e) && e.code === code;
export const isNotFound = is(ErrorCode.NotFound);
export const isAlreadyExists = is(ErrorCode.AlreadyExists);
export const isInvalidArgument = is(ErrorCode.InvalidArgument);
export const isFailedPrecondition = is(ErrorCode.FailedPrecondition);
export const isResourceExhausted = is(ErrorCode.ResourceExhausted);
export const isPermissionDenied = is(ErrorCode.PermissionDenied);
export const isUnavailable = is(ErrorCode.Unavailable);
export const isDataLoss = is(ErrorCode.DataLoss);
export const isInternal = is(ErrorCode.Internal);

/** Makes an error of the given kind (used when decoding a gRPC status). */
export function makeError(code: ErrorCode, message: string, opts?: ErrorOptions): BerthError {
  return new BerthError(code, message, opts);
}

// errno -> kind. One table for every syscall berth makes (libs/sys and fs).
const ERRNO_KIND: Record<string, ErrorCode> = {
  ENOENT: ErrorCode.NotFound,
  ESRCH: ErrorCode.NotFound,
  ENODEV: ErrorCode.NotFound,
  ENXIO: ErrorCode.NotFound,
  EEXIST: ErrorCode.AlreadyExists,
  ENOTEMPTY: ErrorCode.FailedPrecondition,
  EBUSY: ErrorCode.FailedPrecondition,
  ENOTDIR: ErrorCode.FailedPrecondition,
  EISDIR: ErrorCode.FailedPrecondition,
  EROFS: ErrorCode.FailedPrecondition,
  EPERM: ErrorCode.PermissionDenied,
  EACCES: ErrorCode.PermissionDenied,
  EINVAL: ErrorCode.InvalidArgument,
  ENAMETOOLONG: ErrorCode.InvalidArgument,
  ELOOP: ErrorCode.InvalidArgument,
  E2BIG: ErrorCode.InvalidArgument,
  ERANGE: ErrorCode.InvalidArgument,
  ENOSPC: ErrorCode.ResourceExhausted,
  ENOMEM: ErrorCode.ResourceExhausted,
  EMFILE: ErrorCode.ResourceExhausted,
  ENFILE: ErrorCode.ResourceExhausted,
  EDQUOT: ErrorCode.ResourceExhausted,
  EAGAIN: ErrorCode.Unavailable,
  ECONNREFUSED: ErrorCode.Unavailable,
  ECONNRESET: ErrorCode.Unavailable,
  ETIMEDOUT: ErrorCode.Unavailable,
  EIO: ErrorCode.DataLoss,
  ENOSYS: ErrorCode.FailedPrecondition,
  EOPNOTSUPP: ErrorCode.FailedPrecondition,
};

/** The berth kind for an errno name (EINVAL...); Internal for unknown ones. */
export function kindForErrno(errno: string): ErrorCode {
  return ERRNO_KIND[errno] ?? ErrorCode.Internal;
}

/**
 * Wraps a failed system call: `what` says what berth was doing in words a
 * person reads ("mount overlay on /var/lib/berth/..."); the errno keeps its name.
 */
export function fromErrno(errno: string, what: string, detail?: string, cause?: unknown): BerthError {
  const msg = `${what}: ${errno}${detail ? ` (${detail})` : ''}`;
  return new BerthError(kindForErrno(errno), msg, { errno, cause });
}

/**
 * Turns a Node fs/child_process error (err.code = 'ENOENT'...) into a berth
 * error; passes berth errors through unchanged.
 */
export function fromNodeError(e: unknown, what: string): BerthError {
  if (isBerthError(e)) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) {
    return fromErrno(code, what, undefined, e);
  }
  const message = e instanceof Error ? e.message : String(e);
  return new InternalError(`${what}: ${message}`, { cause: e });
}

/** For tests: the error a promise rejects with; throws when it resolves. */
export async function rejection(p: Promise<unknown>): Promise<BerthError> {
  try {
    await p;
  } catch (e) {
    return e as BerthError;
  }
  throw new Error('expected a rejection');
}
