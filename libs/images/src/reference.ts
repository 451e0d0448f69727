// Image references, parsed and normalised exactly as Docker does
// (github.com/distribution/reference: regexp.go, reference.go, normalize.go).
//
// Grammar (reference.go):
//   reference        := name [ ":" tag ] [ "@" digest ]
//   name             := [domain '/'] remote-name
//   domain           := host [':' port-number]
//   host             := domain-name | IPv4address | \[ IPv6address \]
//   path-component   := alpha-numeric [separator alpha-numeric]*
//   tag              := /[\w][\w.-]{0,127}/
//
// Normalisation (normalize.go): a first path element is a domain only if it is
// "localhost", contains "." or ":", or has upper-case letters; otherwise the
// name lives on docker.io, and single-element docker.io names go under
// "library/". index.docker.io is folded into docker.io. "busybox" becomes
// docker.io/library/busybox:latest once the default tag is added.
import { InvalidArgumentError } from '@berth/errors';
import { digestProblem } from './digest.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
export const NAME_TOTAL_LENGTH_MAX = 255;

// --- regexp.go, transcribed. JS backtracking and RE2's leftmost-first
// semantics choose the same submatches for these patterns.
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const optionalPort = '(?::[0-9]+)?';
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const identifier = '([a-f0-9]{64})';
const ipv6address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const host = `(?:${domainName}|${ipv6address})`;
const domainAndPort = host + optionalPort;
const optional = (...r: string[]) => `(?:${r.join('')})?`;
const anyTimes = (...r: string[]) => `(?:${r.join('')})*`;
const capture = (...r: string[]) => `(${r.join('')})`;
const anchored = (...r: string[]) => new RegExp(`^${r.join('')}$`);
const pathComponent = alphanumeric + anyTimes(separator + alphanumeric);
const remoteName = pathComponent + anyTimes('/' + pathComponent);
const namePat = optional(domainAndPort + '/') + remoteName;

const referenceRegexp = anchored(capture(namePat), optional(':', capture(tagPat)), optional('@', capture(digestPat)));
const anchoredNameRegexp = anchored(optional(capture(domainAndPort), '/'), capture(remoteName));
const anchoredTagRegexp = anchored(tagPat);
const anchoredDigestRegexp = anchored(digestPat);
const anchoredIdentifierRegexp = anchored(identifier);

/** Go's error values, kept word for word so ported test tables can compare. */
export const ReferenceProblem = {
  InvalidFormat: 'invalid reference format',
  TagInvalidFormat: 'invalid tag format',
  DigestInvalidFormat: 'invalid digest format',
  NameContainsUppercase: 'repository name must be lowercase',
  NameEmpty: 'repository name must have at least one component',
  NameTooLong: `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`,
  NameNotCanonical: 'repository name must be canonical',
  DigestInvalidLength: 'invalid checksum digest length',
  DigestUnsupported: 'unsupported digest algorithm',
  DigestInvalidChecksumFormat: 'invalid checksum digest format',
  HexIdentifier: 'cannot specify 64-byte hexadecimal strings',
  NoName: 'reference has no name',
} as const;
export type ReferenceProblem = (typeof ReferenceProblem)[keyof typeof ReferenceProblem];

/** InvalidArgument for a reference; `reason` is one of ReferenceProblem. */
export class InvalidReferenceError extends InvalidArgumentError {
  readonly reason: ReferenceProblem;
  readonly reference: string;
  constructor(reference: string, reason: ReferenceProblem, detail?: string) {
    super(`invalid image reference ${JSON.stringify(reference)}: ${detail ?? reason}`, { field: 'reference' });
    this.reason = reason;
    this.reference = reference;
  }
}

/**
 * A parsed reference. `domain` is '' for names parsed without normalisation
 * that carry no domain; `path` is '' only for digest-only references.
 */
export class Reference {
  constructor(
    readonly domain: string,
    readonly path: string,
    readonly tag: string | undefined,
    readonly digest: string | undefined,
  ) {}

  /** domain/path, or just path when there is no domain. */
  get name(): string {
    return this.domain === '' ? this.path : `${this.domain}/${this.path}`;
  }
  get isNamed(): boolean {
    return this.path !== '';
  }
  get isNameOnly(): boolean {
    return this.tag === undefined && this.digest === undefined;
  }
  toString(): string {
    if (!this.isNamed) return this.digest ?? '';
    return this.name + (this.tag !== undefined ? `:${this.tag}` : '') + (this.digest !== undefined ? `@${this.digest}` : '');
  }
  /** The name as Docker's UI shows it: docker.io/ and library/ removed. */
  familiarName(): string {
    return familiarize(this).name;
  }
  familiarString(): string {
    return familiarize(this).toString();
  }
}

