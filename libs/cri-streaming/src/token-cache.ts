// One-time tokens for the URLs the streaming server hands out (kubelet's request_cache.go): a token
// names a cached CRI request, is valid for `ttlMs` and for one connection (consume removes it), and
// at most `max` are outstanding. Tokens are 16 random bytes, base64url: unguessable, so the URL is
// the only credential a client needs, as with kubelet.
import { randomBytes } from 'node:crypto';
import { ResourceExhaustedError } from '@berth/errors';

interface Entry<T> {
  value: T;
  expiresAt: number;
}

export class TokenCache<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Stores `value` and returns its token. Throws ResourceExhaustedError when `max` tokens are outstanding. */
  insert(value: T): string {
    this.sweep();
    if (this.entries.size >= this.max) {
      throw new ResourceExhaustedError(
        `too many streaming requests in flight (${this.max}); connect to the URLs already handed out or retry after ${Math.ceil(this.ttlMs / 1000)} s`,
      );
    }
    const token = randomBytes(16).toString('base64url');
    this.entries.set(token, { value, expiresAt: this.now() + this.ttlMs });
    return token;
  }

  /** The value of a live token, removing it; undefined for an unknown, used or expired one. */
  consume(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    this.entries.delete(token);
    return entry.expiresAt > this.now() ? entry.value : undefined;
  }

  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  // Every entry has the same ttl, so insertion order is expiry order: drop from the front.
  private sweep(): void {
    const now = this.now();
    for (const [token, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(token);
    }
  }
}
