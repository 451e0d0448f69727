// berth: the command line. The command tree, flags and --help come from
// @berth/cli-kit (BERTH); each leaf maps to a handler in src/commands/ that
// validates its request, then calls the engine (or the images / networks
// service) over gRPC.
// Exit codes as Docker's: the container's own for run/start -a/exec/wait,
// 125 when berth itself fails (bad flags, unreachable engine, run/create
// errors), 126/127 when the container's command cannot be invoked / is not
// found, 1 for other commands' failures.
import { isBerthError } from '@berth/errors';
import { BERTH, EXIT_BERTH_FAILURE, exitCodeFor, paint, parseCommandLine, renderHelp, useColor, type ParsedCommand } from '@berth/cli-kit/start';
import type { Ctx, Streams } from './context';

type Handler = (ctx: Ctx) => Promise<number>;

// Each command's module is loaded when that command runs, not at every start:
// `berth run` never loads the daemon control (NATS client) or the image and
// network commands. Type-only imports here; the modules are required below.
/* eslint-disable @typescript-eslint/no-require-imports */
type Containers = typeof import('./commands/containers');
type Images = typeof import('./commands/images');
type Networks = typeof import('./commands/networks');
type Volumes = typeof import('./commands/volumes');
type System = typeof import('./commands/system');
const lazy = <M>(load: () => M) => (pick: (m: M) => Handler): Handler => (ctx) => pick(load())(ctx);
const c = lazy(() => require('./commands/containers') as Containers);
const i = lazy(() => require('./commands/images') as Images);
const n = lazy(() => require('./commands/networks') as Networks);
const v = lazy(() => require('./commands/volumes') as Volumes);
const s = lazy(() => require('./commands/system') as System);
const events: Handler = (ctx) => (require('./commands/events') as typeof import('./commands/events')).events(ctx);
const cp: Handler = (ctx) => (require('./commands/cp') as typeof import('./commands/cp')).cp(ctx);
const build: Handler = (ctx) => (require('./commands/build') as typeof import('./commands/build')).build(ctx);
const history: Handler = (ctx) => (require('./commands/history') as typeof import('./commands/history')).history(ctx);
const changes = () => require('./commands/changes') as typeof import('./commands/changes');
const version: Handler = (ctx) => (require('./commands/version') as typeof import('./commands/version')).version(ctx);
const context = () => require('./context') as typeof import('./context');

const daemon = (sub: 'up' | 'down' | 'status'): Handler => async (ctx) => {
  const { daemonCommand } = require('./commands/daemon') as typeof import('./commands/daemon');
  return daemonCommand([sub, ...(ctx.bool('split') ? ['--split'] : [])], ctx.io.stdout, sub === 'status' ? ctx.str('format') : '');
};
/* eslint-enable @typescript-eslint/no-require-imports */

/** Command path (without "berth") -> handler. Aliases resolve to the command's name in the path. */
const CONTAINER: Record<string, Handler> = {
  attach: c((m) => m.attach), commit: c((m) => m.commit), cp, create: c((m) => m.create), exec: c((m) => m.exec),
  diff: (ctx) => changes().diff(ctx), export: (ctx) => changes().exportContainer(ctx),
  inspect: c((m) => m.containerInspect), kill: c((m) => m.kill), logs: c((m) => m.logs), ls: c((m) => m.ps), pause: c((m) => m.pause),
  port: c((m) => m.port), prune: c((m) => m.containerPrune), rename: c((m) => m.rename), restart: c((m) => m.restart), rm: c((m) => m.rm),
  run: c((m) => m.run), start: c((m) => m.start), stats: c((m) => m.stats), stop: c((m) => m.stop), top: c((m) => m.top),
  unpause: c((m) => m.unpause), update: c((m) => m.update), wait: c((m) => m.wait),
};

