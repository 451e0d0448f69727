// Runs a parsed Dockerfile on a BuildBackend, step by step, as Docker's
// builder does.
//
// Order of a build:
//  1. the target stage (--target, else the last) and the stages it needs
//     (FROM <stage>, COPY --from=<stage|index>); others are skipped.
//  2. global ARGs (before the first FROM) are evaluated; FROM lines expand
//     with them only.
//  3. each needed stage in file order: FROM resolves the base (an earlier
//     stage's result, scratch, or a local image, pulled when missing or with
//     --pull) and runs its ONBUILD triggers; then each instruction is one
//     step producing one image (a config-only commit for metadata, a layer
//     for RUN/COPY/ADD), so the history has one entry per instruction.
//  4. the target's image gets --label labels and the -t names.
//
// The cache (Docker's classic rule): a step's key is sha256 of the parent
// image ID, the instruction with its variables substituted, the build args
// RUN sees, and for COPY/ADD a digest of the copied files' names, modes and
// contents (copy-plan.ts). A key the backend knows, whose image still
// exists, is a hit: the step prints CACHED and its image is the next parent.
// --no-cache looks nothing up (results are still recorded).
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@berth/errors';
import { RootView } from '@berth/tar';
import type { BuildBackend, CommitStep, ImageState, OciConfig } from './backend';
import { copyParts, planCopy, workdirParts, type CopyRequest } from './copy-plan';
import { loadDockerfile, parseInstruction, type Dockerfile, type Instruction, type Stage } from './instructions';
import { parseDockerfile, parseError } from './parser';
import type { IgnoreRule } from './patterns';
import { LexError, processWord, processWords } from './shell-lex';

export interface BuildOptions {
  /** Dockerfile text and its name (for messages). */
  dockerfile: string;
  dockerfileName?: string;
  /** The extracted build context. */
  context: RootView;
  ignore: IgnoreRule[];
  buildArgs: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  labels?: Record<string, string>;
  tags?: string[];
  /** Progress lines and RUN output (RUN output waits for a promise it returns: back-pressure). */
  progress: (chunk: Buffer | string) => void | Promise<unknown>;
}

export interface BuildResult {
  imageId: string;
  /** Steps answered from the cache, and steps run. */
  cached: number;
  built: number;
  /** --build-arg names no ARG consumed (Docker warns). */
  unusedArgs: string[];
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Docker's build args usable without an ARG line (proxies), never in history. */
const PREDEFINED_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

const short = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12);
const sha = (parts: unknown[]): string => createHash('sha256').update(JSON.stringify(parts)).digest('hex');

function copyConfig(c: OciConfig): OciConfig {
  return JSON.parse(JSON.stringify(c)) as OciConfig;
}

/** KEY of "KEY=value". */
const envKey = (e: string): string => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);

function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => envKey(e) !== key);
  const i = env.findIndex((e) => envKey(e) === key);
  const entry = `${key}=${value}`;
  if (i >= 0) { out.splice(i, 0, entry); return out; }
  return [...out, entry];
}

/** Which stages the target needs, by index (FROM <stage>, COPY --from). */
function neededStages(df: Dockerfile, target: number, fromOf: (s: Stage) => string): Set<number> {
  const need = new Set<number>();
  const visit = (i: number): void => {
    if (need.has(i)) return;
    need.add(i);
    const s = df.stages[i]!;
    const base = stageIndex(df, fromOf(s), i);
    if (base !== null) visit(base);
    for (const ins of s.instructions) {
      if ((ins.kind === 'COPY' || ins.kind === 'ADD') && ins.from) {
        const j = stageIndex(df, ins.from, i);
        if (j === i) throw parseError(ins.node.line, `circular dependency detected on stage: ${s.name ?? i}`);
        if (j !== null) visit(j);
      }
    }
  };
  visit(target);
  return need;
}

/** The earlier stage `ref` names (by name or index), or null for an image. */
function stageIndex(df: Dockerfile, ref: string, before: number): number | null {
  const r = ref.toLowerCase();
  const byName = df.stages.findIndex((s) => s.name === r);
  if (byName >= 0 && byName < before) return byName;
  if (byName === before) return before;
  if (/^\d+$/.test(ref)) {
    const i = Number(ref);
    if (i < before) return i;
    throw new InvalidArgumentError(`invalid from flag value ${ref}: refers to current build stage or one after it`, { field: 'dockerfile' });
  }
  return null;
}

