// The one place where berth's typed errors become gRPC statuses (server) and
// statuses become typed errors again (client). The error kind also travels
// in trailing metadata so a client gets back exactly the kind and field the
// server threw, whatever status code grpc-js would otherwise infer.
import * as grpc from '@grpc/grpc-js';
import { ErrorCode, isBerthError } from '@berth/errors';
import { META_ERRNO, META_FIELD, META_KIND, TO_STATUS } from './status-codes';

export { fromStatus, META_ERRNO, META_FIELD, META_KIND } from './status-codes';

/** The gRPC status code for a berth error kind. */
export function statusForCode(code: ErrorCode): grpc.status {
  return TO_STATUS[code];
}

/**
 * Longest status message and field sent (characters). Both travel in HTTP/2
 * trailers, which peers bound (HTTP/2 header list limits):
 * an error naming what a client or container sent (a 3 MB tar entry name)
 * made trailers no peer accepts, and the caller waited for an answer that
 * never came. The start of a message says what failed.
 */
export const MAX_STATUS_DETAILS = 4096;
export const MAX_STATUS_FIELD = 256;

function bounded(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}... (${s.length - max} more characters)`;
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
    if (err.field) metadata.set(META_FIELD, bounded(err.field, MAX_STATUS_FIELD));
    if (err.errno) metadata.set(META_ERRNO, err.errno);
    return { code: TO_STATUS[err.code], details: bounded(err.message, MAX_STATUS_DETAILS), metadata };
  }
  const message = err instanceof Error ? err.message : String(err);
  metadata.set(META_KIND, ErrorCode.Internal);
  return { code: grpc.status.INTERNAL, details: bounded(`internal error: ${message}`, MAX_STATUS_DETAILS), metadata };
}

/** Name of a status code as go-grpc-prometheus labels it ("OK", "NOT_FOUND"). */
export function statusName(code: grpc.status): string {
  return grpc.status[code] ?? String(code);
}
