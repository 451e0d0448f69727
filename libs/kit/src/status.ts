// The one place where berth's typed errors become gRPC statuses (server) and
// statuses become typed errors again (client). The error kind also travels
// in trailing metadata so a client gets back exactly the kind and field the
// server threw, whatever status code grpc-js would otherwise infer.
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, isBerthError, makeError, type BerthError } from '@berth/errors';

const TO_STATUS: Record<ErrorCode, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  ResourceExhausted: grpc.status.RESOURCE_EXHAUSTED,
  PermissionDenied: grpc.status.PERMISSION_DENIED,
  Unavailable: grpc.status.UNAVAILABLE,
  DataLoss: grpc.status.DATA_LOSS,
  Internal: grpc.status.INTERNAL,
  Cancelled: grpc.status.CANCELLED,
  DeadlineExceeded: grpc.status.DEADLINE_EXCEEDED,
};

const FROM_STATUS = new Map<grpc.status, ErrorCode>(
  Object.entries(TO_STATUS).map(([k, v]) => [v, k as ErrorCode]),
);

export const META_KIND = 'berth-error-kind';
export const META_FIELD = 'berth-error-field';
export const META_ERRNO = 'berth-error-errno';

/** The gRPC status code for a berth error kind. */
export function statusForCode(code: ErrorCode): grpc.status {
  return TO_STATUS[code];
}

/**
 * Converts anything thrown by a handler into a status object for grpc-js.
 * Non-berth errors become INTERNAL with their message (a bug: the message
 * still says what failed).
 */
export function toStatus(err: unknown): grpc.StatusObject & { metadata: grpc.Metadata } {
  const metadata = new grpc.Metadata();
  if (isBerthError(err)) {
    metadata.set(META_KIND, err.code);
    if (err.field) metadata.set(META_FIELD, err.field);
    if (err.errno) metadata.set(META_ERRNO, err.errno);
    return { code: TO_STATUS[err.code], details: err.message, metadata };
  }
  const message = err instanceof Error ? err.message : String(err);
  metadata.set(META_KIND, ErrorCode.Internal);
  return { code: grpc.status.INTERNAL, details: `internal error: ${message}`, metadata };
}

/** Converts a grpc-js ServiceError back into the berth error the server threw. */
export function fromStatus(err: grpc.ServiceError | (Error & { code?: number; details?: string; metadata?: grpc.Metadata })): BerthError {
  const md = err.metadata;
  const kind = md?.get(META_KIND)[0];
  const field = md?.get(META_FIELD)[0];
  const errno = md?.get(META_ERRNO)[0];
  const code: ErrorCode = typeof kind === 'string' && kind in TO_STATUS
    ? (kind as ErrorCode)
    : FROM_STATUS.get(err.code as grpc.status) ?? ErrorCode.Internal;
  const details = err.details ?? err.message;
  return makeError(code, details, {
    cause: err,
    field: typeof field === 'string' ? field : undefined,
    errno: typeof errno === 'string' ? errno : undefined,
  });
}

/** Name of a status code as go-grpc-prometheus labels it ("OK", "NOT_FOUND"). */
export function statusName(code: grpc.status): string {
  return grpc.status[code] ?? String(code);
}