function familiarize(r: Reference): Reference {
  let domain = r.domain;
  let path = r.path;
  if (domain === DEFAULT_DOMAIN) {
    domain = '';
    if (path.startsWith(OFFICIAL_REPO_PREFIX)) {
      const rest = path.slice(OFFICIAL_REPO_PREFIX.length);
      if (!rest.includes('/')) path = rest;
    }
  }
  return new Reference(domain, path, r.tag, r.digest);
}

function checkDigest(input: string, d: string): void {
  const p = digestProblem(d);
  if (p) throw new InvalidReferenceError(input, p);
}

/** reference.Parse: syntax only, no normalisation (no default domain or tag). */
export function parseReference(s: string): Reference {
  if (s === '') throw new InvalidReferenceError(s, ReferenceProblem.NameEmpty);
  const m = referenceRegexp.exec(s);
  if (!m) {
    const lower = s.toLowerCase();
    if (lower !== s && referenceRegexp.test(lower)) throw new InvalidReferenceError(s, ReferenceProblem.NameContainsUppercase);
    throw new InvalidReferenceError(s, ReferenceProblem.InvalidFormat);
  }
  const nameMatch = anchoredNameRegexp.exec(m[1] ?? '');
  const domain = nameMatch ? nameMatch[1] ?? '' : '';
  const path = nameMatch ? nameMatch[2] ?? '' : m[1] ?? '';
  // The limit applies to the whole name (domain included), as the tables in
  // reference_test.go require ("a/"*128 + "a" is too long with domain "a").
  if ((m[1] ?? '').length > NAME_TOTAL_LENGTH_MAX) throw new InvalidReferenceError(s, ReferenceProblem.NameTooLong);
  const digest = m[3] || undefined;
  if (digest !== undefined) checkDigest(s, digest);
  if (path === '' && digest === undefined) throw new InvalidReferenceError(s, ReferenceProblem.NameEmpty);
  return new Reference(domain, path, m[2] || undefined, digest);
}

/** normalize.go splitDockerDomain. */
function splitDockerDomain(name: string): [string, string] {
  const slash = name.indexOf('/');
  if (slash < 0) return [DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name];
  const maybeDomain = name.slice(0, slash);
  const maybeRemote = name.slice(slash + 1);
  let domain: string;
  let remote: string;
  if (maybeDomain === 'localhost') [domain, remote] = [maybeDomain, maybeRemote];
  else if (maybeDomain === LEGACY_DEFAULT_DOMAIN) [domain, remote] = [DEFAULT_DOMAIN, maybeRemote];
  else if (/[.:]/.test(maybeDomain)) [domain, remote] = [maybeDomain, maybeRemote];
  else if (maybeDomain.toLowerCase() !== maybeDomain) [domain, remote] = [maybeDomain, maybeRemote];
  else [domain, remote] = [DEFAULT_DOMAIN, name];
  if (domain === DEFAULT_DOMAIN && !remote.includes('/')) remote = OFFICIAL_REPO_PREFIX + remote;
  return [domain, remote];
}

/** normalize.go ParseNormalizedNamed: "ubuntu" -> docker.io/library/ubuntu (no tag added). */
export function parseNormalizedNamed(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) {
    throw new InvalidReferenceError(s, ReferenceProblem.HexIdentifier, `invalid repository name (${s}), ${ReferenceProblem.HexIdentifier}`);
  }
  const [domain, remainder] = splitDockerDomain(s);
  const colon = remainder.indexOf(':');
  const remote = colon > -1 ? remainder.slice(0, colon) : remainder;
  if (remote.toLowerCase() !== remote) {
    throw new InvalidReferenceError(s, ReferenceProblem.NameContainsUppercase, `repository name (${remote}) must be lowercase`);
  }
  let ref: Reference;
  try {
    ref = parseReference(`${domain}/${remainder}`);
  } catch (e) {
    // Re-word with the caller's input, not our domain-prefixed string.
    if (e instanceof InvalidReferenceError) throw new InvalidReferenceError(s, e.reason);
    throw e;
  }
  if (!ref.isNamed) throw new InvalidReferenceError(s, ReferenceProblem.NoName);
  return ref;
}

/** reference.ParseNamed: s must already be in canonical (fully qualified) form. */
export function parseNamed(s: string): Reference {
  const n = parseNormalizedNamed(s);
  if (n.toString() !== s) throw new InvalidReferenceError(s, ReferenceProblem.NameNotCanonical);
  return n;
}

/** reference.TagNameOnly: adds ":latest" to a bare name. */
export function tagNameOnly(r: Reference): Reference {
  return r.isNameOnly ? new Reference(r.domain, r.path, DEFAULT_TAG, undefined) : r;
}

