// An OCI Distribution API v2 client for one registry (distribution-spec
// spec.md): manifests and blobs by repository, chunked and monolithic
// uploads, cross-repository mounts, and the Docker token flow.
//
// Transport rules, as Docker has them:
// - HTTPS always; plain HTTP only for registries marked insecure, which by
//   default are localhost and 127.0.0.0/8 (and ::1). For those we ping
//   https first and fall back to http, remembering the answer.
// - Mirrors and per-host TLS come from containerd's hosts.toml files
//   (hosts-config.ts): each request goes to the first endpoint with the
//   capability it needs (resolve, pull, push) that answers it, the server last.
// - The first /v2/ ping yields the WWW-Authenticate challenge. Basic: send the
//   stored credentials. Bearer: get a token from the realm for the scope
//   ("repository:<name>:pull[,push]") and cache it until it expires.
// - Idempotent requests retry on network errors, 429 and 5xx with backoff.
// - Status codes become berth errors naming the registry and the reference:
//   401/403 PermissionDenied, 404 NotFound, 429 ResourceExhausted, network
//   and 5xx Unavailable.
import { Readable } from 'node:stream';
import { rootCertificates as tlsRootCertificates } from 'node:tls';
import type * as Undici from 'undici';
import {
  BerthError, FailedPreconditionError, InvalidArgumentError, NotFoundError, PermissionDeniedError, ResourceExhaustedError, UnavailableError,
} from '@berth/errors';
import { parseChallenges, type Challenge } from './challenge.js';
import type { AuthConfig, Credentials } from './auth-config.js';
import { capabilityFor, hostsStamp, loadRegistryHosts, registryConfigDir, type RegistryEndpoint } from './hosts-config.js';

export interface RegistryClientOptions {
  authConfig: AuthConfig;
  /** Extra registries (host or host:port) allowed over plain HTTP. */
  insecureRegistries?: string[];
  /** Attempts for idempotent requests (default 4). */
  attempts?: number;
  userAgent?: string;
  /**
   * Credentials to use instead of the config file (login verifies these; a
   * pull may bring its own). Sent to the registry's own server only, never to
   * a mirror.
   */
  credentials?: Credentials;
  /**
   * The registry host configuration directory (hosts.toml per registry, hosts-config.ts); default
   * $BERTH_REGISTRY_CONFIG or /etc/berth/certs.d. Re-read when its files change.
   */
  hostsDir?: string;
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

/** How often, at most, a client looks at the host configuration's files again. */
const HOSTS_RECHECK_MS = 2000;

type Fetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** What a client learned about one endpoint (a mirror or the server): scheme, challenge, tokens. */
class EndpointSession {
  base: string | undefined;
  challenge: Challenge | undefined;
  pinged = false;
  readonly tokens = new Map<string, { token: string; expiresAt: number }>();
  creds: Credentials | undefined | null = null;
  readonly fetch: Fetch;

  constructor(readonly ep: RegistryEndpoint) {
    if (ep.skipVerify || ep.ca.length > 0) {
      // TLS settings of this endpoint only: undici's fetch with an agent of its
      // own. Loaded on the first such request: undici is ~95 modules and 7 MiB
      // of RSS that an idle daemon, or one pulling from plain endpoints, never
      // uses (docs/design/memory.md).
      let agent: Promise<{ undici: typeof Undici; dispatcher: Undici.Agent }> | undefined;
      this.fetch = async (url, init) => {
        agent ??= import('undici').then((undici) => ({
          undici,
          dispatcher: new undici.Agent({ connect: { rejectUnauthorized: !ep.skipVerify, ...(ep.ca.length > 0 ? { ca: [...tlsRootCertificates, ...ep.ca] } : {}) } }),
        }));
        const { undici, dispatcher } = await agent;
        return undici.fetch(url, { ...(init as object), dispatcher } as Parameters<typeof undici.fetch>[1]) as unknown as Response;
      };
    } else {
      this.fetch = (url, init) => fetch(url, init);
    }
  }

