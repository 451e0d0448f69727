// Registry host configuration in containerd's hosts.toml format (containerd docs/hosts.md), read for
// every pull and push, whoever asks (the CLI, the Docker API gateway, the CRI):
//
//   <dir>/<registry host>/hosts.toml      dir: /etc/berth/certs.d, or $BERTH_REGISTRY_CONFIG
//   <dir>/_default/hosts.toml             for a registry without a directory of its own
//
//   server = "https://registry.k8s.io"    # the upstream; default https://<host> (docker.io: registry-1.docker.io)
//   [host."http://127.0.0.1:5000"]        # mirrors, tried in file order before the server
//     capabilities = ["pull", "resolve"]  # resolve: tag -> digest; pull: blobs and manifests by digest; push
//     skip_verify = true                  # TLS without verifying the certificate
//     ca = "ca.pem"                       # or a list; extra CAs (a relative path is relative to hosts.toml)
//     override_path = true                # the URL's path replaces /v2 (a mirror under a sub-path)
//     [host."http://127.0.0.1:5000".header]
//       x-mirror = "yes"
//
// A host's scheme decides plain HTTP vs TLS (http:// is plain, as containerd's plain-http). Without
// `capabilities` a host has all three. The server is tried last with the capabilities it is given
// (`capabilities` at the top level), all by default. `*.crt` files beside hosts.toml are extra CAs
// for every endpoint of that registry (Docker's certs.d convention, which containerd also reads).
// Requests to a mirror carry `?ns=<registry>` as containerd's do. Without any configuration a registry
// is its server alone, as before (with the loopback http fallback of client.ts).
import { readFile, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';

export type HostCapability = 'pull' | 'resolve' | 'push';
const ALL_CAPABILITIES: HostCapability[] = ['pull', 'resolve', 'push'];

export const DEFAULT_REGISTRY_CONFIG_DIR = '/etc/berth/certs.d';

/** Most bytes read from hosts.toml or a CA file. */
const MAX_CONFIG_FILE = 1 << 20;

/** One place to send registry requests for a registry: a mirror or the server itself. */
export interface RegistryEndpoint {
  /** scheme://host[:port], e.g. http://127.0.0.1:5000. */
  origin: string;
  /** host[:port]: credentials are looked up, and messages name it, by this. */
  host: string;
  /** The path the API lives under, '/v2' unless override_path. */
  prefix: string;
  capabilities: ReadonlySet<HostCapability>;
  skipVerify: boolean;
  /** Extra CA certificates (PEM) trusted for this endpoint. */
  ca: string[];
  headers: Record<string, string>;
  /** The registry's own server (not a mirror). */
  isServer: boolean;
  /** The upstream registry a mirror serves, sent as ?ns=; undefined for the server. */
  namespace?: string;
  /** Whether plain http may be tried after https (loopback registries without configuration). */
  httpFallback: boolean;
}

/** $BERTH_REGISTRY_CONFIG or /etc/berth/certs.d. */
export function registryConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['BERTH_REGISTRY_CONFIG'] || DEFAULT_REGISTRY_CONFIG_DIR;
}

async function readBounded(path: string, what: string): Promise<string | undefined> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw e;
  }
  if (!st.isFile()) throw new InvalidArgumentError(`${what} ${path} is not a regular file`, { field: path });
  if (st.size > MAX_CONFIG_FILE) throw new InvalidArgumentError(`${what} ${path} is ${st.size} bytes, more than the ${MAX_CONFIG_FILE} allowed`, { field: path });
  return readFile(path, 'utf8');
}

function parseCapabilities(v: unknown, field: string, file: string): Set<HostCapability> {
  if (v === undefined) return new Set(ALL_CAPABILITIES);
  if (!Array.isArray(v) || v.some((c) => typeof c !== 'string' || !ALL_CAPABILITIES.includes(c as HostCapability))) {
    throw new InvalidArgumentError(`${file}: ${field} must be a list of "pull", "resolve" and "push"`, { field });
  }
  return new Set(v as HostCapability[]);
}

