// Docker's exec is three calls (create -> id, start -> stream, inspect ->
// ExitCode); the engine's Exec is one bidi stream that starts the process
// and ends with its exit code. The gateway keeps the created execs here, in
// memory: an exec id lives until 10 minutes after its process exited (long
// enough for any client to inspect it), and at most MAX_EXECS are kept.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { FailedPreconditionError, InvalidArgumentError, NotFoundError } from '@berth/errors';
import type { engineV1 } from '@berth/proto';
import type { Backends } from './backends';
import { inspectDoc } from './containers';
import { DockerHttpError, intParam, readJson, sendEmpty, sendJson, type Router } from './http';
import { hijack, responseConn, type StreamConn } from './streams';

interface ExecRecord {
  id: string;
  containerId: string;
  cmd: string[];
  env: string[];
  workingDir: string;
  user: string;
  tty: boolean;
  privileged: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  detachKeys: string;
  consoleSize: { width: number; height: number } | null;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  exitedAt: number;
  call?: ReturnType<Backends['engine']['Exec']>;
}

const MAX_EXECS = 1000;
const KEEP_EXITED_MS = 10 * 60_000;

type Json = Record<string, unknown>;
const strList = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export class Execs {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly b: Backends) {}

  private prune(): void {
    const now = Date.now();
    for (const [id, e] of this.execs) if (e.exitCode !== null && now - e.exitedAt > KEEP_EXITED_MS) this.execs.delete(id);
    if (this.execs.size < MAX_EXECS) return;
    for (const [id, e] of this.execs) {
      if (e.exitCode !== null || !e.started) this.execs.delete(id);
      if (this.execs.size < MAX_EXECS) return;
    }
    throw new DockerHttpError(503, `too many exec instances (${MAX_EXECS}) are in use; start or inspect them first`);
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new NotFoundError(`No such exec instance: ${id}`, { field: 'id' });
    return e;
  }

  async create(container: string, body: Json): Promise<string> {
    const cmd = strList(body['Cmd']);
    if (!cmd.length) throw new InvalidArgumentError('No exec command specified', { field: 'Cmd' });
    const { summary } = await inspectDoc(this.b, container);
    if (summary.state !== 'running') throw new FailedPreconditionError(`Container ${summary.id} is not running`, { field: 'id' });
    this.prune();
    const size = Array.isArray(body['ConsoleSize']) ? (body['ConsoleSize'] as number[]) : null;
    const e: ExecRecord = {
      id: randomBytes(32).toString('hex'),
      containerId: summary.id,
      cmd,
      env: strList(body['Env']),
      workingDir: typeof body['WorkingDir'] === 'string' ? body['WorkingDir'] : '',
      user: typeof body['User'] === 'string' ? body['User'] : '',
      tty: body['Tty'] === true,
      privileged: body['Privileged'] === true,
      attachStdin: body['AttachStdin'] === true,
      attachStdout: body['AttachStdout'] === true,
      attachStderr: body['AttachStderr'] === true,
      detachKeys: typeof body['DetachKeys'] === 'string' ? body['DetachKeys'] : '',
      consoleSize: size && size.length === 2 ? { height: size[0] ?? 0, width: size[1] ?? 0 } : null,
      running: false,
      started: false,
      exitCode: null,
      exitedAt: 0,
    };
    this.execs.set(e.id, e);
    return e.id;
  }

  /**
   * Runs the exec: output to `conn` until the process exits (the exit code is
   * recorded before the stream ends, so an inspect right after sees it).
   * Detached: returns once the process runs.
   */
  async start(e: ExecRecord, detach: boolean, conn: StreamConn | undefined): Promise<void> {
    if (e.started) throw new FailedPreconditionError(`exec ${e.id} has already been started`, { field: 'id' });
    e.started = true;
    const ac = new AbortController();
    const call = this.b.engine.Exec({ signal: ac.signal });
    e.call = call;
    call.write({ start: {
      id: e.containerId, args: e.cmd, env: e.env, workingDir: e.workingDir, user: e.user, tty: e.tty,
      stdin: e.attachStdin && !detach, detach: false, privileged: e.privileged, consoleSize: e.consoleSize,
    } });
    let resolveStarted!: () => void;
    let rejectStarted!: (err: unknown) => void;
    const startedP = new Promise<void>((res, rej) => { resolveStarted = res; rejectStarted = rej; });
    const done = new Promise<void>((resolve) => {
      call.on('data', (m: engineV1.ExecResponse__Output) => {
        if (m.msg === 'started') {
          e.running = true;
          resolveStarted();
        } else if (m.msg === 'output' && m.output) {
          const stream = m.output.stream === 'stderr' ? 'stderr' : 'stdout';
          if ((stream === 'stdout' && e.attachStdout) || (stream === 'stderr' && e.attachStderr) || e.tty) conn?.output(stream, m.output.data);
        } else if (m.msg === 'exitCode') {
          e.exitCode = m.exitCode ?? 0;
        }
      });
      const finish = (err?: unknown) => {
        e.running = false;
        if (e.exitCode === null) e.exitCode = err ? 126 : 0;
        e.exitedAt = Date.now();
        e.call = undefined;
        if (err) rejectStarted(err);
        else resolveStarted();
        resolve();
      };
      call.on('end', () => finish());
      call.on('error', (err: unknown) => finish(err));
    });
    if (conn && e.attachStdin && !detach) {
      conn.onInput((d) => call.write({ stdin: d }), () => call.write({ closeStdin: true }));
    }
    conn?.onClose(() => { if (!detach) ac.abort(); });
    if (detach) {
      await startedP;
      return;
    }
    try {
      await startedP;
    } catch (err) {
      // The process could not start (container stopped meanwhile): Docker reports it on the stream.
      conn?.output('stderr', Buffer.from(`${(err as Error).message}\n`));
    }
    await done;
    conn?.end();
  }

  resize(e: ExecRecord, width: number, height: number): void {
    e.call?.write({ resize: { width, height } });
  }

  inspect(e: ExecRecord): Json {
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: { tty: e.tty, entrypoint: e.cmd[0] ?? '', arguments: e.cmd.slice(1), privileged: e.privileged, user: e.user },
      OpenStdin: e.attachStdin,
      OpenStderr: e.attachStderr,
      OpenStdout: e.attachStdout,
      CanRemove: e.exitCode !== null,
      ContainerID: e.containerId,
      DetachKeys: e.detachKeys,
      Pid: 0,
    };
  }
}

