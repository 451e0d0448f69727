// An OCI Distribution API v2 client for one registry (distribution-spec
// spec.md): manifests and blobs by repository, chunked and monolithic
// uploads, cross-repository mounts, and the Docker token flow.
//
// Transport rules, as Docker has them:
// - HTTPS always; plain HTTP only for registries marked insecure, which by
//   default are localhost and 127.0.0.0/8 (and ::1). For those we ping
//   https first and fall back to http, remembering the answer.
// - The first /v2/ ping yields the WWW-Authenticate challenge. Basic: send the
//   stored credentials. Bearer: get a token from the realm for the scope
//   ("repository:<name>:pull[,push]") and cache it until it expires.
// - Idempotent requests retry on network errors, 429 and 5xx with backoff.
// - Status codes become berth errors naming the registry and the reference:
//   401/403 PermissionDenied, 404 NotFound, 429 ResourceExhausted, network
//   and 5xx Unavailable.
import { Readable } from 'node:stream';
import {
  BerthError, InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError, UnavailableError,
} from '@berth/errors';
import { parseChallenges, type Challenge } from './challenge.js';
import type { AuthConfig, Credentials } from './auth-config.js';

export interface RegistryClientOptions {
  authConfig: AuthConfig;
  /** Extra registries (host or host:port) allowed over plain HTTP. */
  insecureRegistries?: string[];
  /** Attempts for idempotent requests (default 4). */
  attempts?: number;
  userAgent?: string;
  /** Credentials to use instead of the config file (login verifies these). */
  credentials?: Credentials;
}

interface RequestOptions {
  scope?: string[];
  headers?: Record<string, string>;
  body?: Buffer | Readable | undefined;
  /** Safe to resend (GET/HEAD, bodies that are buffers). */
  idempotent?: boolean;
  /** Describes the operation for messages ("pull 127.0.0.1:5000/x:1"). */
  what: string;
}

/** The API host of a reference domain (Docker Hub's API lives elsewhere). */
export function apiHost(domain: string): string {
  return domain === 'docker.io' || domain === 'index.docker.io' ? 'registry-1.docker.io' : domain;
}