  /** The URL of an API path (/v2/...) on this endpoint, with the mirror's ?ns=. */
  url(path: string): string {
    const rest = path.startsWith('/v2') ? path.slice(3) : path;
    const u = `${this.base}${this.ep.prefix}${rest}`;
    if (!this.ep.namespace) return u;
    return `${u}${u.includes('?') ? '&' : '?'}ns=${encodeURIComponent(this.ep.namespace)}`;
  }
}

export class RegistryClient {
  readonly host: string;
  private sessions: EndpointSession[] | undefined;
  private stamp = '';
  private checkedAt = 0;
  private loading: Promise<EndpointSession[]> | undefined;
  /** The endpoint of the latest request: its scheme://host is what relative Locations resolve against. */
  private current: EndpointSession | undefined;

  constructor(readonly registry: string, private readonly opts: RegistryClientOptions) {
    this.host = apiHost(registry);
  }

  /** scheme://host of the endpoint that served the latest request (call after a request). */
  get baseUrl(): string {
    return this.current?.base ?? `https://${this.host}`;
  }

  get insecure(): boolean {
    const list = this.opts.insecureRegistries ?? [];
    const bare = this.host.replace(/:\d+$/, '');
    return isLoopbackRegistry(this.host) || list.includes(this.host) || list.includes(bare);
  }

