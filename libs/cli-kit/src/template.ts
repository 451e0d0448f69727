// The subset of Go's text/template that `docker --format` users rely on:
//   {{.Field}}  {{.Field.Sub}}  {{.}}  {{json .}}  {{json .Config}}
//   {{.Label "com.example"}} (function-valued fields are called with arguments)
//   pipelines {{.Names | upper}}, parentheses {{upper (join .Args " ")}}
//   {{if .X}}..{{else if .Y}}..{{else}}..{{end}}  {{range .X}}..{{else}}..{{end}}
//   {{range $k, $v := .Labels}}..{{end}}  {{with .X}}..{{end}}  $ and $var
//   trim markers {{- and -}}
//   functions: json, upper, lower, title, join, split, truncate, pad, println,
//   print, printf (%s %d %v %q), len, index, eq, ne, lt, le, gt, ge, not, and, or
// Values print as Go's fmt %v does: [a b] for lists, map[k:v] for objects
// (sorted keys), <no value> for null. A field missing on the row object is
// an error naming it (a typo in a column name), as Docker's typed contexts do.
import { InvalidArgumentError } from '@berth/errors';

type Node =
  | { t: 'text'; v: string }
  | { t: 'action'; p: Pipeline }
  | { t: 'if'; branches: { p: Pipeline; body: Node[] }[]; else: Node[] }
  | { t: 'range'; p: Pipeline; body: Node[]; else: Node[] }
  | { t: 'with'; p: Pipeline; body: Node[]; else: Node[] };

interface Pipeline { decl: string[]; cmds: Operand[][] }

type Operand =
  | { t: 'field'; base: 'dot' | string; path: string[] } // base: 'dot' or a variable name ("$" is root)
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'bool'; v: boolean }
  | { t: 'nil' }
  | { t: 'ident'; v: string }
  | { t: 'sub'; p: Pipeline };

const fail = (src: string, why: string): never => {
  throw new InvalidArgumentError(`template parsing error in "${src}": ${why}`, { field: 'format' });
};

// ---- lexing ------------------------------------------------------------------

function splitActions(src: string): ({ t: 'text'; v: string } | { t: 'act'; v: string })[] {
  const out: ({ t: 'text'; v: string } | { t: 'act'; v: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) { out.push({ t: 'text', v: src.slice(i) }); break; }
    let text = src.slice(i, open);
    let body: string;
    let close = open + 2;
    // Find the closing braces outside string literals.
    let q: string | null = null;
    for (; close < src.length; close++) {
      const c = src[close]!;
      if (q) { if (c === '\\' && q === '"') close++; else if (c === q) q = null; continue; }
      if (c === '"' || c === '`') q = c;
      else if (c === '}' && src[close + 1] === '}') break;
    }
    if (close >= src.length) fail(src, 'unclosed action');
    body = src.slice(open + 2, close);
    if (body.startsWith('- ') || body === '-') { text = text.replace(/\s+$/, ''); body = body.slice(1); }
    let trimRight = false;
    if (body.endsWith(' -')) { trimRight = true; body = body.slice(0, -1); }
    out.push({ t: 'text', v: text });
    out.push({ t: 'act', v: body.trim() });
    i = close + 2;
    if (trimRight) while (i < src.length && /\s/.test(src[i]!)) i++;
  }
  return out.filter((x) => !(x.t === 'text' && x.v === ''));
}

