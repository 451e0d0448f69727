// Container commands: run/create/start/stop/kill/restart/rm/ps/inspect/logs/
// exec/wait/stats/top/pause/unpause/update/commit/rename/port/attach/prune.
// Every request is validated by cli-kit before the engine is called, so a
// bad flag exits 125 without creating anything.
import { readFileSync } from 'node:fs';
import { FailedPreconditionError, InvalidArgumentError, isFailedPrecondition, isNotFound } from '@berth/errors';
import {
  PS_FORMAT, PS_POD_TABLE, STATS_FORMAT, buildExecRequest, buildLogsRequest, buildRunRequest, buildUpdateRequest,
  containerExitCode, containerRow, formatEach, humanSize, inspectJson, parseFilters, parseStopTime, portLines, renderTable,
  statsRow, type ContainerSummary, type RunEnv, type RunRequest,
} from '@berth/cli-kit';
import type { engineV1 } from '@berth/proto';
import { Ctx, confirm, eachArg, filterMap } from '../context';
import { AttachFailed, attachContainer, parseDetachKeys, runAttached, runExec, type AttachOptions, type AttachResult } from './attach';
import { endOfBrokenRun } from './broken-run';
import { checkCidfile, writeCidfile } from './cidfile';

const runEnv = (ctx: Ctx): RunEnv => ({
  lookupEnv: (k) => ctx.env[k],
  readFile: (p) => readFileSync(p, 'utf8'),
  cwd: process.cwd(),
});

/** cli-kit's RunRequest in the engine's CreateContainerRequest shape. */
export function createRequest(r: RunRequest): engineV1.CreateContainerRequest {
  const { cmd, entrypoint, stopTimeout, ...config } = r.config;
  return {
    name: r.name,
    config: {
      ...config,
      cmd: cmd === null ? null : { values: cmd },
      entrypoint: entrypoint === null ? null : { values: entrypoint },
      ...(stopTimeout === null ? {} : { stopTimeout }),
    },
    hostConfig: r.hostConfig,
    pull: r.pull,
  };
}

/** -it needs a terminal on stdin (raw keys, resize, detach), as Docker insists; checked before anything is created. */
function checkTty(ctx: Ctx, wanted: boolean): void {
  if (wanted && !ctx.io.stdin.isTTY) {
    throw new InvalidArgumentError('the input device is not a TTY: drop -t to pipe input, or run from a terminal', { field: 'tty' });
  }
}

function printWarnings(ctx: Ctx, warnings: string[]): void {
  for (const w of warnings) ctx.err(`WARNING: ${w}\n`);
}

/**
 * Output and exit code of a container that could not be attached to because
 * it had already exited (a short command between RunContainer and Attach):
 * its exit code, then its log. Wait first: the engine's copy of the log is
 * complete only once the exit is committed (the process's log is drained
 * into it before); read earlier, the last lines can be missing.
 */
async function logsThenWait(ctx: Ctx, id: string): Promise<number> {
  const engine = ctx.engine();
  const { exitCode } = await engine.WaitContainer({ id, condition: 'not-running' });
  try {
    const show = logPrinter(false);
    for await (const m of engine.Logs({ id, follow: false, since: '', until: '', stdout: true, stderr: true }) as AsyncIterable<engineV1.LogEntry__Output>) {
      (m.stream === 'stderr' ? ctx.io.stderr : ctx.io.stdout).write(show(m));
    }
  } catch (e) {
    if (!isNotFound(e)) throw e; // removed by the engine (--rm) right after the exit: its output went with it
  }
  return exitCode;
}

/**
 * Attaches to a started container until it exits (or the user detaches):
 * the exit code, or undefined when detached.
 */
async function attachUntilExit(ctx: Ctx, id: string, o: AttachOptions): Promise<number | undefined> {
  const engine = ctx.engine();
  let r: AttachResult;
  try {
    r = await attachContainer(ctx, id, o);
  } catch (e) {
    if (!(e instanceof AttachFailed) || !(isFailedPrecondition(e.cause) || isNotFound(e.cause))) throw e instanceof AttachFailed ? e.cause : e;
    return logsThenWait(ctx, id);
  }
  if (r.detached) return undefined;
  return r.exitCode ?? (await engine.WaitContainer({ id, condition: 'not-running' })).exitCode;
}