export const HANDLERS: Record<string, Handler> = {
  ...Object.fromEntries(Object.entries(CONTAINER).map(([k, h]) => [`container ${k}`, h])),
  ...Object.fromEntries(Object.entries(CONTAINER).filter(([k]) => !['ls', 'prune', 'inspect'].includes(k))),
  ps: c((m) => m.ps), inspect: s((m) => m.inspect),
  images: i((m) => m.imagesLs), rmi: i((m) => m.imageRm), pull: i((m) => m.pull), push: i((m) => m.push), tag: i((m) => m.tag),
  save: i((m) => m.save), load: i((m) => m.load), import: i((m) => m.imp), login: i((m) => m.login), logout: i((m) => m.logout),
  'image ls': i((m) => m.imagesLs), 'image rm': i((m) => m.imageRm), 'image pull': i((m) => m.pull), 'image push': i((m) => m.push),
  'image tag': i((m) => m.tag), 'image save': i((m) => m.save), 'image load': i((m) => m.load), 'image import': i((m) => m.imp),
  'image inspect': i((m) => (ctx) => m.imageInspect(ctx)), 'image prune': i((m) => m.imagePrune),
  build, 'image build': build, history, 'image history': history,
  'network create': n((m) => m.networkCreate), 'network ls': n((m) => m.networkLs), 'network inspect': n((m) => (ctx) => m.networkInspect(ctx)),
  'network rm': n((m) => m.networkRm), 'network prune': n((m) => m.networkPrune), 'network connect': n((m) => m.networkConnect),
  'network disconnect': n((m) => m.networkDisconnect),
  'volume create': v((m) => m.volumeCreate), 'volume ls': v((m) => m.volumeLs), 'volume inspect': v((m) => (ctx) => m.volumeInspect(ctx)),
  'volume rm': v((m) => m.volumeRm), 'volume prune': v((m) => m.volumePrune),
  events, 'system events': events, info: s((m) => m.info), 'system info': s((m) => m.info), 'system df': s((m) => m.df),
  'system prune': s((m) => m.systemPrune), version,
  'daemon up': daemon('up'), 'daemon down': daemon('down'), 'daemon status': daemon('status'),
};

export async function main(argv: string[], io: Streams, env: NodeJS.ProcessEnv): Promise<number> {
  const errColor = useColor(io.stderr, env);
  const fail = (e: unknown, code: number, debug = false): number => {
    io.stderr.write(`${paint('berth:', 'red', errColor)} ${context().messageOf(e)}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return code;
  };
  if (argv[0] === '--version' || argv[0] === '-v') argv = ['version'];
  let p: ParsedCommand;
  try {
    p = parseCommandLine(BERTH, argv);
  } catch (e) {
    return fail(e, EXIT_BERTH_FAILURE); // usage errors: 125, nothing contacted
  }
  if (p.help) {
    io.stdout.write(renderHelp(p.command, p.path));
    // `berth` alone prints its help and fails, as docker does; asking for it succeeds.
    return argv.length === 0 ? 1 : 0;
  }
  const key = p.path.slice(1).join(' ');
  const handler = HANDLERS[key];
  if (!handler) return fail(new Error(`"${key}" has no implementation in this berth build`), EXIT_BERTH_FAILURE);
  const { Ctx } = context();
  const ctx = new Ctx(p, io, env);
  try {
    return await handler(ctx);
  } catch (e) {
    const err = ctx.explain(e);
    // Cannot reach a service: berth itself failed, whatever the command.
    const unreachable = isBerthError(err) && /^cannot reach the /.test(err.message);
    return fail(err, unreachable ? EXIT_BERTH_FAILURE : exitCodeFor(key, err), ctx.bool('debug'));
  } finally {
    ctx.close();
  }
}

/** 128 + SIGPIPE. */
const EXIT_BROKEN_PIPE = 141;

/** Runs the CLI on this process's argv and exits with its code (stdout flushed first). */
export function run(): void {
  // A reader that went away (`berth run ... | head -1`): stop quietly with the
  // status a process killed by SIGPIPE has (141, as the docker CLI), instead
  // of an unhandled 'error' event. What berth started goes on server-side
  // (--rm is the engine's job).
  for (const out of [process.stdout, process.stderr]) {
    out.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(EXIT_BROKEN_PIPE);
      throw e;
    });
  }
  // process.stdin is made when first read (a tty or pipe handle costs a few
  // ms of every start): only commands that read stdin touch it.
  const io: Streams = {
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
  };
  main(process.argv.slice(2), io, process.env).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e: unknown) => {
      process.stderr.write(`berth: ${context().messageOf(e)}\n`);
      process.exit(EXIT_BERTH_FAILURE);
    },
  );
}

// `node dist/main.js`; bin/berth calls run() itself.
if (require.main === module) run();