function parseUrl(raw: string, field: string, file: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new InvalidArgumentError(`${file}: ${field} ${JSON.stringify(raw)} is not a URL (e.g. "http://127.0.0.1:5000")`, { field });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new InvalidArgumentError(`${file}: ${field} ${JSON.stringify(raw)} must be http:// or https://`, { field });
  }
  return u;
}

async function readCa(v: unknown, field: string, file: string, dir: string): Promise<string[]> {
  if (v === undefined) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.some((p) => typeof p !== 'string')) {
    throw new InvalidArgumentError(`${file}: ${field} must be a path or a list of paths to PEM files`, { field });
  }
  const out: string[] = [];
  for (const p of list as string[]) {
    const path = isAbsolute(p) ? p : join(dir, p);
    const pem = await readBounded(path, `${file}: ${field}`);
    if (pem === undefined) throw new InvalidArgumentError(`${file}: ${field} ${path} does not exist`, { field });
    out.push(pem);
  }
  return out;
}

function parseHeaders(v: unknown, field: string, file: string): Record<string, string> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InvalidArgumentError(`${file}: ${field} must be a table of header names to values`, { field });
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    const value = Array.isArray(val) ? val.join(', ') : val;
    if (typeof value !== 'string' || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(k)) {
      throw new InvalidArgumentError(`${file}: ${field}.${k} must be a string header value`, { field: `${field}.${k}` });
    }
    out[k.toLowerCase()] = value;
  }
  return out;
}

function endpointFromUrl(u: URL, overridePath: boolean): { origin: string; host: string; prefix: string } {
  const path = u.pathname.replace(/\/+$/, '');
  return { origin: u.origin, host: u.host, prefix: overridePath ? path : `${path}/v2` };
}

/** The endpoints of a registry with no configuration: its server, with http after https on loopback. */
export function defaultEndpoints(apiHost: string, loopback: boolean, extraCa: string[] = []): RegistryEndpoint[] {
  return [
    {
      origin: `https://${apiHost}`,
      host: apiHost,
      prefix: '/v2',
      capabilities: new Set(ALL_CAPABILITIES),
      skipVerify: false,
      ca: extraCa,
      headers: {},
      isServer: true,
      httpFallback: loopback,
    },
  ];
}

/**
 * Parses one hosts.toml. `registry` is the reference's domain (docker.io, registry.k8s.io),
 * `apiHost` its default server host, `dir` the file's directory (for relative CA paths).
 */
export async function parseHostsToml(text: string, file: string, registry: string, apiHost: string, dir: string, extraCa: string[] = []): Promise<RegistryEndpoint[]> {
  // smol-toml is an ES module; this package is CommonJS, so it comes in through import().
  const { parse: parseToml } = await import('smol-toml');
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    throw new InvalidArgumentError(`${file} is not valid TOML: ${(e as Error).message.split('\n')[0]}`, { field: file, cause: e });
  }
  const endpoints: RegistryEndpoint[] = [];
  const hosts = doc['host'];
  if (hosts !== undefined && (typeof hosts !== 'object' || hosts === null || Array.isArray(hosts))) {
    throw new InvalidArgumentError(`${file}: host must be tables, [host."http://mirror:5000"]`, { field: 'host' });
  }
  for (const [name, raw] of Object.entries((hosts ?? {}) as Record<string, unknown>)) {
    const field = `host."${name}"`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InvalidArgumentError(`${file}: ${field} must be a table`, { field });
    const h = raw as Record<string, unknown>;
    const u = parseUrl(name, field, file);
    if (h['skip_verify'] !== undefined && typeof h['skip_verify'] !== 'boolean') throw new InvalidArgumentError(`${file}: ${field}.skip_verify must be true or false`, { field: `${field}.skip_verify` });
    if (h['override_path'] !== undefined && typeof h['override_path'] !== 'boolean') throw new InvalidArgumentError(`${file}: ${field}.override_path must be true or false`, { field: `${field}.override_path` });
    endpoints.push({
      ...endpointFromUrl(u, h['override_path'] === true),
      capabilities: parseCapabilities(h['capabilities'], `${field}.capabilities`, file),
      skipVerify: h['skip_verify'] === true,
      ca: [...extraCa, ...(await readCa(h['ca'], `${field}.ca`, file, dir))],
      headers: parseHeaders(h['header'], `${field}.header`, file),
      isServer: false,
      namespace: registry,
      httpFallback: false,
    });
  }
  const server = doc['server'];
  if (server !== undefined && typeof server !== 'string') throw new InvalidArgumentError(`${file}: server must be a URL string`, { field: 'server' });
  if (doc['skip_verify'] !== undefined && typeof doc['skip_verify'] !== 'boolean') throw new InvalidArgumentError(`${file}: skip_verify must be true or false`, { field: 'skip_verify' });
  const serverUrl = parseUrl(server ?? `https://${apiHost}`, 'server', file);
  endpoints.push({
    ...endpointFromUrl(serverUrl, doc['override_path'] === true),
    capabilities: parseCapabilities(doc['capabilities'], 'capabilities', file),
    skipVerify: doc['skip_verify'] === true,
    ca: [...extraCa, ...(await readCa(doc['ca'], 'ca', file, dir))],
    headers: parseHeaders(doc['header'], 'header', file),
    isServer: true,
    httpFallback: false,
  });
  return endpoints;
}