export function registerExec(router: Router, b: Backends, execs: Execs): void {
  router.add('POST', '/containers/(?<id>[^/]+)/exec', async (req, res) => {
    const id = await execs.create(req.params['id']!, await readJson(req.raw));
    sendJson(res, 201, { Id: id });
  });
  router.add('GET', '/exec/(?<id>[^/]+)/json', async (req, res) => {
    sendJson(res, 200, execs.inspect(execs.get(req.params['id']!)));
  });
  router.add('POST', '/exec/(?<id>[^/]+)/resize', async (req, res) => {
    execs.resize(execs.get(req.params['id']!), intParam(req.query, 'w') ?? 0, intParam(req.query, 'h') ?? 0);
    sendEmpty(res, 201);
  });
  // Without an upgrade: a plain streaming 200 (no stdin).
  router.add('POST', '/exec/(?<id>[^/]+)/start', async (req, res) => {
    const e = execs.get(req.params['id']!);
    const body = await readJson(req.raw);
    if (body['Detach'] === true) {
      await execs.start(e, true, undefined);
      sendEmpty(res, 200);
      return;
    }
    await execs.start(e, false, responseConn(res, e.tty));
  });
  void b;
}

/** POST /exec/{id}/start with Upgrade: tcp: the JSON body first, then the raw stream. */
export async function hijackExecStart(execs: Execs, id: string, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const e = execs.get(id);
  const { conn, body } = await hijack(req, socket, head, e.tty);
  let opts: Json = {};
  try {
    opts = body.length ? (JSON.parse(body.toString('utf8')) as Json) : {};
  } catch {
    opts = {};
  }
  if (opts['Tty'] === true && !e.tty) e.tty = true;
  await execs.start(e, opts['Detach'] === true, conn);
}

export type { ServerResponse };
