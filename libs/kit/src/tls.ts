// gRPC over TCP is mutual TLS. A service's unix socket (0660 under BERTH_RUN)
// is reachable only by root and the berth group; a TCP listener
// (BERTH_<SERVICE>_TCP, for services run on other hosts) is reachable by
// every local user and the network, and the engine's API runs containers as
// root. So a TCP listener presents a certificate and accepts only clients
// whose certificate its CA signed, and clients of tcp:// (host:port)
// addresses present theirs and verify the server's, configured by files:
//
//   BERTH_TLS_CERT, BERTH_TLS_KEY   this process's certificate and key (PEM):
//                                   the server's on a listener, the client's
//                                   on a connection
//   BERTH_TLS_CA                    the CA (PEM) the peer's certificate must
//                                   chain to
//   BERTH_<SERVICE>_TLS_CERT/_KEY/_CA  the same for one service, each file
//                                   overriding the shared one
//   BERTH_<SERVICE>_TCP_INSECURE=1  plaintext TCP for that service, on both
//                                   sides; without TLS files and without it a
//                                   TCP listener refuses to start and a client
//                                   refuses a TCP address, saying what to set
// Unix sockets never use TLS (the socket's mode is the access control).
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { GRPC_SERVICE, serviceEnvKey } from './config';

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

const SHARED = { cert: 'BERTH_TLS_CERT', key: 'BERTH_TLS_KEY', ca: 'BERTH_TLS_CA' } as const;

/** True for a gRPC address that is not a unix socket. */
export function isTcpAddress(address: string): boolean {
  return !address.startsWith('unix:') && !address.startsWith('/');
}

/** "tcp://host:port" -> "host:port" (grpc-js names TCP targets without a scheme). */
export function stripTcpScheme(address: string): string {
  return address.startsWith('tcp://') ? address.slice('tcp://'.length) : address;
}

/**
 * The TLS files for `service` (a short name, or undefined for the shared
 * ones alone): each of cert, key and CA from BERTH_<SERVICE>_TLS_* else
 * BERTH_TLS_*. Undefined when none is set; an error naming the missing
 * variables when only some are.
 */
export function tlsFiles(service: string | undefined, env: NodeJS.ProcessEnv = process.env): TlsFiles | undefined {
  const pick = (k: keyof TlsFiles) => (service ? env[serviceEnvKey(service, `TLS_${k.toUpperCase()}`)] : undefined) || env[SHARED[k]] || undefined;
  const files = { cert: pick('cert'), key: pick('key'), ca: pick('ca') };
  const set = Object.values(files).filter(Boolean).length;
  if (set === 0) return undefined;
  if (set < 3) {
    const missing = (Object.keys(files) as (keyof TlsFiles)[]).filter((k) => !files[k])
      .map((k) => `${SHARED[k]}${service ? ` (or ${serviceEnvKey(service, `TLS_${k.toUpperCase()}`)})` : ''}`);
    throw new Error(`TLS for gRPC over TCP needs a certificate, its key and a CA: ${missing.join(', ')} not set`);
  }
  return files as TlsFiles;
}

/** BERTH_<SERVICE>_TCP_INSECURE=1: the operator chose plaintext TCP for this service. */
export function tcpInsecure(service: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!service && ['1', 'true', 'yes'].includes((env[serviceEnvKey(service, 'TCP_INSECURE')] ?? '').toLowerCase());
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read the TLS ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function refusal(service: string, side: 'listen on' | 'connect to', address: string): Error {
  return new Error(
    `${service}: will not ${side} TCP ${address} without TLS: set BERTH_TLS_CERT, BERTH_TLS_KEY and BERTH_TLS_CA `
    + `(or ${serviceEnvKey(service, 'TLS_CERT')}, _KEY, _CA) to PEM files for mutual TLS, `
    + `or ${serviceEnvKey(service, 'TCP_INSECURE')}=1 to accept plaintext`,
  );
}

/** Credentials of a TCP listener: mutual TLS (client certificates required), or plaintext when the operator said so. */
export function serverCredentials(g: typeof grpc, service: string, address: string, env: NodeJS.ProcessEnv = process.env): { creds: grpc.ServerCredentials; tls: boolean } {
  const files = tlsFiles(service, env);
  if (files) {
    return {
      creds: g.ServerCredentials.createSsl(read(files.ca, 'CA'), [{ private_key: read(files.key, 'key'), cert_chain: read(files.cert, 'certificate') }], true),
      tls: true,
    };
  }
  if (tcpInsecure(service, env)) return { creds: g.ServerCredentials.createInsecure(), tls: false };
  throw refusal(service, 'listen on', address);
}

/** The short service name (engine, images...) a fully-qualified gRPC service belongs to, by its package. */
export function shortServiceName(fullName: string): string | undefined {
  const pkg = fullName.split('.').slice(0, 2).join('.');
  return (Object.entries(GRPC_SERVICE) as [string, string][]).find(([, fq]) => fq.split('.').slice(0, 2).join('.') === pkg)?.[0];
}

/**
 * Credentials of a client channel to `address`: none for a unix socket,
 * mutual TLS for TCP (see the header). `service` is a fully-qualified gRPC
 * service (its package names the berth service) or a short service name.
 */
export function channelCredentials(g: typeof grpc, fullService: string, address: string, env: NodeJS.ProcessEnv = process.env): grpc.ChannelCredentials {
  if (!isTcpAddress(address)) return g.credentials.createInsecure();
  const service = fullService.includes('.') ? shortServiceName(fullService) : fullService;
  const files = tlsFiles(service, env);
  if (files) return g.credentials.createSsl(read(files.ca, 'CA'), read(files.key, 'key'), read(files.cert, 'certificate'));
  if (tcpInsecure(service, env)) return g.credentials.createInsecure();
  throw refusal(service ?? fullService, 'connect to', address);
}