function lexOperands(src: string, s: string): (Operand | '|' | '(' | ')' | ':=' | ',')[] {
  const out: (Operand | '|' | '(' | ')' | ':=' | ',')[] = [];
  let i = 0;
  const fieldPath = (): string[] => {
    const path: string[] = [];
    while (s[i] === '.') {
      i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
      if (!m) { if (path.length === 0) return path; fail(src, `bad field after "." in "${s}"`); }
      path.push(m![0]);
      i += m![0].length;
    }
    return path;
  };
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) { i++; continue; }
    if (c === '|' || c === '(' || c === ')' || c === ',') { out.push(c); i++; continue; }
    if (s.startsWith(':=', i)) { out.push(':='); i += 2; continue; }
    if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      if (j >= s.length) fail(src, 'unterminated string');
      out.push({ t: 'str', v: JSON.parse(s.slice(i, j + 1)) as string });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = s.indexOf('`', i + 1);
      if (j < 0) fail(src, 'unterminated raw string');
      out.push({ t: 'str', v: s.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === '.') { out.push({ t: 'field', base: 'dot', path: fieldPath() }); continue; }
    if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(s.slice(i))!;
      i += m[0].length;
      out.push({ t: 'field', base: m[0], path: fieldPath() });
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(s.slice(i));
    if (num) { out.push({ t: 'num', v: Number(num[0]) }); i += num[0].length; continue; }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (id) {
      i += id[0].length;
      if (id[0] === 'true' || id[0] === 'false') out.push({ t: 'bool', v: id[0] === 'true' });
      else if (id[0] === 'nil') out.push({ t: 'nil' });
      else out.push({ t: 'ident', v: id[0] });
      continue;
    }
    fail(src, `unexpected "${c}" in "${s}"`);
  }
  return out;
}

function parsePipeline(src: string, toks: ReturnType<typeof lexOperands>): Pipeline {
  let k = 0;
  const decl: string[] = [];
  // "$a :=" or "$k, $v :="
  const declEnd = toks.indexOf(':=');
  if (declEnd >= 0) {
    for (const t of toks.slice(0, declEnd)) {
      if (t === ',') continue;
      if (typeof t === 'object' && t.t === 'field' && t.base !== 'dot' && t.path.length === 0) decl.push(t.base);
      else fail(src, 'bad variable declaration');
    }
    k = declEnd + 1;
  }
  const cmds: Operand[][] = [[]];
  while (k < toks.length) {
    const t = toks[k]!;
    if (t === '|') { cmds.push([]); k++; continue; }
    if (t === '(') {
      let depth = 1;
      let j = k + 1;
      for (; j < toks.length && depth > 0; j++) { if (toks[j] === '(') depth++; else if (toks[j] === ')') depth--; }
      if (depth !== 0) fail(src, 'unclosed "("');
      cmds[cmds.length - 1]!.push({ t: 'sub', p: parsePipeline(src, toks.slice(k + 1, j - 1)) });
      k = j;
      continue;
    }
    if (t === ')' || t === ',' || t === ':=') fail(src, `unexpected "${t}"`);
    cmds[cmds.length - 1]!.push(t as Operand);
    k++;
  }
  if (cmds.some((c) => c.length === 0)) fail(src, 'missing value in pipeline');
  return { decl, cmds };
}

// ---- parsing -----------------------------------------------------------------

/** A parsed template; execute() runs it on a data object. */
export class Template {
  private constructor(readonly source: string, private readonly nodes: Node[]) {}

  static parse(source: string): Template {
    const parts = splitActions(source);
    let pos = 0;
    const parseList = (stopAt: string[]): { nodes: Node[]; stop: string } => {
      const nodes: Node[] = [];
      while (pos < parts.length) {
        const p = parts[pos++]!;
        if (p.t === 'text') { nodes.push({ t: 'text', v: p.v }); continue; }
        const kw = /^(if|else if|else|end|range|with)\b/.exec(p.v)?.[1];
        if (kw === 'end' || kw === 'else' || kw === 'else if') {
          if (!stopAt.includes(kw)) fail(source, `unexpected {{${p.v}}}`);
          pos--; // let the caller consume it
          return { nodes, stop: kw };
        }
        if (kw === 'if' || kw === 'range' || kw === 'with') {
          const pipe = parsePipeline(source, lexOperands(source, p.v.slice(kw.length)));
          const body = parseList(['end', 'else', 'else if']);
          let elseNodes: Node[] = [];
          const branches = [{ p: pipe, body: body.nodes }];
          let stop = body.stop;
          while (stop === 'else if' && kw === 'if') {
            const a = parts[pos++]! as { v: string };
            const bp = parsePipeline(source, lexOperands(source, a.v.slice('else if'.length)));
            const b = parseList(['end', 'else', 'else if']);
            branches.push({ p: bp, body: b.nodes });
            stop = b.stop;
          }
          if (stop === 'else') {
            pos++;
            const e = parseList(['end']);
            elseNodes = e.nodes;
            stop = e.stop;
          }
          if (stop !== 'end') fail(source, `missing {{end}} for {{${kw}}}`);
          pos++; // consume end
          if (kw === 'if') nodes.push({ t: 'if', branches, else: elseNodes });
          else nodes.push({ t: kw, p: pipe, body: body.nodes, else: elseNodes });
          continue;
        }
        nodes.push({ t: 'action', p: parsePipeline(source, lexOperands(source, p.v)) });
      }
      if (stopAt.length) fail(source, 'unexpected end of template, missing {{end}}');
      return { nodes, stop: '' };
    };
    return new Template(source, parseList([]).nodes);
  }

