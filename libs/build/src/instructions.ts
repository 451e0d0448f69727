// Parser nodes into typed instructions and build stages (moby/buildkit
// frontend/dockerfile/instructions parse.go): each instruction's flags and
// argument count are checked here, with Docker's messages and the line.
// Variables are substituted later, when the stage's ARG/ENV values are known
// (evaluate.ts); what is kept here is the raw text of each argument.
import { parseDockerfile, parseError, type Node } from './parser';

export type Instruction =
  | { kind: 'FROM'; node: Node; image: string; stageName: string | null; platform: string }
  | { kind: 'RUN'; node: Node; exec: string[] | null; shell: string }
  | { kind: 'CMD' | 'ENTRYPOINT'; node: Node; exec: string[] | null; shell: string }
  | { kind: 'COPY' | 'ADD'; node: Node; sources: string[]; dest: string; from: string; chown: string; chmod: string }
  | { kind: 'ENV' | 'LABEL'; node: Node; pairs: [string, string][] }
  | { kind: 'ARG'; node: Node; args: { name: string; value: string | undefined }[] }
  | { kind: 'WORKDIR' | 'USER' | 'STOPSIGNAL' | 'MAINTAINER'; node: Node; value: string }
  | { kind: 'EXPOSE' | 'VOLUME'; node: Node; values: string[]; json: boolean }
  | { kind: 'SHELL'; node: Node; shell: string[] }
  | { kind: 'HEALTHCHECK'; node: Node; health: Healthcheck | null }
  | { kind: 'ONBUILD'; node: Node; trigger: string };

