// Structured JSON logs (pino). One logger per service host; each RPC gets a
// child logger carrying its request id (x-request-id from the caller, or a
// new one) so a call can be followed across services.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level = process.env.BERTH_LOG_LEVEL || 'info'): Logger {
  return pino({ name: `berth-${service}`, level, base: { service, pid: process.pid } });
}