  /** The endpoints to use, in order (mirrors, then the server), re-read when the config files change. */
  async endpoints(): Promise<EndpointSession[]> {
    const now = Date.now();
    if (this.sessions && now - this.checkedAt < HOSTS_RECHECK_MS) return this.sessions;
    this.loading ??= (async () => {
      try {
        const dir = this.opts.hostsDir ?? registryConfigDir();
        const stamp = await hostsStamp(dir, this.registry);
        if (!this.sessions || stamp !== this.stamp) {
          const loaded = await loadRegistryHosts(dir, this.registry, this.host, this.insecure);
          this.sessions = loaded.endpoints.map((ep) => new EndpointSession(ep));
          this.stamp = loaded.stamp;
        }
        this.checkedAt = Date.now();
        return this.sessions;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  private async credentials(s: EndpointSession): Promise<Credentials | undefined> {
    if (this.opts.credentials && s.ep.isServer) return this.opts.credentials;
    if (s.creds === null) s.creds = await this.opts.authConfig.get(s.ep.isServer ? this.registry : s.ep.host);
    return s.creds;
  }

  /** GET /v2/ on the registry's server: picks the scheme and learns the auth challenge. */
  async ping(): Promise<void> {
    const all = await this.endpoints();
    await this.pingEndpoint(all.find((s) => s.ep.isServer) ?? (all[0] as EndpointSession));
  }

  private async pingEndpoint(s: EndpointSession): Promise<void> {
    if (s.pinged) return;
    const host = s.ep.host;
    const configured = s.ep.origin.split('://')[0] as string;
    const schemes = s.ep.httpFallback || (s.ep.isServer && configured === 'https' && this.insecure) ? ['https', 'http'] : [configured];
    let lastErr: unknown;
    for (const scheme of schemes) {
      try {
        s.base = `${scheme}://${host}`;
        const res = await s.fetch(s.url('/v2/'), { headers: { ...this.baseHeaders(), ...s.ep.headers }, signal: AbortSignal.timeout(30_000) });
        await res.body?.cancel();
        if (res.status === 401) {
          const h = res.headers.get('www-authenticate');
          s.challenge = h ? pickChallenge(parseChallenges(h)) : undefined;
        } else if (res.status !== 200 && res.status !== 404) {
          // Some registries answer /v2/ with 404 behind proxies; treat it as "no auth needed yet".
          throw this.statusError(res.status, `ping ${host}`, '', host);
        }
        s.pinged = true;
        return;
      } catch (e) {
        s.base = undefined;
        if (e instanceof BerthError) throw e;
        lastErr = e;
      }
    }
    const how = schemes.length > 1 ? ' over https and http' : configured === 'http' ? ' over http' : s.ep.isServer ? ' over https (mark it insecure to allow http)' : ' over https';
    throw new UnavailableError(`registry ${host}${s.ep.isServer ? '' : ` (mirror of ${this.registry})`} is unreachable${how}: ${describeFetchError(lastErr)}`, {
      cause: lastErr,
    });
  }

  /** Checks the stored (or given) credentials by authenticating for `scope` on the registry's server. */
  async verifyLogin(scope: string[] = []): Promise<void> {
    const all = await this.endpoints();
    const s = all.find((e) => e.ep.isServer) ?? (all[0] as EndpointSession);
    await this.pingEndpoint(s);
    if (!s.challenge) return;
    if (s.challenge.scheme === 'basic') {
      const res = await this.requestOn(s, 'GET', '/v2/', { what: `log in to ${s.ep.host}`, idempotent: true });
      await res.body?.cancel();
      if (res.status !== 200) throw this.statusError(res.status, `log in to ${s.ep.host}`, '', s.ep.host);
      return;
    }
    await this.bearerToken(s, scope);
  }

  private baseHeaders(): Record<string, string> {
    return { 'user-agent': this.opts.userAgent ?? 'berth/0.1' };
  }

  private async authHeader(s: EndpointSession, scope: string[]): Promise<string | undefined> {
    const ch = s.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const c = await this.credentials(s);
      return c?.username ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}` : undefined;
    }
    if (ch.scheme === 'bearer') {
      const c = await this.credentials(s);
      return `Bearer ${c?.registryToken || (await this.bearerToken(s, scope))}`;
    }
    return undefined;
  }

  /** Token for `scope` from the challenge's realm (docker token auth spec). */
  private async bearerToken(s: EndpointSession, scope: string[]): Promise<string> {
    const ch = s.challenge!;
    const host = s.ep.host;
    const key = scope.slice().sort().join(' ');
    const cached = s.tokens.get(key);
    if (cached && cached.expiresAt > Date.now() + 5_000) return cached.token;
    const realm = ch.params['realm'];
    if (!realm) throw new PermissionDeniedError(`registry ${host} asked for a bearer token but named no realm`);
    const url = new URL(realm);
    if (ch.params['service']) url.searchParams.set('service', ch.params['service']);
    for (const sc of scope) url.searchParams.append('scope', sc);
    const headers: Record<string, string> = this.baseHeaders();
    const c = await this.credentials(s);
    // An identity token is exchanged with the OAuth2 refresh_token grant (a
    // POST), as Docker's client does; a user and password go as Basic on a GET.
    let init: RequestInit = { headers };
    if (c?.identityToken) {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: c.identityToken, client_id: 'berth' });
      if (ch.params['service']) form.set('service', ch.params['service']);
      if (scope.length) form.set('scope', scope.join(' '));
      init = { method: 'POST', headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() };
    } else if (c?.username) headers['authorization'] = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    let res: Response;
    try {
      res = await s.fetch(init.method === 'POST' ? new URL(realm) : url, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (e) {
      throw new UnavailableError(`token server ${url.host} for registry ${host} is unreachable: ${describeFetchError(e)}`, { cause: e });
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new PermissionDeniedError(
        `registry ${host}: token server refused ${c ? (c.username ? `the credentials of ${c.username}` : 'the identity token') : 'anonymous access'} for ${scope.join(' ') || 'login'}${c ? '' : '; run berth login'}`,
      );
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new UnavailableError(`registry ${host}: token server answered ${res.status}`);
    }
    const body = (await res.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new PermissionDeniedError(`registry ${host}: token server returned no token`);
    s.tokens.set(key, { token, expiresAt: Date.now() + (body.expires_in ?? 60) * 1000 });
    return token;
  }

  /**
   * One HTTP exchange with auth and retries, on the first endpoint (mirror or server) that has the
   * capability the request needs and answers it; the caller checks the status. A mirror that is
   * unreachable, refuses, or lacks the content (404, 5xx, 401/403) passes the request on to the next
   * endpoint, as containerd's resolver does; the last endpoint's answer (or error) is returned.
   */
  async request(method: string, pathOrUrl: string, o: RequestOptions): Promise<Response> {
    const all = await this.endpoints();
    if (pathOrUrl.startsWith('http')) {
      // An upload location or a redirect: stay on the endpoint that handed it out.
      const origin = new URL(pathOrUrl).origin;
      const s = all.find((e) => e.base === origin) ?? this.current ?? (all[all.length - 1] as EndpointSession);
      return this.requestOn(s, method, pathOrUrl, o);
    }
    const cap = capabilityFor(method, pathOrUrl, o.scope ?? []);
    const candidates = all.filter((s) => s.ep.capabilities.has(cap));
    if (candidates.length === 0) {
      throw new FailedPreconditionError(`${o.what}: no endpoint of registry ${this.registry} is configured to ${cap} (capabilities in ${registryConfigDir()}/${this.registry}/hosts.toml)`, {
        field: 'capabilities',
      });
    }
    const replayable = o.body === undefined || Buffer.isBuffer(o.body);
    for (let i = 0; i < candidates.length; i++) {
      const s = candidates[i] as EndpointSession;
      const last = i === candidates.length - 1 || !replayable;
      try {
        await this.pingEndpoint(s);
        const res = await this.requestOn(s, method, pathOrUrl, o);
        if (!last && (res.status === 404 || res.status === 401 || res.status === 403 || res.status === 429 || res.status >= 500)) {
          await res.body?.cancel();
          continue;
        }
        return res;
      } catch (e) {
        if (last) throw e;
      }
    }
    throw new UnavailableError(`${o.what}: no endpoint of registry ${this.registry} answered`);
  }

  private async requestOn(s: EndpointSession, method: string, pathOrUrl: string, o: RequestOptions): Promise<Response> {
    await this.pingEndpoint(s);
    this.current = s;
    const host = s.ep.host;
    const attempts = o.idempotent === false ? 1 : this.opts.attempts ?? 4;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      const url = pathOrUrl.startsWith('http') ? pathOrUrl : s.url(pathOrUrl);
      const headers: Record<string, string> = { ...this.baseHeaders(), ...s.ep.headers, ...(o.headers ?? {}) };
      // Only send credentials to the registry itself, never to a redirect target elsewhere.
      if (new URL(url).host === host) {
        const a = await this.authHeader(s, o.scope ?? []);
        if (a) headers['authorization'] = a;
      }
      let res: Response;
      try {
        const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'follow' };
        if (o.body !== undefined) {
          init.body = (Buffer.isBuffer(o.body) ? o.body : (Readable.toWeb(o.body) as unknown as ReadableStream)) as RequestInit['body'];
          init.duplex = 'half';
        }
        res = await s.fetch(url, init);
      } catch (e) {
        if (attempt < attempts && (o.body === undefined || Buffer.isBuffer(o.body))) {
          await sleep(200 * 2 ** attempt);
          continue;
        }
        throw new UnavailableError(`${o.what}: registry ${host} is unreachable: ${describeFetchError(e)}`, { cause: e });
      }
      if (res.status === 401 && !authRetried && (o.body === undefined || Buffer.isBuffer(o.body))) {
        // A new challenge (first contact, or an expired token): learn it and retry once.
        const h = res.headers.get('www-authenticate');
        await res.body?.cancel();
        if (h) {
          s.challenge = pickChallenge(parseChallenges(h)) ?? s.challenge;
          s.tokens.clear();
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

  statusError(status: number, what: string, detail: string, host = this.current?.ep.host ?? this.host): BerthError {
    const d = detail ? ` (${detail})` : '';
    switch (status) {
      case 401:
        return new PermissionDeniedError(`${what}: registry ${host} requires authentication${d}; run berth login ${host === this.host ? this.registry : host}`);
      case 403:
        return new PermissionDeniedError(`${what}: registry ${host} denied access${d}`);
      case 404:
        return new NotFoundError(`${what}: not found on registry ${host}${d}`);
      case 429:
        return new ResourceExhaustedError(`${what}: registry ${host} is rate limiting requests${d}; retry later`);
      case 400:
      case 405:
      case 413:
        return new InvalidArgumentError(`${what}: registry ${host} rejected the request with ${status}${d}`);
      default:
        return new UnavailableError(`${what}: registry ${host} answered ${status}${d}`);
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
  /** A client of its own for one pull's credentials: not cached, so nothing of them outlives the pull. */
  withCredentials(registry: string, credentials: Credentials): RegistryClient {
    return new RegistryClient(registry, { ...this.opts, credentials });
  }
  /** Forgets cached tokens and credentials (after login). */
  reset(registry: string): void {
    this.clients.delete(registry);
  }
}
