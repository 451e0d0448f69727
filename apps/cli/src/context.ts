// What every command handler gets: the parsed command line, the process's
// streams and environment, and lazily created typed gRPC clients for the
// engine, images and networks services. Clients are created on first use so
// a command that fails validation never opens a connection, and closed by
// main once the command ends.
import { existsSync } from 'node:fs';
import { UnavailableError, isBerthError, isUnavailable } from '@berth/errors';
// The kit's client entry: the server host (health, reflection, logging, metrics) is not loaded.
import { createClient, serviceAddresses, type BerthClient } from '@berth/kit/client';
import type { engineV1, imagesV1, networksV1 } from '@berth/proto';
import { formatRows, terminalWidth, useColor, type FormatOptions, type ParsedCommand } from '@berth/cli-kit/start';

export type EngineClient = BerthClient<engineV1.EngineDefinition, engineV1.EngineHandlers>;
export type ImagesClient = BerthClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>;
export type TransferClient = BerthClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>;
export type NetworksClient = BerthClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>;

export interface Streams {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** The service a client talks to, with the words the CLI uses for it in errors. */
interface Target {
  service: 'engine' | 'images' | 'networks';
  addresses: string[];
}

const CONNECT_FAILURE = /No connection established|connect E[A-Z]+|Failed to connect|ECONNREFUSED|ENOENT|Connection dropped/i;

const detailsOf = (e: unknown): string => String((e as { cause?: { details?: string } }).cause?.details ?? (e as Error).message);

/** Whether a berth service sent the error (its kind travels in the status metadata); grpc-js's own errors have none. */
function sentByServer(e: unknown): boolean {
  const md = (e as { cause?: { metadata?: { get(k: string): unknown[] } } }).cause?.metadata;
  return (md?.get('berth-error-kind').length ?? 0) > 0;
}

/**
 * An UNAVAILABLE error caused by our own connection (no socket, refused), as
 * opposed to one a service sent. grpc-js reports connection failures with
 * details such as "No connection established. Last error: connect ENOENT
 * /run/berth/engine.sock".
 */
export function isConnectionFailure(e: unknown): boolean {
  return isUnavailable(e) && !sentByServer(e) && CONNECT_FAILURE.test(detailsOf(e));
}

/**
 * An UNAVAILABLE error the engine sent because one of its dependencies is
 * down: "createCgroup: No connection established. Last error: ... connect
 * ENOENT /run/berth/cgroups.sock". Returns the dependency's name and address.
 */
export function dependencyDown(e: unknown): { service: string; address: string } | undefined {
  if (!isUnavailable(e) || !sentByServer(e)) return undefined;
  const m = /connect E[A-Z]+ (\/\S+?\/([a-z]+)\.sock)/.exec(detailsOf(e));
  return m ? { service: m[2]!, address: `unix:${m[1]!}` } : undefined;
}

export function unreachable(t: Target): UnavailableError {
  return new UnavailableError(
    `cannot reach the ${t.service === 'engine' ? 'engine' : `${t.service} service`} at ${t.addresses.join(', ')}: is the stack running? (berth daemon up)`,
  );
}

export class Ctx {
  private engineClient?: EngineClient;
  private imagesClient?: ImagesClient;
  private transferClient?: TransferClient;
  private networksClient?: NetworksClient;
  readonly color: boolean;

  constructor(
    readonly p: ParsedCommand,
    readonly io: Streams,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.color = useColor(io.stdout, env);
  }

  get flags(): Record<string, unknown> {
    return this.p.flags;
  }
  str(name: string): string {
    return (this.p.flags[name] as string | undefined) ?? '';
  }
  bool(name: string): boolean {
    return this.p.flags[name] === true;
  }
  list(name: string): string[] {
    return (this.p.flags[name] as string[] | undefined) ?? [];
  }
  int(name: string): number | undefined {
    return this.p.flags[name] as number | undefined;
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }
  err(text: string): void {
    this.io.stderr.write(text);
  }

  /** Renders listing rows per --format with the terminal width (tables only fit on a TTY). */
  table(rows: object[], o: FormatOptions, format = this.str('format')): void {
    this.out(formatRows(format, rows, { ...o, maxWidth: terminalWidth(this.io.stdout) }));
  }

  /** Addresses of a service: -H/--host overrides the engine's, else BERTH_<SERVICE>_ADDR or its socket. */
  target(service: Target['service']): Target {
    const host = service === 'engine' ? this.str('host') : '';
    const addresses = host ? host.split(',').map((s) => s.trim()).filter(Boolean) : serviceAddresses(service, this.env);
    // Docker spells sockets unix:///path; grpc-js wants unix:/path.
    return { service, addresses: addresses.map((a) => (a.startsWith('/') ? `unix:${a}` : a.replace(/^unix:\/\/(?=\/)/, 'unix:'))) };
  }

  /**
   * Fails fast, with the message users need, when every address of a
   * service is a unix socket that does not exist (nothing listens there).
   */
  private check(t: Target): void {
    const sockets = t.addresses.filter((a) => a.startsWith('unix:')).map((a) => a.slice('unix:'.length));
    if (sockets.length === t.addresses.length && sockets.every((s) => !existsSync(s))) throw unreachable(t);
  }

