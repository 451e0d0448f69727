// docker commit: the new image's config is the container's (already merged
// with its image at create) with `--change` Dockerfile instructions applied
// (moby builder/dockerfile BuildFromConfig + daemon/commit.go merge). Only
// instructions that change the config are accepted, as in Docker.
import { posix } from 'node:path';
import { InvalidArgumentError } from '@berth/errors';
import type { ImageConfig } from './merge';
import type { ContainerConfig } from './types';

const ACCEPTED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];

/** The image-config view of a container's config. */
export function imageConfigOf(c: ContainerConfig): ImageConfig {
  return {
    user: c.user, exposedPorts: [...c.exposedPorts], env: [...c.env], entrypoint: c.entrypoint ? [...c.entrypoint] : null,
    cmd: c.cmd ? [...c.cmd] : null, volumes: [...c.volumes], workingDir: c.workingDir, labels: { ...c.labels }, stopSignal: c.stopSignal,
    // The container's healthcheck goes into the image, as Docker commits it.
    ...(c.healthcheck ? { healthcheck: { ...c.healthcheck, test: [...c.healthcheck.test] } } : {}),
  };
}

const bad = (change: string, why: string): never => {
  throw new InvalidArgumentError(`invalid --change "${change}": ${why}`, { field: 'change' });
};

/** JSON exec form ["a","b"] or shell form (-> /bin/sh -c "..."). */
function execOrShell(change: string, rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    let v: unknown;
    try { v = JSON.parse(t); } catch { return bad(change, 'not a valid JSON array'); }
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) return bad(change, 'expected a JSON array of strings');
    return v as string[];
  }
  if (t === '') return bad(change, 'missing command');
  return ['/bin/sh', '-c', t];
}

/** Splits k=v words honouring double/single quotes and backslash escapes. */
function splitWords(change: string, s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q: string | null = null;
  let any = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") { q = c; any = true; continue; }
    if (c === '\\' && i + 1 < s.length) { cur += s[++i]; any = true; continue; }
    if (/\s/.test(c)) { if (cur !== '' || any) out.push(cur); cur = ''; any = false; continue; }
    cur += c;
    any = true;
  }
  if (q) bad(change, 'unterminated quote');
  if (cur !== '' || any) out.push(cur);
  return out;
}

function pairs(change: string, rest: string, what: string): [string, string][] {
  const words = splitWords(change, rest);
  if (words.length === 0) bad(change, `missing ${what}`);
  // Legacy "ENV KEY value with spaces" form: first word has no "=".
  if (!words[0]!.includes('=')) {
    if (what === 'label') bad(change, 'expected key=value');
    if (words.length < 2) bad(change, `expected ${what} KEY=VALUE or KEY VALUE`);
    return [[words[0]!, rest.trim().slice(rest.trim().indexOf(words[0]!) + words[0]!.length).trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) return bad(change, `"${w}" is not KEY=VALUE`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Applies `changes` to a copy of `base`. */
export function applyChanges(base: ImageConfig, changes: string[]): ImageConfig {
  const c: ImageConfig = { ...base, env: [...base.env], labels: { ...base.labels }, exposedPorts: [...base.exposedPorts], volumes: [...base.volumes] };
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(change);
    if (!m) return bad(change, `expected an instruction (${ACCEPTED.join(', ')})`);
    const ins = m[1]!.toUpperCase();
    const rest = m[2]!;
    switch (ins) {
      case 'CMD': c.cmd = execOrShell(change, rest); break;
      case 'ENTRYPOINT': c.entrypoint = execOrShell(change, rest); break;
      case 'ENV':
        for (const [k, v] of pairs(change, rest, 'ENV')) {
          const i = c.env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) c.env[i] = `${k}=${v}`; else c.env.push(`${k}=${v}`);
        }
        break;
      case 'LABEL':
        for (const [k, v] of pairs(change, rest, 'label')) c.labels[k] = v;
        break;
      case 'EXPOSE':
        for (const p of splitWords(change, rest)) {
          const pm = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!pm || Number(pm[1]) < 1 || Number(pm[1]) > 65535) bad(change, `invalid port "${p}" (expected PORT[/tcp|udp|sctp])`);
          const key = `${pm![1]}/${(pm![2] ?? 'tcp').toLowerCase()}`;
          if (!c.exposedPorts.includes(key)) c.exposedPorts.push(key);
        }
        break;
      case 'USER':
        if (rest.trim() === '') bad(change, 'missing user');
        c.user = rest.trim();
        break;
      case 'WORKDIR':
        if (rest.trim() === '') bad(change, 'missing path');
        c.workingDir = posix.resolve(c.workingDir || '/', rest.trim());
        break;
      case 'VOLUME': {
        const t = rest.trim();
        const paths = t.startsWith('[') ? execOrShell(change, t) : splitWords(change, t);
        if (paths.length === 0) bad(change, 'missing path');
        for (const p of paths) if (!c.volumes.includes(p)) c.volumes.push(p);
        break;
      }
      case 'STOPSIGNAL':
        if (rest.trim() === '') bad(change, 'missing signal');
        c.stopSignal = rest.trim();
        break;
      case 'ONBUILD':
        break; // berth images carry no build triggers: accepted and ignored, as a no-op for commit
      default:
        bad(change, `${ins} cannot be applied by commit; accepted: ${ACCEPTED.join(', ')}`);
    }
  }
  return c;
}
