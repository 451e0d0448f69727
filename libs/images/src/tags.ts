// docker pull --all-tags / skopeo list-tags: the tags of a repository on its
// registry (distribution spec "Listing Tags": GET /v2/<name>/tags/list,
// following `Link: <...>; rel="next"` pages).
import { InvalidArgumentError } from '@berth/errors';
import { parseNormalizedNamed } from './reference.js';
import type { TransferContext } from './transfer-context.js';

/** At most this many pages: a registry that keeps answering "next" is not followed forever. */
const MAX_PAGES = 1000;

/** The tags of `repository` ("busybox", "localhost:5000/team/app"), sorted. */
export async function listTags(ctx: TransferContext, repository: string, pageSize = 1000): Promise<string[]> {
  const ref = parseNormalizedNamed(repository);
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new InvalidArgumentError(`list tags of ${repository}: give a repository without a tag or digest`, { field: 'repository' });
  }
  const client = ctx.hosts.get(ref.domain);
  const what = `list tags of ${ref.domain}/${ref.path}`;
  const scope = [`repository:${ref.path}:pull`];
  const tags = new Set<string>();
  let next: string | undefined = `/v2/${ref.path}/tags/list?n=${pageSize}`;
  for (let page = 0; next && page < MAX_PAGES; page++) {
    const res = await client.request('GET', next, { scope, idempotent: true, what });
    if (!res.ok) throw await client.responseError(res, what);
    const body = (await res.json()) as { tags?: string[] | null };
    for (const t of body.tags ?? []) tags.add(t);
    next = nextPage(res.headers.get('link'), next);
  }
  return [...tags].sort();
}

/** The rel="next" target of a Link header, resolved against the request path; undefined on the last page. */
export function nextPage(link: string | null, current: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (!m) continue;
    const target = m[1]!;
    if (/^https?:\/\//.test(target)) return target;
    // Relative to the registry (usually "/v2/<name>/tags/list?last=...&n=..."): keep a path, the client adds the base.
    const u = new URL(target, `http://registry${current}`);
    return u.pathname + u.search;
  }
  return undefined;
}