/** Runs the build; resolves with the target image's ID. */
export async function runBuild(backend: BuildBackend, o: BuildOptions): Promise<BuildResult> {
  const df = loadDockerfile(o.dockerfile, o.dockerfileName);
  const out = (text: string): void => { void o.progress(text); };
  const buildArgs = new Map(Object.entries(o.buildArgs));
  const usedArgs = new Set<string>();

  // Global ARGs: values from --build-arg, else their defaults (expanded with the ARGs before them).
  const globals = new Map<string, string>();
  for (const ins of df.globalArgs) {
    for (const a of ins.args) {
      const v = buildArgs.get(a.name) ?? (a.value !== undefined ? expandWord(ins, a.value, globals, df.escape) : undefined);
      if (buildArgs.has(a.name)) usedArgs.add(a.name);
      if (v !== undefined) globals.set(a.name, v);
    }
  }
  const fromOf = (s: Stage): string => expandWord(s.from, s.from.image, globals, df.escape);
  let target = df.stages.length - 1;
  if (o.target) {
    target = df.stages.findIndex((s) => s.name === o.target!.toLowerCase());
    if (target < 0) throw new InvalidArgumentError(`target stage "${o.target}" could not be found`, { field: 'target' });
  }
  const need = neededStages(df, target, fromOf);
  const total = [...need].reduce((n, i) => n + 1 + df.stages[i]!.instructions.length, 0) + (o.labels && Object.keys(o.labels).length ? 1 : 0);
  let step = 0;
  let cached = 0;
  let built = 0;
  const results = new Map<number, ImageState>();
  let last: ImageState | null = null;

  for (const i of [...need].sort((a, b) => a - b)) {
    const stage = df.stages[i]!;
    step++;
    const fromRef = fromOf(stage);
    out(`Step ${step}/${total} : FROM ${fromRef}${stage.name ? ` AS ${stage.name}` : ''}\n`);
    let state: ImageState;
    const base = stageIndex(df, fromRef, i);
    if (base !== null && base !== i) state = results.get(base)!;
    else if (fromRef.toLowerCase() === 'scratch') state = { id: '', config: {} };
    else {
      if (fromRef === '') throw parseError(stage.from.node.line, 'base name (' + stage.from.image + ') should not be blank');
      state = await backend.resolveImage(fromRef, o.pull === true);
    }
    out(` ---> ${state.id ? short(state.id) : 'scratch'}\n`);
    const ctx: StageContext = {
      backend, o, df, state: { id: state.id, config: copyConfig(state.config) }, args: new Map(), buildArgs, usedArgs, globals,
      cmdSet: false, results,
    };
    // ONBUILD triggers of the base run first, and are not inherited (Docker clears them).
    const triggers = ctx.state.config.OnBuild ?? [];
    if (triggers.length) {
      ctx.state.config.OnBuild = null;
      for (const t of triggers) {
        out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
        const node = parseDockerfile(t).nodes[0];
        if (!node) continue;
        const ins = parseInstruction({ ...node, line: stage.from.node.line }, df.escape);
        const r = await runStep(ctx, ins, `ONBUILD ${t}`);
        if (r) cached++; else built++;
      }
    }
    for (const ins of stage.instructions) {
      step++;
      out(`Step ${step}/${total} : ${ins.node.original}\n`);
      const hit = await runStep(ctx, ins, ins.node.original);
      if (hit) cached++; else built++;
    }
    if (i === target && o.labels && Object.keys(o.labels).length) {
      step++;
      const text = `LABEL ${Object.entries(o.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')}`;
      out(`Step ${step}/${total} : ${text}\n`);
      const config = copyConfig(ctx.state.config);
      config.Labels = { ...(config.Labels ?? {}), ...o.labels };
      const hit = await cachedCommit(ctx, [text], { parent: ctx.state.id, config, createdBy: text });
      if (hit) cached++; else built++;
    }
    results.set(i, ctx.state);
    last = ctx.state;
  }
  const unusedArgs = [...buildArgs.keys()].filter((k) => !usedArgs.has(k) && !PREDEFINED_ARGS.includes(k));
  if (unusedArgs.length) out(`[Warning] One or more build-args [${unusedArgs.join(' ')}] were not consumed\n`);
  let imageId = last!.id;
  if (imageId === '') {
    // FROM scratch with nothing else: an empty image, as Docker makes it.
    imageId = await backend.commit({ parent: '', config: last!.config, createdBy: 'FROM scratch' });
  }
  out(`Successfully built ${short(imageId)}\n`);
  if (o.tags?.length) {
    const tags = o.tags.map(withLatestTag);
    await backend.tag(imageId, tags);
    for (const t of tags) out(`Successfully tagged ${t}\n`);
  }
  return { imageId, cached, built, unusedArgs };
}