/** A registry's configuration as read from disk, and a stamp that changes when the files do. */
export interface LoadedHosts {
  endpoints: RegistryEndpoint[];
  stamp: string;
}

/** Where a registry's configuration would be: its own directory, else _default. */
async function configDirFor(root: string, registry: string): Promise<string | undefined> {
  for (const name of [registry, '_default']) {
    if (name.includes('/') || name === '..' || name === '.') continue;
    const d = join(root, name);
    try {
      if ((await stat(d)).isDirectory()) return d;
    } catch {
      /* absent */
    }
  }
  return undefined;
}

/** Cheap check of what the configuration's files look like now (names, sizes, mtimes). */
export async function hostsStamp(root: string, registry: string): Promise<string> {
  const d = await configDirFor(root, registry);
  if (!d) return 'none';
  const parts = [d];
  for (const name of (await readdir(d)).sort()) {
    if (name !== 'hosts.toml' && !name.endsWith('.crt')) continue;
    try {
      const st = await stat(join(d, name));
      parts.push(`${name}:${st.size}:${st.mtimeMs}`);
    } catch {
      /* raced with a removal */
    }
  }
  return parts.join('|');
}

/** Reads the endpoints for `registry` from `root` (see the file header). */
export async function loadRegistryHosts(root: string, registry: string, apiHost: string, loopback: boolean): Promise<LoadedHosts> {
  const stamp = await hostsStamp(root, registry);
  const d = await configDirFor(root, registry);
  if (!d) return { endpoints: defaultEndpoints(apiHost, loopback), stamp };
  const extraCa: string[] = [];
  for (const name of (await readdir(d)).sort()) {
    if (!name.endsWith('.crt')) continue;
    const pem = await readBounded(join(d, name), 'CA file');
    if (pem !== undefined) extraCa.push(pem);
  }
  const file = join(d, 'hosts.toml');
  const text = await readBounded(file, 'registry host configuration');
  if (text === undefined) return { endpoints: defaultEndpoints(apiHost, loopback, extraCa), stamp };
  return { endpoints: await parseHostsToml(text, file, registry, apiHost, d, extraCa), stamp };
}

/**
 * Which capability a registry request needs: everything of a push (its scope asks for push, so even
 * its HEAD checks go where it writes) and any write is push; a manifest by tag or a tag list is
 * resolve; blobs and manifests by digest are pull.
 */
export function capabilityFor(method: string, path: string, scope: string[] = []): HostCapability {
  if (method !== 'GET' && method !== 'HEAD') return 'push';
  if (scope.some((s) => /:(?:[a-z*]+,)*(?:push|\*)(?:,|$)/.test(s))) return 'push';
  const m = /\/manifests\/([^/?]+)(?:\?.*)?$/.exec(path);
  if (m) return (m[1] ?? '').includes(':') ? 'pull' : 'resolve';
  if (/\/tags\/list(?:\?.*)?$/.test(path)) return 'resolve';
  return 'pull';
}