  /**
   * Runs the template. `strictRoot`: a field missing on the root object is
   * an error (row contexts); deeper lookups print <no value> like Go maps.
   */
  execute(data: unknown, opts: { strictRoot?: boolean } = {}): string {
    const out: string[] = [];
    const vars = new Map<string, unknown>([['$', data]]);
    const run = (nodes: Node[], dot: unknown): void => {
      for (const n of nodes) {
        switch (n.t) {
          case 'text': out.push(n.v); break;
          case 'action': {
            const v = this.evalPipeline(n.p, dot, vars, data, opts.strictRoot ?? false);
            if (n.p.decl.length === 0) out.push(goString(v));
            break;
          }
          case 'if': {
            const hit = n.branches.find((b) => truthy(this.evalPipeline(b.p, dot, vars, data, opts.strictRoot ?? false)));
            run(hit ? hit.body : n.else, dot);
            break;
          }
          case 'with': {
            const v = this.evalPipeline({ ...n.p, decl: [] }, dot, vars, data, opts.strictRoot ?? false);
            if (truthy(v)) run(n.body, v); else run(n.else, dot);
            break;
          }
          case 'range': {
            const v = this.evalPipeline({ ...n.p, decl: [] }, dot, vars, data, opts.strictRoot ?? false);
            const entries: [unknown, unknown][] = Array.isArray(v)
              ? v.map((x, i) => [i, x])
              : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]) : [];
            if (entries.length === 0) { run(n.else, dot); break; }
            for (const [k, x] of entries) {
              if (n.p.decl.length === 1) vars.set(n.p.decl[0]!, x);
              if (n.p.decl.length === 2) { vars.set(n.p.decl[0]!, k); vars.set(n.p.decl[1]!, x); }
              run(n.body, x);
            }
            break;
          }
        }
      }
    };
    run(this.nodes, data);
    return out.join('');
  }

  private evalPipeline(p: Pipeline, dot: unknown, vars: Map<string, unknown>, root: unknown, strict: boolean): unknown {
    let acc: unknown;
    let first = true;
    for (const cmd of p.cmds) {
      acc = this.evalCommand(cmd, dot, vars, root, strict, first ? undefined : { v: acc });
      first = false;
    }
    for (const d of p.decl) vars.set(d, acc);
    return acc;
  }

  private evalCommand(cmd: Operand[], dot: unknown, vars: Map<string, unknown>, root: unknown, strict: boolean, piped?: { v: unknown }): unknown {
    const head = cmd[0]!;
    const arg = (o: Operand): unknown => this.evalOperand(o, dot, vars, root, strict);
    if (head.t === 'ident') {
      const fn = FUNCS[head.v];
      if (!fn) throw new InvalidArgumentError(`template: function "${head.v}" not defined in "${this.source}"`, { field: 'format' });
      const args = cmd.slice(1).map(arg);
      if (piped) args.push(piped.v);
      return fn(...args);
    }
    const v = arg(head);
    if (typeof v === 'function') {
      const args = cmd.slice(1).map(arg);
      if (piped) args.push(piped.v);
      return (v as (...a: unknown[]) => unknown)(...args);
    }
    if (cmd.length > 1 || piped) throw new InvalidArgumentError(`template: can't give argument to non-function in "${this.source}"`, { field: 'format' });
    return v;
  }

  private evalOperand(o: Operand, dot: unknown, vars: Map<string, unknown>, root: unknown, strict: boolean): unknown {
    switch (o.t) {
      case 'str': case 'num': case 'bool': return o.v;
      case 'nil': return null;
      case 'ident': {
        const fn = FUNCS[o.v];
        if (!fn) throw new InvalidArgumentError(`template: function "${o.v}" not defined in "${this.source}"`, { field: 'format' });
        return fn();
      }
      case 'sub': return this.evalPipeline(o.p, dot, vars, root, strict);
      case 'field': {
        let v: unknown;
        if (o.base === 'dot') v = dot;
        else {
          if (!vars.has(o.base)) throw new InvalidArgumentError(`template: undefined variable "${o.base}" in "${this.source}"`, { field: 'format' });
          v = vars.get(o.base);
        }
        for (const [i, key] of o.path.entries()) {
          if (v === null || v === undefined) return null;
          if (typeof v !== 'object') throw new InvalidArgumentError(`template: can't evaluate field ${key} in type ${typeof v} in "${this.source}"`, { field: 'format' });
          if (!(key in (v as object))) {
            if (strict && i === 0 && v === root) {
              throw new InvalidArgumentError(`template: can't evaluate field ${key}: no such field (in "${this.source}")`, { field: 'format' });
            }
            return null;
          }
          const next = (v as Record<string, unknown>)[key];
          v = typeof next === 'function' ? (next as (...a: unknown[]) => unknown).bind(v) : next;
        }
        return v;
      }
    }
  }
}

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Go's fmt %v for JSON-ish values. */
export function goString(v: unknown): string {
  if (v === null || v === undefined) return '<no value>';
  if (Array.isArray(v)) return `[${v.map(goInner).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.keys(v).sort().map((k) => `${k}:${goInner((v as Record<string, unknown>)[k])}`).join(' ')}]`;
  return String(v);
}
const goInner = (v: unknown): string => (v === null || v === undefined ? '<nil>' : goString(v));

