// The Dockerfile's lines into instructions (moby/buildkit
// frontend/dockerfile/parser): parser directives at the top (`# escape=`,
// `# syntax=`), comments, line continuations with the escape character,
// `--flag=value` words after the instruction name, and the JSON (exec) form.
// Each node keeps the line it starts on: every error about it names that
// line as Docker does ("dockerfile parse error on line 3: ...").
import { InvalidArgumentError } from '@berth/errors';

export const INSTRUCTIONS = [
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL', 'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL',
  'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
] as const;
export type InstructionName = (typeof INSTRUCTIONS)[number];

export interface Node {
  /** Upper-case instruction name. */
  name: InstructionName;
  /** Line (1-based) the instruction starts on. */
  line: number;
  /** Leading --flags as written ("--from=build"). */
  flags: string[];
  /** What follows the name and flags, continuation lines joined with nothing between them. */
  rest: string;
  /** The arguments when `rest` is a JSON array of strings (exec form), else null. */
  json: string[] | null;
  /** The instruction as written (one line), for progress and history. */
  original: string;
}

export interface ParsedDockerfile {
  escape: string;
  nodes: Node[];
}

/** An error about line `line`, worded as Docker words it. */
export function parseError(line: number, message: string): InvalidArgumentError {
  return new InvalidArgumentError(`dockerfile parse error on line ${line}: ${message}`, { field: 'dockerfile' });
}

const DIRECTIVE = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/** Parses a Dockerfile's text. Throws InvalidArgumentError naming the line. */
export function parseDockerfile(text: string): ParsedDockerfile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  let escape = '\\';
  let i = 0;
  // Directives: only before anything else (a comment, blank line or instruction ends them).
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (seen.has(key)) throw parseError(i + 1, `only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === 'escape') {
      if (m[2] !== '\\' && m[2] !== '`') throw parseError(i + 1, `invalid escape token '${m[2]}' does not match ${'`'} or \\`);
      escape = m[2];
    }
  }
  const nodes: Node[] = [];
  while (i < lines.length) {
    const raw = lines[i]!;
    const start = i + 1;
    i++;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    let logical = raw.replace(/^\s+/, '');
    // Continuations: a line ending in the escape character goes on; comment and blank lines inside are skipped.
    while (endsWithEscape(logical, escape)) {
      logical = logical.replace(/\s*$/, '').slice(0, -1);
      let joined = false;
      while (i < lines.length) {
        const next = lines[i]!;
        i++;
        const t = next.trim();
        if (t.startsWith('#')) continue;
        if (t === '') continue;
        logical += next;
        joined = true;
        break;
      }
      if (!joined) break;
    }
    nodes.push(toNode(logical, start));
  }
  return { escape, nodes };
}

function endsWithEscape(s: string, escape: string): boolean {
  const t = s.replace(/\s+$/, '');
  return t.endsWith(escape);
}

function toNode(logical: string, line: number): Node {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(logical)!;
  const word = m[1]!;
  const name = word.toUpperCase();
  if (!(INSTRUCTIONS as readonly string[]).includes(name)) throw parseError(line, `unknown instruction: ${word}`);
  let rest = m[2]!;
  const flags: string[] = [];
  // Flags: words starting with "--" right after the name (ONBUILD's trigger carries its own).
  if (name !== 'ONBUILD') {
    for (;;) {
      const f = /^(--\S*)\s*/.exec(rest);
      if (!f) break;
      if (f[1] === '--') { rest = rest.slice(f[0].length); break; }
      flags.push(f[1]!);
      rest = rest.slice(f[0].length);
    }
  }
  rest = rest.replace(/\s+$/, '');
  return { name: name as InstructionName, line, flags, rest, json: parseJsonForm(rest), original: logical.replace(/\s+/g, ' ').trim() };
}

/** ["a", "b"] -> its strings; anything else (not an array of strings) -> null (shell form). */
export function parseJsonForm(rest: string): string[] | null {
  const t = rest.trim();
  if (!t.startsWith('[')) return null;
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch { /* shell form */ }
  return null;
}
