// Where NATS is and how to authenticate to it, for every berth process that
// connects (the services' publishers, the engine's Events reader, tests).
//
//   NATS_URL          server(s), comma separated. Credentials may be in the
//                     URL: nats://user:pass@host:4222 or nats://token@host:4222
//                     (taken out of the URL before nats.js sees it, and never
//                     logged or recorded with it).
//   NATS_TOKEN        a token (NATS_TOKEN_FILE: the file holding it).
//   NATS_CREDS        a .creds file (JWT + nkey seed) for an operator's
//                     decentralized-auth server.
// With no NATS_URL, berth's own server is 127.0.0.1:4222 and its token is
// read from BERTH_ROOT/nats/auth (libs/daemon nats.ts writes it, 0600).
// Explicit variables win over credentials in the URL.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, credsAuthenticator, type ConnectionOptions } from 'nats';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** How to authenticate to NATS; at most one kind is used (token, then user/pass, then creds). */
export interface NatsAuth {
  token?: string;
  user?: string;
  pass?: string;
  /** Path of a .creds file (JWT and nkey seed). */
  credsFile?: string;
}

export interface NatsTarget {
  /** Server URLs without credentials, comma separated (safe to log). */
  servers: string;
  auth: NatsAuth;
}

/** The token file of berth's own nats-server under a state root. */
export function natsTokenPath(stateRoot: string): string {
  return join(stateRoot, 'nats', 'auth');
}

function readSecret(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (e) {
    throw new Error(`cannot read the NATS ${what} ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Splits credentials out of NATS URLs: the first URL carrying some gives the auth. */
export function parseNatsUrls(urls: string): NatsTarget {
  const auth: NatsAuth = {};
  const servers = urls.split(',').map((u) => u.trim()).filter(Boolean).map((u) => {
    const m = /^([a-z]+:\/\/)?([^@/]*)@(.*)$/i.exec(u);
    if (!m) return u;
    const [, scheme = '', userinfo = '', rest = ''] = m;
    if (!auth.token && !auth.user) {
      const colon = userinfo.indexOf(':');
      if (colon < 0) auth.token = decodeURIComponent(userinfo);
      else {
        auth.user = decodeURIComponent(userinfo.slice(0, colon));
        auth.pass = decodeURIComponent(userinfo.slice(colon + 1));
      }
    }
    return `${scheme}${rest}`;
  });
  return { servers: servers.join(','), auth };
}

/**
 * The NATS target from the environment (see the header). `stateRoot` is
 * BERTH_ROOT, whose nats/auth holds berth's own server's token.
 */
export function natsFromEnv(env: NodeJS.ProcessEnv, stateRoot: string): NatsTarget {
  const url = env['NATS_URL'];
  const { servers, auth } = parseNatsUrls(url || DEFAULT_NATS_URL);
  if (env['NATS_TOKEN']) return { servers, auth: { token: env['NATS_TOKEN'] } };
  if (env['NATS_TOKEN_FILE']) return { servers, auth: { token: readSecret(env['NATS_TOKEN_FILE'], 'token file (NATS_TOKEN_FILE)') } };
  if (env['NATS_CREDS']) return { servers, auth: { credsFile: env['NATS_CREDS'] } };
  if (!url) {
    // berth's own server: its token, when it has been started once.
    try {
      return { servers, auth: { token: readFileSync(natsTokenPath(stateRoot), 'utf8').trim() } };
    } catch {
      return { servers, auth };
    }
  }
  return { servers, auth };
}

/** nats.js connection options for servers (credentials in the URLs allowed) plus auth. */
export function natsConnectOptions(servers: string, auth: NatsAuth = {}): ConnectionOptions {
  const parsed = parseNatsUrls(servers);
  const a: NatsAuth = auth.token || auth.user || auth.credsFile ? auth : parsed.auth;
  const opts: ConnectionOptions = { servers: parsed.servers.split(',') };
  if (a.token) opts.token = a.token;
  else if (a.user) {
    opts.user = a.user;
    if (a.pass !== undefined) opts.pass = a.pass;
  } else if (a.credsFile) {
    opts.authenticator = credsAuthenticator(new TextEncoder().encode(readSecret(a.credsFile, 'credentials file (NATS_CREDS)')));
  }
  return opts;
}

/**
 * What answers at `url`, for deciding whether a server already listening is
 * berth's own: 'ours' refuses a connection without credentials and accepts
 * `token`; 'open' accepts anyone (no authentication); 'foreign' is anything
 * else (other credentials, not NATS, no answer).
 */
export async function probeNatsAuth(url: string, token: string): Promise<'ours' | 'open' | 'foreign'> {
  const attempt = async (o: ConnectionOptions): Promise<'ok' | 'auth' | 'error'> => {
    try {
      const nc = await connect({ servers: url, timeout: 2000, reconnect: false, maxReconnectAttempts: 0, ...o });
      await nc.close();
      return 'ok';
    } catch (e) {
      return /authorization|authentication/i.test(`${(e as { code?: string }).code ?? ''} ${(e as Error).message}`) ? 'auth' : 'error';
    }
  };
  const anonymous = await attempt({});
  if (anonymous === 'ok') return 'open';
  if (anonymous === 'error') return 'foreign';
  return (await attempt({ token })) === 'ok' ? 'ours' : 'foreign';
}