/**
 * berth run: validate; with -d RunContainer and print the id; in the
 * foreground one RunAttached call, which creates, attaches before the start,
 * starts, streams the output and ends with the exit code, so a command that
 * exits at once loses nothing. --rm is the engine's job (AutoRemove in the
 * record): it removes the container after the exit and answers the exit
 * once it is gone, and does so even if this process died (a closed pipe).
 */
export async function run(ctx: Ctx): Promise<number> {
  const req = buildRunRequest(ctx.p, runEnv(ctx)); // throws InvalidArgument naming the flag: nothing created
  checkTty(ctx, req.config.tty && req.config.attachStdin);
  checkCidfile(req.cidfile);
  parseDetachKeys(req.detachKeys); // a bad sequence is a usage error, before any call
  const engine = ctx.engine();
  if (req.detach) {
    const res = await engine.RunContainer({ create: createRequest(req) });
    writeCidfile(req.cidfile, res.id);
    printWarnings(ctx, res.warnings);
    ctx.out(`${res.id}\n`);
    return 0;
  }
  const r = await runAttached(ctx, createRequest(req), {
    stdin: req.config.attachStdin, tty: req.config.tty, detachKeys: req.detachKeys, proxySignals: req.sigProxy && !req.config.tty,
    streams: { stdout: req.config.attachStdout, stderr: req.config.attachStderr },
    onCreated: (c) => {
      writeCidfile(req.cidfile, c.id);
      printWarnings(ctx, c.warnings);
    },
  });
  if (r.detached) return 0; // the container runs on
  if (r.exitCode !== undefined) return containerExitCode(r.exitCode);
  // The stream broke, or ended without an exit status (an engine shut down
  // under it): the exit code from Wait, the missed output from the log.
  const code = await endOfBrokenRun(ctx, {
    id: r.id, error: r.broken ?? new Error('the engine ended the stream without an exit status'), received: r.received,
    autoRemove: req.hostConfig.autoRemove, streams: { stdout: req.config.attachStdout, stderr: req.config.attachStderr },
  });
  return containerExitCode(code);
}

export async function create(ctx: Ctx): Promise<number> {
  const req = buildRunRequest(ctx.p, runEnv(ctx));
  checkCidfile(req.cidfile);
  const res = await ctx.engine().CreateContainer(createRequest(req));
  writeCidfile(req.cidfile, res.id);
  printWarnings(ctx, res.warnings);
  ctx.out(`${res.id}\n`);
  return 0;
}

export async function start(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  const attach = ctx.bool('attach') || ctx.bool('interactive');
  if (attach) {
    if (ctx.p.args.length > 1) throw new InvalidArgumentError('you cannot start and attach multiple containers at once', { field: 'attach' });
    const id = ctx.p.args[0]!;
    const s = await engine.StartContainer({ id });
    const cid = s.container?.id ?? id;
    const { tty } = configOf((await engine.InspectContainer({ id: cid, size: false })).json);
    const code = await attachUntilExit(ctx, cid, { stdin: ctx.bool('interactive'), tty, logs: true, detachKeys: '', proxySignals: !tty });
    return code === undefined ? 0 : containerExitCode(code);
  }
  return eachArg(ctx, ctx.p.args, async (id) => { await engine.StartContainer({ id }); return id; });
}

/** rm, stop, kill, pause and unpause of several containers run this many at once, as Docker's CLI does. */
const DOCKER_PARALLEL = 50;

export async function stop(ctx: Ctx): Promise<number> {
  const t = parseStopTime(ctx.int('time') ?? ctx.int('timeout'));
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (id) => {
    await engine.StopContainer({ id, signal: ctx.str('signal'), ...(t === undefined ? {} : { timeoutSeconds: t }) }, { timeoutMs: t === -1 ? 24 * 3600_000 : ((t ?? 10) + 30) * 1000 });
    return id;
  }, DOCKER_PARALLEL);
}