const cmpArgs = (a: unknown, b: unknown): number => (typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b)));

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  json: (v) => JSON.stringify(v ?? null),
  upper: (s) => String(s ?? '').toUpperCase(),
  lower: (s) => String(s ?? '').toLowerCase(),
  title: (s) => String(s ?? '').replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (a, sep) => (Array.isArray(a) ? a.map((x) => goString(x)).join(String(sep)) : goString(a)),
  split: (s, sep) => String(s).split(String(sep)),
  truncate: (s, n) => { const r = [...String(s)]; return r.length > Number(n) ? r.slice(0, Number(n)).join('') : String(s); },
  pad: (s, l, r) => `${' '.repeat(Number(l))}${String(s)}${' '.repeat(Number(r))}`,
  println: (...a) => `${a.map(goString).join(' ')}\n`,
  print: (...a) => a.map(goString).join(''),
  printf: (f, ...a) => {
    let i = 0;
    return String(f).replace(/%[sdvq%]/g, (m) => {
      if (m === '%%') return '%';
      const x = a[i++];
      return m === '%q' ? JSON.stringify(String(x)) : goString(x);
    });
  },
  len: (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : v && typeof v === 'object' ? Object.keys(v).length : 0),
  index: (v, ...keys) => keys.reduce<unknown>((acc, k) => (acc && typeof acc === 'object' ? (acc as Record<string, unknown>)[String(k)] ?? null : null), v),
  eq: (a, ...b) => b.some((x) => x === a),
  ne: (a, b) => a !== b,
  lt: (a, b) => cmpArgs(a, b) < 0,
  le: (a, b) => cmpArgs(a, b) <= 0,
  gt: (a, b) => cmpArgs(a, b) > 0,
  ge: (a, b) => cmpArgs(a, b) >= 0,
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
};

/** Docker accepts a literal backslash-t / backslash-n in formats for tab / newline. */
export function unescapeFormat(format: string): string {
  return format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
}
