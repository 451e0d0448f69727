// Dockerfile word processing (moby/buildkit frontend/dockerfile/shell lex.go):
// how the arguments of ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL,
// USER, VOLUME, WORKDIR and ARG get their variables substituted. RUN, CMD
// and ENTRYPOINT are left to the container's shell.
//
// Rules kept from moby:
//  - $NAME and ${NAME}; ${NAME:-word} (word when unset or empty),
//    ${NAME-word} (when unset), ${NAME:+word} (word when set and non-empty),
//    ${NAME+word} (when set); an unknown variable is "".
//  - single quotes are literal, double quotes allow substitution; quotes are
//    removed from the result; the escape character (\ or the `# escape=`
//    directive's) makes the next character literal (and is kept before a
//    character that needs no escaping inside double quotes).
//  - word splitting (processWords) happens on unquoted whitespace only, and
//    before substitution: a variable's value never splits into two words.

export type Env = ReadonlyMap<string, string>;

export class LexError extends Error {}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

class Lexer {
  private i = 0;
  constructor(private readonly s: string, private readonly env: Env, private readonly escape: string) {}

  private peek(): string | undefined { return this.s[this.i]; }

  /** Words of the whole input (split on unquoted whitespace). */
  words(): string[] {
    const out: string[] = [];
    let cur = '';
    let inWord = false;
    while (this.i < this.s.length) {
      const c = this.s[this.i]!;
      if (/\s/.test(c)) {
        this.i++;
        if (inWord) { out.push(cur); cur = ''; inWord = false; }
        continue;
      }
      inWord = true;
      cur += this.unit();
    }
    if (inWord) out.push(cur);
    return out;
  }

  /** The whole input as one word (whitespace kept). */
  word(): string {
    let cur = '';
    while (this.i < this.s.length) cur += /\s/.test(this.s[this.i]!) ? this.s[this.i++]! : this.unit();
    return cur;
  }

  /** One quoted string, escaped character, variable or plain character. */
  private unit(): string {
    const c = this.s[this.i]!;
    if (c === "'") return this.single();
    if (c === '"') return this.double();
    if (c === this.escape) {
      this.i++;
      if (this.i >= this.s.length) return '';
      return this.s[this.i++]!;
    }
    if (c === '$') return this.dollar();
    this.i++;
    return c;
  }

  private single(): string {
    this.i++;
    const end = this.s.indexOf("'", this.i);
    if (end < 0) throw new LexError('unexpected end of statement while looking for matching single-quote');
    const v = this.s.slice(this.i, end);
    this.i = end + 1;
    return v;
  }

  private double(): string {
    this.i++;
    let out = '';
    for (;;) {
      if (this.i >= this.s.length) throw new LexError('unexpected end of statement while looking for matching double-quote');
      const c = this.s[this.i]!;
      if (c === '"') { this.i++; return out; }
      if (c === '$') { out += this.dollar(); continue; }
      if (c === this.escape) {
        const n = this.s[this.i + 1];
        if (n === undefined) { this.i++; continue; }
        // Inside double quotes only ", $, the escape character and newline are escapable (POSIX).
        if (n === '"' || n === '$' || n === this.escape || n === '\n') { out += n; this.i += 2; continue; }
        out += c;
        this.i++;
        continue;
      }
      out += c;
      this.i++;
    }
  }

  private dollar(): string {
    this.i++;
    const c = this.peek();
    if (c === '{') return this.braced();
    if (c !== undefined && NAME_START.test(c)) {
      let name = '';
      while (this.peek() !== undefined && NAME_CHAR.test(this.peek()!)) name += this.s[this.i++]!;
      return this.env.get(name) ?? '';
    }
    return '$';
  }

  private braced(): string {
    this.i++;
    let name = '';
    while (this.peek() !== undefined && NAME_CHAR.test(this.peek()!)) name += this.s[this.i++]!;
    if (name === '') throw new LexError(`bad substitution: missing variable name in \${...}`);
    const c = this.peek();
    if (c === undefined) throw new LexError(`syntax error: missing '}' in substitution of ${name}`);
    if (c === '}') { this.i++; return this.env.get(name) ?? ''; }
    let op = '';
    if (c === ':') { op = ':'; this.i++; }
    const m = this.peek();
    if (m !== '-' && m !== '+') throw new LexError(`unsupported modifier (${op}${m ?? ''}) in substitution of ${name}`);
    op += m;
    this.i++;
    // The word up to the matching brace, itself processed.
    let word = '';
    while (this.peek() !== '}') {
      if (this.peek() === undefined) throw new LexError(`syntax error: missing '}' in substitution of ${name}`);
      word += this.unit();
    }
    this.i++;
    const v = this.env.get(name);
    switch (op) {
      case ':-': return v === undefined || v === '' ? word : v;
      case '-': return v === undefined ? word : v;
      case ':+': return v === undefined || v === '' ? '' : word;
      default: return v === undefined ? '' : word; // "+"
    }
  }
}

/** The input with variables substituted and quotes removed, as one word. */
export function processWord(s: string, env: Env, escape = '\\'): string {
  return new Lexer(s, env, escape).word();
}

/** The input split into words on unquoted whitespace, each processed. */
export function processWords(s: string, env: Env, escape = '\\'): string[] {
  return new Lexer(s, env, escape).words();
}