export async function restart(ctx: Ctx): Promise<number> {
  const t = parseStopTime(ctx.int('time'));
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (id) => {
    await engine.RestartContainer({ id, ...(t === undefined ? {} : { timeoutSeconds: t }) }, { timeoutMs: t === -1 ? 24 * 3600_000 : ((t ?? 10) + 30) * 1000 });
    return id;
  });
}

export async function kill(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (id) => { await engine.KillContainer({ id, signal: ctx.str('signal') }); return id; }, DOCKER_PARALLEL);
}

export async function rm(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (id) => {
    await engine.RemoveContainer({ id, force: ctx.bool('force'), removeVolumes: ctx.bool('volumes') });
    return id;
  }, DOCKER_PARALLEL);
}

export async function pause(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (id) => { await engine.PauseContainer({ id }); return id; }, DOCKER_PARALLEL);
}

export async function unpause(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (id) => { await engine.UnpauseContainer({ id }); return id; }, DOCKER_PARALLEL);
}

export async function wait(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (id) => {
    const r = await engine.WaitContainer({ id, condition: 'not-running' }, { timeoutMs: 365 * 24 * 3600_000 });
    if (r.error) throw new Error(r.error);
    return String(r.exitCode);
  });
}

export function summaryOf(c: engineV1.ContainerSummary__Output): ContainerSummary {
  return {
    id: c.id, name: c.name, image: c.image, command: c.command, createdAt: c.createdAtUnixMs,
    state: c.state as ContainerSummary['state'], exitCode: c.exitCode, startedAt: c.startedAtUnixMs, finishedAt: c.finishedAtUnixMs,
    ports: c.ports.map((p) => ({ containerPort: p.containerPort, protocol: p.protocol || 'tcp', hostIp: p.hostIp, hostPort: p.hostPort })),
    labels: c.labels, mounts: c.mounts, networks: c.networks, sizeRw: c.sizeRw, sizeRootFs: c.sizeRootFs, health: c.health,
  };
}

export async function ps(ctx: Ctx): Promise<number> {
  const filters = parseFilters(ctx.list('filter'));
  const last = ctx.int('last') ?? -1;
  const limit = ctx.bool('latest') ? 1 : last > 0 ? last : 0;
  const res = await ctx.engine().ListContainers({ all: ctx.bool('all'), filters: filterMap(filters), limit, size: ctx.bool('size') });
  const now = Date.now();
  if (ctx.bool('quiet')) {
    for (const c of res.containers) ctx.out(`${ctx.bool('no-trunc') ? c.id : c.id.slice(0, 12)}\n`);
    return 0;
  }
  const rows = res.containers.map((c) => containerRow(summaryOf(c), now, ctx.bool('no-trunc')));
  const base = ctx.bool('pod') ? PS_POD_TABLE : `table ${PS_FORMAT.defaultTable}`;
  const format = ctx.str('format') || (ctx.bool('size') ? `${base}\t{{.Size}}` : ctx.bool('pod') ? base : '');
  ctx.table(rows, PS_FORMAT, format);
  return 0;
}

export async function inspectContainers(ctx: Ctx, names: string[]): Promise<{ docs: unknown[]; failed: string[] }> {
  const docs: unknown[] = [];
  const failed: string[] = [];
  for (const id of names) {
    try {
      const r = await ctx.engine().InspectContainer({ id, size: ctx.bool('size') });
      docs.push(JSON.parse(r.json));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      failed.push(id);
    }
  }
  return { docs, failed };
}

/** Prints inspect documents: JSON array, or one --format line each. */
export function printInspect(ctx: Ctx, docs: unknown[]): void {
  const format = ctx.str('format');
  ctx.out(format ? formatEach(format, docs) : inspectJson(docs));
}

export async function containerInspect(ctx: Ctx): Promise<number> {
  const { docs, failed } = await inspectContainers(ctx, ctx.p.args);
  printInspect(ctx, docs);
  for (const f of failed) ctx.err(`berth: no such container: ${f}\n`);
  return failed.length ? 1 : 0;
}

/**
 * The bytes to print for each Logs message: a line is sent in pieces when it
 * is longer than 16 KiB (`partial`); printed one after the other they make
 * the line again, with its timestamp (-t) only before its first piece and
 * its newline after the last. Nothing is held: a line of any length prints
 * in bounded memory.
 */
