// Where blobs came from (registry + repository), recorded on pull and push so
// a later push to the same registry can mount the blob across repositories
// instead of uploading it (distribution-spec "Mounting a blob from another
// repository"). containerd keeps the same facts as distribution.source labels.
import type { Db } from './metadata.js';

export class BlobSources {
  constructor(private readonly db: Db) {}

  add(digest: string, registry: string, repository: string): void {
    this.db.prepare('INSERT OR IGNORE INTO blob_sources (digest, registry, repository) VALUES (?, ?, ?)').run(digest, registry, repository);
  }

  /** Repositories on `registry` known to hold `digest`. */
  repositories(digest: string, registry: string): string[] {
    return (this.db.prepare('SELECT repository FROM blob_sources WHERE digest = ? AND registry = ?').all(digest, registry) as Array<{ repository: string }>).map(
      (r) => r.repository,
    );
  }
}