/** "name" -> "name:latest", as Docker names a build's result and prints it ("Successfully tagged name:latest"). */
export function withLatestTag(ref: string): string {
  const lastSlash = ref.lastIndexOf('/');
  return ref.includes('@') || ref.slice(lastSlash + 1).includes(':') ? ref : `${ref}:latest`;
}

interface StageContext {
  backend: BuildBackend;
  o: BuildOptions;
  df: Dockerfile;
  state: ImageState;
  /** ARGs declared in this stage, with their values (undefined: declared without one). */
  args: Map<string, string | undefined>;
  buildArgs: Map<string, string>;
  usedArgs: Set<string>;
  globals: Map<string, string>;
  /** CMD given in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  results: Map<number, ImageState>;
}

/** Substitution environment: the stage's ARGs, then its ENV (ENV wins). */
function wordEnv(ctx: StageContext): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of ctx.args) if (v !== undefined) m.set(k, v);
  for (const e of ctx.state.config.Env ?? []) {
    const i = e.indexOf('=');
    if (i > 0) m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

function expandWord(ins: Instruction | { node: { line: number } }, s: string, env: Map<string, string>, escape: string): string {
  try {
    return processWord(s, env, escape);
  } catch (e) {
    if (e instanceof LexError) throw parseError(ins.node.line, e.message);
    throw e;
  }
}

function expandWords(ins: Instruction, s: string, env: Map<string, string>, escape: string): string[] {
  try {
    return processWords(s, env, escape);
  } catch (e) {
    if (e instanceof LexError) throw parseError(ins.node.line, e.message);
    throw e;
  }
}

/** The ARGs RUN sees as environment (not overridden by ENV), "K=v", sorted. */
function runArgsEnv(ctx: StageContext): string[] {
  const envKeys = new Set((ctx.state.config.Env ?? []).map(envKey));
  const out: string[] = [];
  for (const [k, v] of ctx.args) if (v !== undefined && !envKeys.has(k)) out.push(`${k}=${v}`);
  for (const k of PREDEFINED_ARGS) {
    const v = ctx.buildArgs.get(k);
    if (v !== undefined && !envKeys.has(k) && !ctx.args.has(k)) out.push(`${k}=${v}`);
  }
  return out.sort();
}

/** A step through the cache: a hit moves the stage to the cached image; a miss commits and records it. */
async function cachedCommit(ctx: StageContext, keyParts: unknown[], step: CommitStep): Promise<boolean> {
  const key = sha([ctx.state.id, ...keyParts]);
  const out = (text: string): void => { void ctx.o.progress(text); };
  if (!ctx.o.noCache) {
    const id = await ctx.backend.cacheGet(key);
    const img = id ? await ctx.backend.findImage(id) : null;
    if (img) {
      out(` ---> CACHED\n ---> ${short(img.id)}\n`);
      ctx.state = img;
      return true;
    }
  }
  const id = await ctx.backend.commit(step);
  await ctx.backend.cachePut(key, id);
  out(` ---> ${short(id)}\n`);
  ctx.state = { id, config: step.config };
  return false;
}

/** Exec form as is; shell form through the stage's SHELL. */
function commandOf(ctx: StageContext, exec: string[] | null, shell: string): string[] {
  if (exec) return exec;
  return [...(ctx.state.config.Shell?.length ? ctx.state.config.Shell : DEFAULT_SHELL), shell];
}

async function runStep(ctx: StageContext, ins: Instruction, text: string): Promise<boolean> {
  const esc = ctx.df.escape;
  const config = copyConfig(ctx.state.config);
  const meta = (createdBy: string, keyText = createdBy) => cachedCommit(ctx, [keyText], { parent: ctx.state.id, config, createdBy });
  switch (ins.kind) {
    case 'FROM':
      throw parseError(ins.node.line, 'FROM is not allowed here');
    case 'RUN': {
      const args = commandOf(ctx, ins.exec, ins.shell);
      const argsEnv = runArgsEnv(ctx);
      const createdBy = `RUN ${ins.exec ? JSON.stringify(args) : args.join(' ')}`;
      return cachedCommit(ctx, [createdBy, argsEnv], {
        parent: ctx.state.id, config, createdBy,
        work: {
          kind: 'run', args, env: [...(config.Env ?? []), ...argsEnv], user: config.User ?? '', workingDir: config.WorkingDir || '/', progress: ctx.o.progress,
        },
      });
    }
    case 'CMD':
      config.Cmd = commandOf(ctx, ins.exec, ins.shell);
      ctx.cmdSet = true;
      return meta(`CMD ${JSON.stringify(config.Cmd)}`);
    case 'ENTRYPOINT':
      config.Entrypoint = ins.exec ?? (ins.shell.trim() === '' ? null : commandOf(ctx, null, ins.shell));
      // An ENTRYPOINT drops the CMD inherited from the base (Docker's rule); one set in this stage stays.
      if (!ctx.cmdSet) config.Cmd = null;
      return meta(`ENTRYPOINT ${JSON.stringify(config.Entrypoint)}`);
    case 'ENV': {
      let env = config.Env ?? [];
      const words: string[] = [];
      for (const [k, v] of ins.pairs) {
        const we = wordEnv({ ...ctx, state: { ...ctx.state, config: { ...config, Env: env } } });
        const key = expandWord(ins, k, we, esc);
        const value = expandWord(ins, v, we, esc);
        if (key === '') throw parseError(ins.node.line, 'ENV names can not be blank');
        env = setEnv(env, key, value);
        words.push(`${key}=${value}`);
      }
      config.Env = env;
      return meta(`ENV ${words.join(' ')}`);
    }
    case 'LABEL': {
      const we = wordEnv(ctx);
      const labels = { ...(config.Labels ?? {}) };
      const words: string[] = [];
      for (const [k, v] of ins.pairs) {
        const key = expandWord(ins, k, we, esc);
        const value = expandWord(ins, v, we, esc);
        if (key === '') throw parseError(ins.node.line, 'LABEL names can not be blank');
        labels[key] = value;
        words.push(`${key}=${value}`);
      }
      config.Labels = labels;
      return meta(`LABEL ${words.join(' ')}`);
    }
    case 'ARG': {
      for (const a of ins.args) {
        const fromCli = ctx.buildArgs.get(a.name);
        if (fromCli !== undefined) ctx.usedArgs.add(a.name);
        const value = fromCli ?? (a.value !== undefined ? expandWord(ins, a.value, wordEnv(ctx), esc) : ctx.globals.get(a.name));
        ctx.args.set(a.name, value);
      }
      // ARG makes no image of its own (BuildKit); its value reaches the cache through the RUN steps that see it.
      return false;
    }
    case 'WORKDIR': {
      const dir = expandWord(ins, ins.value, wordEnv(ctx), esc);
      const wd = posix.resolve(config.WorkingDir || '/', dir);
      config.WorkingDir = wd;
      // Docker makes the directory when the image lacks it: a layer with it
      // then, a config-only step when it exists (no parts). "mkdir" in the
      // key: entries from before WORKDIR made it would lack the directory.
      const user = config.User ?? '';
      return cachedCommit(ctx, [`WORKDIR ${wd}`, 'mkdir'], {
        parent: ctx.state.id, config, createdBy: `WORKDIR ${wd}`,
        work: { kind: 'copy', parts: (target) => workdirParts(wd, user, target) },
      });
    }
    case 'USER': {
      const user = expandWord(ins, ins.value, wordEnv(ctx), esc);
      if (user === '') throw parseError(ins.node.line, 'USER requires exactly one argument');
      config.User = user;
      return meta(`USER ${user}`);
    }
    case 'STOPSIGNAL': {
      const sig = expandWord(ins, ins.value, wordEnv(ctx), esc);
      if (!/^(SIG)?[A-Z][A-Z0-9+-]*$|^\d+$/.test(sig)) throw parseError(ins.node.line, `Invalid signal: ${sig}`);
      config.StopSignal = sig;
      return meta(`STOPSIGNAL ${sig}`);
    }
    case 'MAINTAINER':
      return meta(`MAINTAINER ${ins.value}`);
    case 'EXPOSE': {
      const ports = { ...(config.ExposedPorts ?? {}) };
      const words: string[] = [];
      for (const raw of ins.values.flatMap((v) => expandWords(ins, v, wordEnv(ctx), esc))) {
        const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(raw);
        if (!m) throw parseError(ins.node.line, `Invalid containerPort: ${raw}`);
        const from = Number(m[1]);
        const to = m[2] ? Number(m[2]) : from;
        if (from < 1 || to > 65535 || to < from) throw parseError(ins.node.line, `Invalid containerPort: ${raw}`);
        const proto = (m[3] ?? 'tcp').toLowerCase();
        for (let p = from; p <= to; p++) ports[`${p}/${proto}`] = {};
        words.push(raw);
      }
      config.ExposedPorts = ports;
      return meta(`EXPOSE ${Object.keys(ports).join(' ')}`, `EXPOSE ${words.join(' ')}`);
    }
    case 'VOLUME': {
      const vols = { ...(config.Volumes ?? {}) };
      const paths = ins.json ? ins.values.map((v) => expandWord(ins, v, wordEnv(ctx), esc)) : ins.values.flatMap((v) => expandWords(ins, v, wordEnv(ctx), esc));
      for (const p of paths) {
        if (p.trim() === '') throw parseError(ins.node.line, 'VOLUME specified can not be an empty string');
        vols[p] = {};
      }
      config.Volumes = vols;
      return meta(`VOLUME ${JSON.stringify(paths)}`);
    }
    case 'SHELL':
      config.Shell = ins.shell;
      return meta(`SHELL ${JSON.stringify(ins.shell)}`);
    case 'HEALTHCHECK':
      config.Healthcheck = ins.health ?? { Test: ['NONE'] };
      return meta(`HEALTHCHECK ${JSON.stringify(config.Healthcheck)}`);
    case 'ONBUILD':
      config.OnBuild = [...(config.OnBuild ?? []), ins.trigger];
      return meta(`ONBUILD ${ins.trigger}`);
    case 'COPY': case 'ADD':
      return copyStep(ctx, ins, config, text);
  }
}

async function copyStep(ctx: StageContext, ins: Extract<Instruction, { kind: 'COPY' | 'ADD' }>, config: OciConfig, text: string): Promise<boolean> {
  const esc = ctx.df.escape;
  const we = wordEnv(ctx);
  const sources = ins.sources.map((s) => (ins.node.json ? expandWord(ins, s, we, esc) : expandWord(ins, s, we, esc)));
  const dest = expandWord(ins, ins.dest, we, esc);
  const chown = ins.chown ? expandWord(ins, ins.chown, we, esc) : '';
  const chmod = ins.chmod;
  const createdBy = `${ins.kind} ${[...(ins.from ? [`--from=${ins.from}`] : []), ...(chown ? [`--chown=${chown}`] : []), ...(chmod ? [`--chmod=${chmod}`] : []), ...sources, dest].join(' ')}`;
  void text;
  const base = (source: RootView, isContext: boolean): CopyRequest => ({
    kind: ins.kind, sources, dest, workdir: config.WorkingDir || '/', chown, chmod, source, isContext, ignore: isContext ? ctx.o.ignore : [],
  });
  const commitWith = (req: CopyRequest, keyParts: unknown[]) => cachedCommit(ctx, keyParts, {
    parent: ctx.state.id, config, createdBy,
    work: { kind: 'copy', parts: (target) => copyParts(planCopy(req, target), req, target) },
  });
  try {
    if (!ins.from) {
      const req = base(ctx.o.context, true);
      // The key's digest is of the sources alone (the parent ID in the key stands for the target).
      const digest = planCopy(req, null).contentDigest;
      return await commitWith(req, [createdBy, digest]);
    }
    const j = stageIndex(ctx.df, ins.from, ctx.df.stages.length);
    let src: ImageState;
    if (j !== null) {
      const r = ctx.results.get(j);
      if (!r) throw new FailedPreconditionError(`${ins.kind} --from=${ins.from}: stage ${ins.from} was not built before this one`, { field: 'dockerfile' });
      src = r.id ? r : { id: '', config: {} };
    } else {
      src = await ctx.backend.resolveImage(ins.from, false);
    }
    if (src.id === '') throw new NotFoundError(`${ins.kind} --from=${ins.from}: the stage is empty (FROM scratch with no files)`, { field: 'dockerfile' });
    // The source is an image: its ID stands for its content in the key.
    return await ctx.backend.withImageRoot(src.id, (root) => commitWith(base(root, false), [createdBy, src.id]));
  } catch (e) {
    if (e instanceof InvalidArgumentError && !/^dockerfile parse error/.test(e.message) && e.field === 'dockerfile') {
      throw parseError(ins.node.line, e.message);
    }
    throw e;
  }
}