export function logPrinter(timestamps: boolean): (m: { time: string; stream: string; line: Buffer; partial: boolean }) => Buffer {
  const midLine = new Set<string>();
  return (m) => {
    const stamp = timestamps && !midLine.has(m.stream) ? `${m.time} ` : '';
    if (m.partial) midLine.add(m.stream);
    else midLine.delete(m.stream);
    return Buffer.concat([Buffer.from(stamp), m.line, Buffer.from(m.partial ? '' : '\n')]);
  };
}

export async function logs(ctx: Ctx): Promise<number> {
  const req = buildLogsRequest(ctx.p, Date.now());
  const stream = ctx.engine().Logs({
    id: req.container, follow: req.follow, since: req.since, until: req.until, stdout: true, stderr: true,
    ...(req.tail === undefined ? {} : { tail: req.tail }),
  });
  const stop = () => stream.cancel();
  process.once('SIGINT', stop);
  try {
    const show = logPrinter(req.timestamps);
    for await (const m of stream as AsyncIterable<engineV1.LogEntry__Output>) {
      (m.stream === 'stderr' ? ctx.io.stderr : ctx.io.stdout).write(show(m));
    }
  } catch (e) {
    if ((e as { code?: string }).code !== 'Cancelled') throw e;
  } finally {
    process.off('SIGINT', stop);
  }
  return 0;
}

export async function exec(ctx: Ctx): Promise<number> {
  const req = buildExecRequest(ctx.p, runEnv(ctx));
  checkTty(ctx, req.tty && req.stdin && !req.detach);
  return runExec(ctx, req);
}

/** Config.Tty / Config.OpenStdin of an inspect document. */
function configOf(json: string): { tty: boolean; openStdin: boolean } {
  const c = (JSON.parse(json) as { Config?: { Tty?: boolean; OpenStdin?: boolean } }).Config ?? {};
  return { tty: c.Tty === true, openStdin: c.OpenStdin === true };
}

export async function attach(ctx: Ctx): Promise<number> {
  const id = ctx.p.args[0]!;
  parseDetachKeys(ctx.str('detach-keys')); // a bad sequence is a usage error, before any call
  const engine = ctx.engine();
  const info = await engine.InspectContainer({ id, size: false });
  const s = info.summary;
  if (s && s.state !== 'running') {
    throw new FailedPreconditionError(`you cannot attach to a stopped container, start it first (container ${s.name} is ${s.state})`);
  }
  const { tty, openStdin } = configOf(info.json);
  const r = await attachContainer(ctx, s?.id ?? id, {
    stdin: openStdin && !ctx.bool('no-stdin'), tty, logs: false, detachKeys: ctx.str('detach-keys'), proxySignals: !tty,
  }).catch((e: unknown) => {
    throw e instanceof AttachFailed ? e.cause : e;
  });
  if (r.detached) return 0;
  return containerExitCode(r.exitCode ?? (await engine.WaitContainer({ id: s?.id ?? id, condition: 'not-running' })).exitCode);
}

export async function stats(ctx: Ctx): Promise<number> {
  const noStream = ctx.bool('no-stream');
  const stream = ctx.engine().Stats({ ids: ctx.p.args, all: ctx.bool('all'), stream: !noStream, intervalMs: 0 });
  const tty = ctx.io.stdout.isTTY === true;
  const stop = () => stream.cancel();
  process.once('SIGINT', stop);
  try {
    for await (const m of stream as AsyncIterable<engineV1.StatsResponse__Output>) {
      const rows = m.stats.map((s) => statsRow({
        id: s.id, name: s.name, cpuPercent: s.cpuPercent, memUsage: s.memoryUsage, memLimit: s.memoryLimit,
        netRx: s.netRx, netTx: s.netTx, blockRead: s.blockRead, blockWrite: s.blockWrite, pids: s.pids,
      }, ctx.bool('no-trunc')));
      // A live table is redrawn in place on a terminal, appended otherwise (as docker stats).
      if (tty && !noStream) ctx.out('\x1b[2J\x1b[H');
      ctx.table(rows, STATS_FORMAT);
    }
  } catch (e) {
    if ((e as { code?: string }).code !== 'Cancelled') throw e;
  } finally {
    process.off('SIGINT', stop);
  }
  return 0;
}