/**
 * normalize.go ParseDockerRef: normalised, ":latest" added to bare names, and
 * a reference with both tag and digest keeps only the digest. This is the
 * form berth stores image records under.
 */
export function parseDockerRef(s: string): Reference {
  const n = parseNormalizedNamed(s);
  if (n.tag !== undefined && n.digest !== undefined) return new Reference(n.domain, n.path, undefined, n.digest);
  return tagNameOnly(n);
}

/** normalize.go ParseAnyReference: a 64-hex identifier, a bare digest, or a familiar name. */
export function parseAnyReference(s: string): Reference {
  if (anchoredIdentifierRegexp.test(s)) return new Reference('', '', undefined, `sha256:${s}`);
  if (digestProblem(s) === undefined) return new Reference('', '', undefined, s);
  return parseNormalizedNamed(s);
}

/** reference.WithName: a name without normalisation. */
export function withName(name: string): Reference {
  const m = anchoredNameRegexp.exec(name);
  if (!m) throw new InvalidReferenceError(name, name === '' ? ReferenceProblem.NameEmpty : ReferenceProblem.InvalidFormat);
  if (name.length > NAME_TOTAL_LENGTH_MAX) throw new InvalidReferenceError(name, ReferenceProblem.NameTooLong);
  return new Reference(m[1] ?? '', m[2] ?? '', undefined, undefined);
}

/** reference.WithTag: keeps the digest if the name had one. */
export function withTag(name: Reference, tag: string): Reference {
  if (!anchoredTagRegexp.test(tag)) throw new InvalidReferenceError(`${name.name}:${tag}`, ReferenceProblem.TagInvalidFormat);
  return new Reference(name.domain, name.path, tag, name.digest);
}

/** reference.WithDigest: keeps the tag if the name had one. */
export function withDigest(name: Reference, digest: string): Reference {
  if (!anchoredDigestRegexp.test(digest)) throw new InvalidReferenceError(`${name.name}@${digest}`, ReferenceProblem.DigestInvalidFormat);
  return new Reference(name.domain, name.path, name.tag, digest);
}

/** reference.TrimNamed: the name alone. */
export function trimNamed(r: Reference): Reference {
  return new Reference(r.domain, r.path, undefined, undefined);
}

/** True when s is a valid tag (for `tag` arguments given apart from a name). */
export function isValidTag(s: string): boolean {
  return anchoredTagRegexp.test(s);
}

/**
 * Go's path.Match: '*' matches any run of non-'/' characters, '?' one
 * non-'/' character, '[...]' a class (with '^' or '!' negation and ranges),
 * '\\' escapes. Throws InvalidArgument on a malformed pattern, as Go returns
 * ErrBadPattern.
 */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) throw new InvalidArgumentError(`bad pattern ${JSON.stringify(pattern)}: trailing backslash`, { field: 'pattern' });
      re += escapeRe(pattern[i]!);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^' || pattern[j] === '!') {
        cls += '^';
        j++;
      }
      let closed = false;
      for (; j < pattern.length; j++) {
        let ch = pattern[j]!;
        if (ch === ']') {
          closed = true;
          break;
        }
        if (ch === '\\') {
          j++;
          ch = pattern[j] ?? '';
        }
        if (ch === '' || ch === '/') break;
        if (pattern[j + 1] === '-' && pattern[j + 2] !== undefined && pattern[j + 2] !== ']') {
          let hi = pattern[j + 2]!;
          let skip = 2;
          if (hi === '\\') {
            hi = pattern[j + 3] ?? '';
            skip = 3;
          }
          if (hi === '' || hi < ch) break;
          cls += `${escapeRe(ch)}-${escapeRe(hi)}`;
          j += skip;
        } else if (ch === '-') {
          // A bare '-' as a range bound start like "[-x]" is ErrBadPattern in Go.
          break;
        } else {
          cls += escapeRe(ch);
        }
      }
      if (!closed || cls === '' || cls === '^') throw new InvalidArgumentError(`bad pattern ${JSON.stringify(pattern)}: malformed character class`, { field: 'pattern' });
      re += `(?:(?!/)[${cls}])`;
      i = j;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$').test(name);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * normalize.go FamiliarMatch: the pattern is matched against the familiar
 * string (busybox:latest) and, failing that, the familiar name (busybox).
 * This is what `docker images --filter reference=...` uses.
 */
export function familiarMatch(pattern: string, r: Reference): boolean {
  if (pathMatch(pattern, r.familiarString())) return true;
  return r.isNamed && pathMatch(pattern, r.familiarName());
}
