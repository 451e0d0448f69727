// Path patterns of a build: COPY/ADD source globs (Go's filepath.Match, one
// path component per `*`) and .dockerignore (moby/patternmatcher: `**`
// crosses directories, `!` re-includes, the last matching line wins, and a
// pattern matching a directory excludes everything under it).
import { posix } from 'node:path';

/** A filepath.Match-style pattern (no "**") to a regular expression over one component or a whole path. */
function globToRegex(pattern: string, doubleStar: boolean): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (doubleStar && pattern[i + 1] === '*') {
        i++;
        // "**/" matches zero or more directories; a trailing "**" anything.
        if (pattern[i + 1] === '/') { i++; re += '(?:.*/)?'; } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) { re += '\\['; continue; }
      let cls = pattern.slice(i + 1, end);
      if (cls.startsWith('^') || cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < pattern.length) {
      re += escapeRe(pattern[++i]!);
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Whether `pattern` has glob characters. */
export const hasGlob = (pattern: string): boolean => /[*?[]/.test(pattern);

/** Go filepath.Match of a whole relative path ("a/*.txt" matches "a/x.txt", not "a/b/x.txt"). */
export function matchPath(pattern: string, path: string): boolean {
  return globToRegex(pattern, false).test(path);
}

export interface IgnoreRule {
  pattern: string;
  exclusion: boolean;
  re: RegExp;
}

/** .dockerignore's text into rules (comments and blank lines dropped, paths cleaned). */
export function parseDockerignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let exclusion = false;
    if (line.startsWith('!')) { exclusion = true; line = line.slice(1).trim(); }
    if (line === '') continue;
    let p = posix.normalize(line.replace(/^\/+/, ''));
    if (p === '.' || p === './') p = '.';
    p = p.replace(/\/+$/, '');
    rules.push({ pattern: p, exclusion, re: p === '.' ? /^.*$/ : globToRegex(p, true) });
  }
  return rules;
}

/**
 * Whether context path `rel` ("dir/file", no leading "./") is excluded:
 * the last rule matching the path or one of its parent directories decides.
 */
export function isIgnored(rules: IgnoreRule[], rel: string): boolean {
  if (rules.length === 0) return false;
  const parents: string[] = [];
  const parts = rel.split('/');
  for (let i = 1; i <= parts.length; i++) parents.push(parts.slice(0, i).join('/'));
  let ignored = false;
  for (const r of rules) {
    if (parents.some((p) => r.re.test(p))) ignored = !r.exclusion;
  }
  return ignored;
}

/**
 * Whether a directory must be walked even though it is ignored: a later
 * exclusion ("!dir/keep") may re-include something under it.
 */
export function mayReinclude(rules: IgnoreRule[], dir: string): boolean {
  return rules.some((r) => r.exclusion && (r.pattern.startsWith(`${dir}/`) || r.pattern.includes('*')));
}
