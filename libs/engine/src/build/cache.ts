// The build cache's index: step key -> image ID (evaluate.ts says how a key
// is made). The engine owns it, in its state dir (build-cache.json, 0600);
// the images themselves are the images service's, so a hit is checked
// against it (an image removed or pruned since is a miss). Bounded: the
// oldest entries go past MAX_ENTRIES.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX_ENTRIES = 20_000;

export class BuildCache {
  private readonly file: string;
  private entries: Map<string, string> | null = null;

  constructor(stateDir: string) {
    this.file = join(stateDir, 'build-cache.json');
  }

  private load(): Map<string, string> {
    if (this.entries) return this.entries;
    try {
      const doc = JSON.parse(readFileSync(this.file, 'utf8')) as Record<string, string>;
      this.entries = new Map(Object.entries(doc).filter(([k, v]) => /^[0-9a-f]{64}$/.test(k) && typeof v === 'string'));
    } catch {
      // Missing or unreadable: an empty cache (it only makes builds faster).
      this.entries = new Map();
    }
    return this.entries;
  }

  get(key: string): string | null {
    return this.load().get(key) ?? null;
  }

  put(key: string, imageId: string): void {
    const m = this.load();
    m.delete(key);
    m.set(key, imageId);
    while (m.size > MAX_ENTRIES) m.delete(m.keys().next().value!);
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(m)), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
