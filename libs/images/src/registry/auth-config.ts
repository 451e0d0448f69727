// Registry credentials on disk, in Docker's config.json shape:
//   { "auths": { "<registry>": { "auth": base64("user:password") } } }
// at ${BERTH_CONFIG:-~/.config/berth/auth.json}. Written atomically
// (temp file + rename) with mode 0600: it holds passwords.
import * as fs from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgumentError, fromNodeError } from '@berth/errors';

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token the token server exchanges for access tokens (Docker's identitytoken); a pull's own only. */
  identityToken?: string;
  /** A bearer token sent to the registry as it is; a pull's own only. */
  registryToken?: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  [k: string]: unknown;
}

export function defaultAuthConfigPath(): string {
  return process.env['BERTH_CONFIG'] ?? join(homedir(), '.config', 'berth', 'auth.json');
}

/** Keys a registry's credentials may be stored under (Docker Hub has historic spellings). */
function keysFor(registry: string): string[] {
  if (registry === 'docker.io' || registry === 'index.docker.io' || registry === 'registry-1.docker.io') {
    return ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io', 'registry-1.docker.io'];
  }
  return [registry, `https://${registry}`, `http://${registry}`];
}

export class AuthConfig {
  constructor(readonly path: string = defaultAuthConfigPath()) {}

  private async read(): Promise<AuthFile> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw fromNodeError(e, `read registry credentials ${this.path}`);
    }
    try {
      return JSON.parse(text) as AuthFile;
    } catch (e) {
      throw new InvalidArgumentError(`registry credentials file ${this.path} is not valid JSON: ${(e as Error).message}`, { field: this.path, cause: e });
    }
  }

  async get(registry: string): Promise<Credentials | undefined> {
    const file = await this.read();
    for (const k of keysFor(registry)) {
      const entry = file.auths?.[k];
      if (!entry) continue;
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
      }
      if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    }
    return undefined;
  }

  async set(registry: string, creds: Credentials): Promise<void> {
    const file = await this.read();
    const key = keysFor(registry)[0]!;
    file.auths = { ...(file.auths ?? {}), [key]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString('base64') } };
    await this.write(file);
  }

  async remove(registry: string): Promise<boolean> {
    const file = await this.read();
    let removed = false;
    for (const k of keysFor(registry)) {
      if (file.auths?.[k]) {
        delete file.auths[k];
        removed = true;
      }
    }
    if (removed) await this.write(file);
    return removed;
  }

  private async write(file: AuthFile): Promise<void> {
    await fs.mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.tmp-${process.pid}`;
    await fs.writeFile(tmp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
    await fs.rename(tmp, this.path);
  }
}
