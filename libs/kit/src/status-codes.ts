// The error kind <-> gRPC status code table and the client half of the
// conversion (status -> typed error), without @grpc/grpc-js: the CLI's HTTP/2
// transport (h2-client.ts) decodes statuses with it and never loads grpc-js.
// status.ts builds the server half (typed error -> status) on the same table.
import { ErrorCode, makeError, type BerthError } from '@berth/errors';

/** gRPC status codes (grpc/doc/statuscodes.md), the numbers grpc-js's `status` enum holds. */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export const TO_STATUS: Record<ErrorCode, number> = {
  NotFound: GrpcCode.NOT_FOUND,
  AlreadyExists: GrpcCode.ALREADY_EXISTS,
  InvalidArgument: GrpcCode.INVALID_ARGUMENT,
  FailedPrecondition: GrpcCode.FAILED_PRECONDITION,
  ResourceExhausted: GrpcCode.RESOURCE_EXHAUSTED,
  PermissionDenied: GrpcCode.PERMISSION_DENIED,
  Unavailable: GrpcCode.UNAVAILABLE,
  DataLoss: GrpcCode.DATA_LOSS,
  Internal: GrpcCode.INTERNAL,
  Cancelled: GrpcCode.CANCELLED,
  DeadlineExceeded: GrpcCode.DEADLINE_EXCEEDED,
};

const FROM_STATUS = new Map<number, ErrorCode>(Object.entries(TO_STATUS).map(([k, v]) => [v, k as ErrorCode]));

export const META_KIND = 'berth-error-kind';
export const META_FIELD = 'berth-error-field';
export const META_ERRNO = 'berth-error-errno';

/** What both transports hand over: grpc-js's ServiceError, or the HTTP/2 client's status error. */
export interface StatusLike {
  code?: number;
  details?: string;
  message: string;
  metadata?: { get(key: string): unknown[] };
}

/** Converts a status (from either transport) back into the berth error the server threw. */
export function fromStatus(err: StatusLike): BerthError {
  const md = err.metadata;
  const kind = md?.get(META_KIND)[0];
  const field = md?.get(META_FIELD)[0];
  const errno = md?.get(META_ERRNO)[0];
  const code: ErrorCode = typeof kind === 'string' && kind in TO_STATUS
    ? (kind as ErrorCode)
    : FROM_STATUS.get(err.code ?? GrpcCode.UNKNOWN) ?? ErrorCode.Internal;
  const details = err.details ?? err.message;
  return makeError(code, details, {
    cause: err,
    field: typeof field === 'string' ? field : undefined,
    errno: typeof errno === 'string' ? errno : undefined,
  });
}