/** The image config's Healthcheck (durations in ns); null test = HEALTHCHECK NONE. */
export interface Healthcheck {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

export interface Stage {
  /** Lower-case name from `AS name`, or null. */
  name: string | null;
  index: number;
  from: Extract<Instruction, { kind: 'FROM' }>;
  instructions: Instruction[];
}

export interface Dockerfile {
  escape: string;
  /** ARG instructions before the first FROM (usable in FROM lines). */
  globalArgs: Extract<Instruction, { kind: 'ARG' }>[];
  stages: Stage[];
}

const STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** Parses and checks a whole Dockerfile into stages. */
export function loadDockerfile(text: string, file = 'Dockerfile'): Dockerfile {
  const { escape, nodes } = parseDockerfile(text);
  if (nodes.length === 0) throw parseError(1, `the Dockerfile (${file}) cannot be empty`);
  const globalArgs: Extract<Instruction, { kind: 'ARG' }>[] = [];
  const stages: Stage[] = [];
  for (const node of nodes) {
    const ins = parseInstruction(node, escape);
    if (ins.kind === 'FROM') {
      if (ins.stageName && stages.some((s) => s.name === ins.stageName)) throw parseError(node.line, `duplicate name ${ins.stageName}`);
      stages.push({ name: ins.stageName, index: stages.length, from: ins, instructions: [] });
      continue;
    }
    const stage = stages[stages.length - 1];
    if (!stage) {
      if (ins.kind === 'ARG') { globalArgs.push(ins); continue; }
      throw parseError(node.line, 'no build stage in current context');
    }
    stage.instructions.push(ins);
  }
  if (stages.length === 0) throw parseError(nodes[nodes.length - 1]!.line, 'no build stage in current context');
  return { escape, globalArgs, stages };
}

type FlagSpec = Record<string, 'string' | 'bool'>;

const FLAGS: Partial<Record<Node['name'], FlagSpec>> = {
  FROM: { platform: 'string' },
  COPY: { from: 'string', chown: 'string', chmod: 'string', link: 'bool' },
  ADD: { chown: 'string', chmod: 'string', link: 'bool' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

/** Docker's BFlags: --name=value (or --name for a bool); unknown names are refused. */
function parseFlags(node: Node): Map<string, string> {
  const spec = FLAGS[node.name] ?? {};
  const out = new Map<string, string>();
  for (const f of node.flags) {
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(f)!;
    const name = m[1]!;
    const type = spec[name];
    if (!type) {
      if (node.name === 'RUN' && ['mount', 'network', 'security'].includes(name)) {
        throw parseError(node.line, `RUN --${name} is a BuildKit extension berth build does not support`);
      }
      throw parseError(node.line, `unknown flag: ${name}`);
    }
    if (out.has(name)) throw parseError(node.line, `duplicate flag specified: ${name}`);
    if (type === 'string' && m[2] === undefined) throw parseError(node.line, `missing a value on flag: ${name}`);
    out.set(name, m[2] ?? 'true');
  }
  return out;
}

/** Splits on unquoted whitespace, keeping quotes and escapes for the later substitution. */
export function splitRawWords(s: string, escape: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === escape && q !== "'" && i + 1 < s.length) { cur += c + s[i + 1]; i++; inWord = true; continue; }
    if (q) { cur += c; if (c === q) q = null; continue; }
    if (c === '"' || c === "'") { q = c; cur += c; inWord = true; continue; }
    if (/\s/.test(c)) { if (inWord) out.push(cur); cur = ''; inWord = false; continue; }
    cur += c;
    inWord = true;
  }
  if (inWord) out.push(cur);
  return out;
}

/** KEY=VALUE pairs (or the legacy "KEY value with spaces" form of ENV/LABEL). */
function parseKeyValues(node: Node, escape: string): [string, string][] {
  const words = splitRawWords(node.rest, escape);
  if (words.length === 0) throw parseError(node.line, `${node.name} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    // Legacy form: the first word is the key, everything after the first whitespace the value.
    if (words.length < 2) throw parseError(node.line, `${node.name} must have two arguments`);
    const value = node.rest.trim().slice(words[0]!.length).trim();
    return [[words[0]!, value]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq < 0) throw parseError(node.line, `Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    if (eq === 0) throw parseError(node.line, `${node.name} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Go's time.ParseDuration, for HEALTHCHECK's options; ns. */
export function parseGoDuration(s: string): number | null {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let pos = 0;
  if (s === '') return null;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return null;
    total += Number(m[1]) * unit[m[2]!]!;
    pos = re.lastIndex;
  }
  return Math.round(total);
}

function healthDuration(node: Node, flags: Map<string, string>, name: string): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  const ns = parseGoDuration(v);
  if (ns === null) throw parseError(node.line, `time: invalid duration "${v}"`);
  if (ns !== 0 && ns < 1_000_000) throw parseError(node.line, `Interval "${name}" cannot be less than 1ms`);
  if (ns < 0) throw parseError(node.line, `Interval "${name}" cannot be negative`);
  return ns;
}

const exactlyOne = (node: Node, escape: string): string => {
  const words = splitRawWords(node.rest, escape);
  if (words.length !== 1) throw parseError(node.line, `${node.name} requires exactly one argument`);
  return words[0]!;
};

/** One node into its typed instruction; Docker's shape errors, naming the line. */
export function parseInstruction(node: Node, escape: string): Instruction {
  const flags = parseFlags(node);
  const atLeastOne = () => { if (node.rest.trim() === '') throw parseError(node.line, `${node.name} requires at least one argument`); };
  switch (node.name) {
    case 'FROM': {
      const words = splitRawWords(node.rest, escape);
      if (words.length !== 1 && words.length !== 3) throw parseError(node.line, 'FROM requires either one or three arguments');
      let stageName: string | null = null;
      if (words.length === 3) {
        if (words[1]!.toLowerCase() !== 'as') throw parseError(node.line, `FROM requires either one or three arguments (expected "AS name", got "${words[1]}")`);
        stageName = words[2]!.toLowerCase();
        if (!STAGE_NAME.test(stageName)) throw parseError(node.line, `invalid name for build stage: "${words[2]}", name can't start with a number or contain symbols`);
      }
      return { kind: 'FROM', node, image: words[0]!, stageName, platform: flags.get('platform') ?? '' };
    }
    case 'RUN': case 'CMD': case 'ENTRYPOINT':
      if (node.name === 'RUN') atLeastOne();
      return { kind: node.name, node, exec: node.json, shell: node.rest };
    case 'COPY': case 'ADD': {
      const words = node.json ?? splitRawWords(node.rest, escape);
      if (words.length < 2) {
        throw parseError(node.line, `${node.name} requires at least two arguments${words.length === 1 ? ', but only one was provided. Destination could not be determined.' : ''}`);
      }
      return {
        kind: node.name, node, sources: words.slice(0, -1), dest: words[words.length - 1]!,
        from: flags.get('from') ?? '', chown: flags.get('chown') ?? '', chmod: flags.get('chmod') ?? '',
      };
    }
    case 'ENV': case 'LABEL':
      return { kind: node.name, node, pairs: parseKeyValues(node, escape) };
    case 'ARG': {
      const words = splitRawWords(node.rest, escape);
      if (words.length === 0) throw parseError(node.line, 'ARG requires at least one argument');
      return {
        kind: 'ARG', node, args: words.map((w) => {
          const eq = w.indexOf('=');
          const name = eq < 0 ? w : w.slice(0, eq);
          if (name === '') throw parseError(node.line, 'ARG names can not be blank');
          return { name, value: eq < 0 ? undefined : w.slice(eq + 1) };
        }),
      };
    }
    case 'WORKDIR': case 'USER': case 'STOPSIGNAL':
      return { kind: node.name, node, value: exactlyOne(node, escape) };
    case 'MAINTAINER':
      atLeastOne();
      return { kind: 'MAINTAINER', node, value: node.rest.trim() };
    case 'EXPOSE':
      atLeastOne();
      return { kind: 'EXPOSE', node, values: splitRawWords(node.rest, escape), json: false };
    case 'VOLUME': {
      atLeastOne();
      const values = node.json ?? splitRawWords(node.rest, escape);
      if (values.length === 0) throw parseError(node.line, 'VOLUME requires at least one argument');
      if (values.some((v) => v.trim() === '')) throw parseError(node.line, 'VOLUME specified can not be an empty string');
      return { kind: 'VOLUME', node, values, json: node.json !== null };
    }
    case 'SHELL':
      if (node.json === null) throw parseError(node.line, 'SHELL requires the arguments to be in JSON form');
      if (node.json.length === 0) throw parseError(node.line, 'SHELL requires at least one argument');
      return { kind: 'SHELL', node, shell: node.json };
    case 'HEALTHCHECK': {
      const m = /^(\S+)\s*([\s\S]*)$/.exec(node.rest);
      if (!m) throw parseError(node.line, 'HEALTHCHECK requires at least one argument');
      const type = m[1]!.toUpperCase();
      if (type === 'NONE') {
        if (m[2]!.trim() !== '' || node.flags.length > 0) throw parseError(node.line, 'HEALTHCHECK NONE takes no arguments');
        return { kind: 'HEALTHCHECK', node, health: null };
      }
      if (type !== 'CMD') throw parseError(node.line, `Unknown type "${m[1]}" in HEALTHCHECK (try CMD)`);
      const rest = m[2]!.trim();
      if (rest === '') throw parseError(node.line, 'Missing command after HEALTHCHECK CMD');
      const json = node.json === null ? parseJsonOf(rest) : null;
      const health: Healthcheck = { Test: json ? ['CMD', ...json] : ['CMD-SHELL', rest] };
      const interval = healthDuration(node, flags, 'interval');
      const timeout = healthDuration(node, flags, 'timeout');
      const startPeriod = healthDuration(node, flags, 'start-period');
      const startInterval = healthDuration(node, flags, 'start-interval');
      if (interval !== undefined) health.Interval = interval;
      if (timeout !== undefined) health.Timeout = timeout;
      if (startPeriod !== undefined) health.StartPeriod = startPeriod;
      if (startInterval !== undefined) health.StartInterval = startInterval;
      const retries = flags.get('retries');
      if (retries !== undefined) {
        if (!/^-?\d+$/.test(retries)) throw parseError(node.line, `strconv.ParseInt: parsing "${retries}": invalid syntax`);
        if (Number(retries) < 0) throw parseError(node.line, `--retries cannot be negative (${retries})`);
        health.Retries = Number(retries);
      }
      return { kind: 'HEALTHCHECK', node, health };
    }
    case 'ONBUILD': {
      const trigger = node.rest.trim();
      if (trigger === '') throw parseError(node.line, 'ONBUILD requires at least one argument');
      const word = /^\S+/.exec(trigger)![0].toUpperCase();
      if (word === 'ONBUILD') throw parseError(node.line, 'Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed');
      if (word === 'FROM' || word === 'MAINTAINER') throw parseError(node.line, `${word} isn't allowed as an ONBUILD trigger`);
      // The trigger must itself be a valid instruction.
      const inner = parseDockerfile(`${'\n'.repeat(node.line - 1)}${trigger}`).nodes[0]!;
      parseInstruction(inner, escape);
      return { kind: 'ONBUILD', node, trigger };
    }
  }
}

function parseJsonOf(s: string): string[] | null {
  if (!s.startsWith('[')) return null;
  try {
    const v: unknown = JSON.parse(s);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch { /* shell form */ }
  return null;
}