export async function top(ctx: Ctx): Promise<number> {
  const [id, ...psArgs] = ctx.p.args as [string, ...string[]];
  const r = await ctx.engine().Top({ id, psArgs });
  ctx.out(renderTable([r.titles, ...r.processes.map((p) => p.fields)]));
  return 0;
}

export async function update(ctx: Ctx): Promise<number> {
  const req = buildUpdateRequest(ctx.p);
  const engine = ctx.engine();
  const { containers, ...changes } = req;
  return eachArg(ctx, containers, async (id) => {
    const r = await engine.UpdateContainer({ id, ...changes });
    printWarnings(ctx, r.warnings);
    return id;
  });
}

/** "repo:tag" -> [repo, tag]; the tag is after the last ":" that follows the last "/". */
export function splitRepoTag(ref: string): [string, string] {
  if (ref.includes('@')) throw new InvalidArgumentError(`invalid reference format: ${ref}: a digest cannot be a commit target`, { field: 'repository' });
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return [ref.slice(0, colon), ref.slice(colon + 1)];
  return [ref, ref ? 'latest' : ''];
}

export async function commit(ctx: Ctx): Promise<number> {
  const [id, ref = ''] = ctx.p.args as [string, string?];
  const [repository, tag] = splitRepoTag(ref);
  if (repository && !/^[a-z0-9]+([._/:-][a-z0-9]+)*$/.test(repository)) {
    throw new InvalidArgumentError(`invalid reference format: repository name "${repository}" must be lowercase`, { field: 'repository' });
  }
  const r = await ctx.engine().Commit({
    id, repository, tag, author: ctx.str('author'), message: ctx.str('message'), changes: ctx.list('change'), pause: ctx.bool('pause'),
  }, { timeoutMs: 30 * 60_000 });
  ctx.out(`${r.imageId}\n`);
  return 0;
}

export async function rename(ctx: Ctx): Promise<number> {
  const [id, newName] = ctx.p.args as [string, string];
  if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(newName)) {
    throw new InvalidArgumentError(`invalid container name "${newName}": expected [a-zA-Z0-9][a-zA-Z0-9_.-]+`, { field: 'NEW_NAME' });
  }
  await ctx.engine().Rename({ id, newName: newName.replace(/^\//, '') });
  return 0;
}

export async function port(ctx: Ctx): Promise<number> {
  const [id, filter] = ctx.p.args as [string, string?];
  if (filter !== undefined && !/^\d{1,5}(\/(tcp|udp|sctp))?$/.test(filter)) {
    throw new InvalidArgumentError(`invalid port "${filter}": expected PRIVATE_PORT[/PROTO] (80, 53/udp)`, { field: 'PRIVATE_PORT' });
  }
  const r = await ctx.engine().InspectContainer({ id, size: false });
  const lines = portLines(r.summary ? summaryOf(r.summary).ports : [], filter);
  if (filter !== undefined && lines.length === 0) {
    ctx.err(`berth: no public port '${filter.includes('/') ? filter : `${filter}/tcp`}' published for ${r.summary?.name ?? id}\n`);
    return 1;
  }
  for (const l of lines) ctx.out(`${l}\n`);
  return 0;
}

export async function containerPrune(ctx: Ctx): Promise<number> {
  const filters = parseFilters(ctx.list('filter'));
  if (!ctx.bool('force') && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
  const r = await ctx.engine().Prune({ filters: filterMap(filters) });
  if (r.deleted.length) ctx.out(`Deleted Containers:\n${r.deleted.map((d) => `${d}\n`).join('')}\n`);
  ctx.out(`Total reclaimed space: ${humanSize(r.spaceReclaimed)}\n`);
  return 0;
}

// berth cp lives in its own module (docker cp's rules are a topic of their own),
// which main.ts loads only for cp: it brings @berth/tar and @berth/sys (koffi).