/** True for hosts Docker allows over plain HTTP without configuration. */
export function isLoopbackRegistry(host: string): boolean {
  let h = host;
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']'));
  else if (h.includes(':')) h = h.slice(0, h.lastIndexOf(':'));
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class RegistryClient {
  readonly host: string;
  private base: string | undefined;
  private challenge: Challenge | undefined;
  private pinged = false;
  private readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  private creds: Credentials | undefined | null = null;

  constructor(readonly registry: string, private readonly opts: RegistryClientOptions) {
    this.host = apiHost(registry);
  }

  /** scheme://host chosen by the ping (call after a request). */
  get baseUrl(): string {
    return this.base ?? `https://${this.host}`;
  }

  get insecure(): boolean {
    const list = this.opts.insecureRegistries ?? [];
    const bare = this.host.replace(/:\d+$/, '');
    return isLoopbackRegistry(this.host) || list.includes(this.host) || list.includes(bare);
  }

  private async credentials(): Promise<Credentials | undefined> {
    if (this.opts.credentials) return this.opts.credentials;
    if (this.creds === null) this.creds = await this.opts.authConfig.get(this.registry);
    return this.creds;
  }

  /** GET /v2/: picks the scheme and learns the auth challenge. */
  async ping(): Promise<void> {
    if (this.pinged) return;
    const schemes = this.insecure ? ['https', 'http'] : ['https'];
    let lastErr: unknown;
    for (const scheme of schemes) {
      try {
        const res = await fetch(`${scheme}://${this.host}/v2/`, { headers: this.baseHeaders(), signal: AbortSignal.timeout(30_000) });
        await res.body?.cancel();
        this.base = `${scheme}://${this.host}`;
        if (res.status === 401) {
          const h = res.headers.get('www-authenticate');
          this.challenge = h ? pickChallenge(parseChallenges(h)) : undefined;
        } else if (res.status !== 200 && res.status !== 404) {
          // Some registries answer /v2/ with 404 behind proxies; treat it as "no auth needed yet".
          throw this.statusError(res.status, `ping ${this.host}`, '');
        }
        this.pinged = true;
        return;
      } catch (e) {
        if (e instanceof BerthError) throw e;
        lastErr = e;
      }
    }
    throw new UnavailableError(
      `registry ${this.host} is unreachable${this.insecure ? ' over https and http' : ' over https (mark it insecure to allow http)'}: ${describeFetchError(lastErr)}`,
      { cause: lastErr },
    );
  }

  /** Checks the stored (or given) credentials by authenticating for `scope`. */
  async verifyLogin(scope: string[] = []): Promise<void> {
    await this.ping();
    if (!this.challenge) return;
    if (this.challenge.scheme === 'basic') {
      const res = await this.request('GET', '/v2/', { what: `log in to ${this.host}`, idempotent: true });
      await res.body?.cancel();
      if (res.status !== 200) throw this.statusError(res.status, `log in to ${this.host}`, '');
      return;
    }
    await this.bearerToken(scope);
  }

  private baseHeaders(): Record<string, string> {
    return { 'user-agent': this.opts.userAgent ?? 'berth/0.1' };
  }

  private async authHeader(scope: string[]): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = await this.credentials();
      return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
    }
    if (ch.scheme === 'bearer') return `Bearer ${await this.bearerToken(scope)}`;
    return undefined;
  }

  /** Token for `scope` from the challenge's realm (docker token auth spec). */
  private async bearerToken(scope: string[]): Promise<string> {
    const ch = this.challenge!;
    const key = scope.slice().sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now() + 5_000) return cached.token;
    const realm = ch.params['realm'];
    if (!realm) throw new PermissionDeniedError(`registry ${this.host} asked for a bearer token but named no realm`);
    const url = new URL(realm);
    if (ch.params['service']) url.searchParams.set('service', ch.params['service']);
    for (const s of scope) url.searchParams.append('scope', s);
    const headers: Record<string, string> = this.baseHeaders();
    const c = await this.credentials();
    if (c) headers['authorization'] = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new UnavailableError(`token server ${url.host} for registry ${this.host} is unreachable: ${describeFetchError(e)}`, { cause: e });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new PermissionDeniedError(
        `registry ${this.host}: token server refused ${c ? `the credentials of ${c.username}` : 'anonymous access'} for ${scope.join(' ') || 'login'}${c ? '' : '; run berth login'}`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UnavailableError(`registry ${this.host}: token server answered ${res.status}`);
    }
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new PermissionDeniedError(`registry ${this.host}: token server returned no token`);
    this.tokens.set(key, { token, expiresAt: Date.now() + (body.expires_in ?? 60) * 1000 });
    return token;
  }

  /** One HTTP exchange with auth and retries. The caller checks the status. */
  async request(method: string, pathOrUrl: string, o: RequestOptions): Promise<Response> {
    await this.ping();
    const attempts = o.idempotent === false ? 1 : this.opts.attempts ?? 4;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      const url = pathOrUrl.startsWith('http') ? pathOrUrl : `${this.base}${pathOrUrl}`;
      const headers: Record<string, string> = { ...this.baseHeaders(), ...(o.headers ?? {}) };
      // Only send credentials to the registry itself, never to a redirect target elsewhere.
      if (new URL(url).host === this.host) {
        const a = await this.authHeader(o.scope ?? []);
        if (a) headers['authorization'] = a;
      }
      let res: Response;
      try {
        const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'follow' };
        if (o.body !== undefined) {
          init.body = (Buffer.isBuffer(o.body) ? o.body : (Readable.toWeb(o.body) as unknown as ReadableStream)) as RequestInit['body'];
          init.duplex = 'half';
        }
        res = await fetch(url, init);
      } catch (e) {
        if (attempt < attempts && (o.body === undefined || Buffer.isBuffer(o.body))) {
          await sleep(200 * 2 ** attempt);
          continue;
        }
        throw new UnavailableError(`${o.what}: registry ${this.host} is unreachable: ${describeFetchError(e)}`, { cause: e });
      }
      if (res.status === 401 && !authRetried && (o.body === undefined || Buffer.isBuffer(o.body))) {
        // A new challenge (first contact, or an expired token): learn it and retry once.
        const h = res.headers.get('www-authenticate');
        await res.body?.cancel();
        if (h) {
          this.challenge = pickChallenge(parseChallenges(h)) ?? this.challenge;
          this.tokens.clear();
          authRetried = true;
          continue;
        }
        return res;
      }
      if ((res.status === 429 || res.status >= 500) && attempt < attempts && (o.body === undefined || Buffer.isBuffer(o.body))) {
        await res.body?.cancel();
        const ra = Number(res.headers.get('retry-after'));
        await sleep(Number.isFinite(ra) && ra > 0 ? Math.min(ra, 10) * 1000 : 250 * 2 ** attempt);
        continue;
      }
      return res;
    }
  }

  /** Maps a failed response to a berth error, including the registry's own error text. */
  async responseError(res: Response, what: string): Promise<BerthError> {
    let detail = '';
    try {
      const text = await res.text();
      try {
        const j = JSON.parse(text) as { errors?: Array<{ code?: string; message?: string }> };
        detail = (j.errors ?? []).map((e) => `${e.code ?? ''}: ${e.message ?? ''}`).join('; ');
      } catch {
        detail = text.slice(0, 200);
      }
    } catch {
      /* body unreadable: the status says enough */
    }
    return this.statusError(res.status, what, detail);
  }

  statusError(status: number, what: string, detail: string): BerthError {
    const d = detail ? ` (${detail})` : '';
    switch (status) {
      case 401:
        return new PermissionDeniedError(`${what}: registry ${this.host} requires authentication${d}; run berth login ${this.registry}`);
      case 403:
        return new PermissionDeniedError(`${what}: registry ${this.host} denied access${d}`);
      case 404:
        return new NotFoundError(`${what}: not found on registry ${this.host}${d}`);
      case 429:
        return new ResourceExhaustedError(`${what}: registry ${this.host} is rate limiting requests${d}; retry later`);
      case 400:
      case 405:
      case 413:
        return new InvalidArgumentError(`${what}: registry ${this.host} rejected the request with ${status}${d}`);
      default:
        return new UnavailableError(`${what}: registry ${this.host} answered ${status}${d}`);
    }
  }
}

function pickChallenge(list: Challenge[]): Challenge | undefined {
  return list.find((c) => c.scheme === 'bearer') ?? list.find((c) => c.scheme === 'basic') ?? list[0];
}

function describeFetchError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ? `${cause.code}${cause.message ? ` ${cause.message}` : ''}` : e.message;
}

/** Keeps one client per registry so tokens and the ping are shared. */
export class RegistryHosts {
  private readonly clients = new Map<string, RegistryClient>();
  constructor(readonly opts: RegistryClientOptions) {}
  get(registry: string): RegistryClient {
    let c = this.clients.get(registry);
    if (!c) {
      c = new RegistryClient(registry, this.opts);
      this.clients.set(registry, c);
    }
    return c;
  }
  /** Forgets cached tokens and credentials (after login). */
  reset(registry: string): void {
    this.clients.delete(registry);
  }
}
