// Checks on tar entry names before anything touches the disk. berth REJECTS
// bad names rather than cleaning them as containerd does (containerd turns
// "/etc/x" and "../x" into "etc/x"): a layer that carries them was made by a
// broken or hostile tool, and refusing it names the entry for whoever has to
// fix the image. Limits are the kernel's: NAME_MAX per component, PATH_MAX
// for the whole path as the container will see it ("/" + name).
import { InvalidArgumentError } from '@berth/errors';

export const NAME_MAX = 255;
export const PATH_MAX = 4096;

/**
 * The entry's path relative to the layer root, "" for the root itself
 * ("./", ".", "/"). Throws InvalidArgument naming the entry for absolute paths,
 * ".." components, NUL bytes and names over NAME_MAX/PATH_MAX.
 * `what` says which field held the path (entry name or hardlink target).
 */
export function cleanEntryPath(path: string, entry: string, what = 'name'): string {
  const bad = (why: string) => new InvalidArgumentError(
    `tar entry "${clip(entry)}": ${what} ${why}; the layer was rejected and nothing was written (rebuild the image with a tool that writes relative paths)`,
    { field: entry },
  );
  if (path.includes('\0')) return thrown(bad('contains a NUL byte'));
  // "/" alone is the layer root itself, as "./" is (umoci and some Go tools write it); any other absolute name is refused.
  if (path.startsWith('/') && path.replace(/\/+$/, '') !== '') return thrown(bad(`"${clip(path)}" is absolute`));
  const parts: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') return thrown(bad(`"${clip(path)}" contains ".." and would leave the layer root`));
    if (Buffer.byteLength(c) > NAME_MAX) return thrown(bad(`has a component of ${Buffer.byteLength(c)} bytes, over NAME_MAX (${NAME_MAX})`));
    parts.push(c);
  }
  const rel = parts.join('/');
  if (Buffer.byteLength(rel) + 2 > PATH_MAX) return thrown(bad(`is ${Buffer.byteLength(rel) + 1} bytes, over PATH_MAX (${PATH_MAX})`));
  return rel;
}

function thrown(e: Error): never {
  throw e;
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

/** Parent of a relative path ("" for top-level entries). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

/** Last component of a relative path. */
export function baseOf(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}