  engine(): EngineClient {
    if (!this.engineClient) {
      const t = this.target('engine');
      this.check(t);
      this.engineClient = createClient<engineV1.EngineDefinition, engineV1.EngineHandlers>('berth.engine.v1.Engine', t.addresses);
    }
    return this.engineClient;
  }

  images(): ImagesClient {
    if (!this.imagesClient) {
      const t = this.target('images');
      this.check(t);
      this.imagesClient = createClient<imagesV1.ImagesDefinition, imagesV1.ImagesHandlers>('berth.images.v1.Images', t.addresses);
    }
    return this.imagesClient;
  }

  transfer(): TransferClient {
    if (!this.transferClient) {
      const t = this.target('images');
      this.check(t);
      // Pulls and pushes of large images take minutes: no per-call deadline on their streams.
      this.transferClient = createClient<imagesV1.TransferDefinition, imagesV1.TransferHandlers>('berth.images.v1.Transfer', t.addresses, { timeoutMs: 60 * 60_000 });
    }
    return this.transferClient;
  }

  networks(): NetworksClient {
    if (!this.networksClient) {
      const t = this.target('networks');
      this.check(t);
      this.networksClient = createClient<networksV1.NetworksDefinition, networksV1.NetworksHandlers>('berth.networks.v1.Networks', t.addresses);
    }
    return this.networksClient;
  }

  /**
   * Rewrites connection failures into messages naming what is down: ours
   * ("cannot reach the engine at ...") or one of the engine's dependencies.
   */
  explain(e: unknown): unknown {
    const dep = dependencyDown(e);
    if (dep) {
      return new UnavailableError(`the engine cannot reach the ${dep.service} service at ${dep.address}: is the stack running? (berth daemon up)`, { cause: e });
    }
    if (!isConnectionFailure(e)) return e;
    const details = detailsOf(e);
    const created = { engine: this.engineClient, images: this.imagesClient ?? this.transferClient, networks: this.networksClient };
    const services = (['engine', 'images', 'networks'] as const).filter((s) => created[s]);
    const named = services.find((s) => this.target(s).addresses.some((a) => details.includes(a.replace(/^unix:/, ''))));
    const s = named ?? (services.length === 1 ? services[0] : undefined);
    return s ? unreachable(this.target(s)) : e;
  }

  close(): void {
    for (const c of [this.engineClient, this.imagesClient, this.transferClient, this.networksClient]) c?.close();
  }
}

/** The message of an error without its kind prefix. */
export function messageOf(e: unknown): string {
  return isBerthError(e) || e instanceof Error ? e.message : String(e);
}

/**
 * Runs `fn` for each name, printing `print(name)` on success and the error on
 * stderr otherwise (docker stop a b c goes on after a failure); exit 1 when
 * any failed. With `parallel` > 1, up to that many calls are in flight at once,
 * as Docker's CLI runs rm, stop, kill, pause and unpause (50 at a time, its
 * parallelOperation); lines and errors are still printed in argument order.
 */
export async function eachArg(ctx: Ctx, names: string[], fn: (name: string) => Promise<string | undefined>, parallel = 1): Promise<number> {
  let failed = 0;
  const report = (outcome: { line?: string | undefined } | { error: unknown }): void => {
    if (!('error' in outcome)) {
      if (outcome.line !== undefined) ctx.out(`${outcome.line}\n`);
      return;
    }
    const err = ctx.explain(outcome.error);
    if (err !== outcome.error) throw err; // the service is unreachable: the other names would fail alike
    ctx.err(`berth: ${messageOf(err)}\n`);
    failed++;
  };
  if (parallel <= 1) {
    for (const n of names) {
      try {
        report({ line: await fn(n) });
      } catch (e) {
        report({ error: e });
      }
    }
    return failed ? 1 : 0;
  }
  let free = parallel;
  let stopped = false;
  const waiting: (() => void)[] = [];
  const acquire = () => (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)));
  const release = () => { const next = waiting.shift(); if (next) next(); else free++; };
  const outcomes = names.map((n) =>
    acquire()
      .then(() => (stopped ? { line: undefined } : fn(n).then((line) => ({ line }), (error: unknown) => ({ error }))))
      .finally(release));
  try {
    for (const o of outcomes) report(await o);
  } catch (e) {
    stopped = true; // start no more calls; those in flight end when main closes the client
    throw e;
  }
  return failed ? 1 : 0;
}

/** -f key=value filters in the engine's map<string, FilterValues> shape. */
export function filterMap(f: Record<string, string[]>): Record<string, { values: string[] }> {
  return Object.fromEntries(Object.entries(f).map(([k, v]) => [k, { values: v }]));
}

/** Asks a yes/no question on stdin (prune without -f). */
export async function confirm(ctx: Ctx, question: string): Promise<boolean> {
  ctx.out(`${question} [y/N] `);
  const line = await readLine(ctx.io.stdin);
  return /^y(es)?$/i.test(line.trim());
}

export function readLine(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) { done(); resolve(buf.slice(0, nl).replace(/\r$/, '')); }
    };
    const onEnd = () => { done(); resolve(buf); };
    const done = () => { stdin.off('data', onData); stdin.off('end', onEnd); stdin.pause(); };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}

/** Reads all of stdin or a file as a stream of chunks. */
export async function* chunksOf(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  for await (const c of stream) yield typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
}
