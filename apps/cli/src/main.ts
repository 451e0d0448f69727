// berth: the command line. The command tree, flags and --help come from
// @berth/cli-kit (BERTH); each leaf maps to a handler in src/commands/ that
// validates its request, then calls the engine (or the images / networks
// service) over gRPC.
// Exit codes as Docker's: the container's own for run/start -a/exec/wait,
// 125 when berth itself fails (bad flags, unreachable engine, run/create
// errors), 126/127 when the container's command cannot be invoked / is not
// found, 1 for other commands' failures.
import { InvalidArgumentError, isBerthError } from '@berth/errors';
import { BERTH, EXIT_BERTH_FAILURE, exitCodeFor, paint, parseCommandLine, renderHelp, useColor, type ParsedCommand } from '@berth/cli-kit';
import { Ctx, messageOf, type Streams } from './context';
import * as c from './commands/containers';
import * as i from './commands/images';
import * as n from './commands/networks';
import * as v from './commands/volumes';
import * as s from './commands/system';
import { events } from './commands/events';
import { daemonCommand } from './commands/daemon';

type Handler = (ctx: Ctx) => Promise<number>;

const daemon = (sub: 'up' | 'down' | 'status'): Handler => async (ctx) => {
  if (sub === 'status' && ctx.str('format')) throw new InvalidArgumentError('--format is not supported by daemon status yet', { field: 'format' });
  return daemonCommand([sub, ...(ctx.bool('split') ? ['--split'] : [])], ctx.io.stdout);
};

/** Command path (without "berth") -> handler. Aliases resolve to the command's name in the path. */
const CONTAINER: Record<string, Handler> = {
  attach: c.attach, commit: c.commit, cp: c.cp, create: c.create, exec: c.exec, inspect: c.containerInspect, kill: c.kill,
  logs: c.logs, ls: c.ps, pause: c.pause, port: c.port, prune: c.containerPrune, rename: c.rename, restart: c.restart,
  rm: c.rm, run: c.run, start: c.start, stats: c.stats, stop: c.stop, top: c.top, unpause: c.unpause, update: c.update, wait: c.wait,
};

export const HANDLERS: Record<string, Handler> = {
  ...Object.fromEntries(Object.entries(CONTAINER).map(([k, h]) => [`container ${k}`, h])),
  ...Object.fromEntries(Object.entries(CONTAINER).filter(([k]) => !['ls', 'prune', 'inspect'].includes(k))),
  ps: c.ps, inspect: s.inspect,
  images: i.imagesLs, rmi: i.imageRm, pull: i.pull, push: i.push, tag: i.tag, save: i.save, load: i.load, import: i.imp,
  login: i.login, logout: i.logout,
  'image ls': i.imagesLs, 'image rm': i.imageRm, 'image pull': i.pull, 'image push': i.push, 'image tag': i.tag,
  'image save': i.save, 'image load': i.load, 'image import': i.imp, 'image inspect': (ctx) => i.imageInspect(ctx), 'image prune': i.imagePrune,
  'network create': n.networkCreate, 'network ls': n.networkLs, 'network inspect': (ctx) => n.networkInspect(ctx), 'network rm': n.networkRm,
  'network prune': n.networkPrune, 'network connect': n.networkConnect, 'network disconnect': n.networkDisconnect,
  'volume create': v.volumeCreate, 'volume ls': v.volumeLs, 'volume inspect': (ctx) => v.volumeInspect(ctx), 'volume rm': v.volumeRm, 'volume prune': v.volumePrune,
  events, 'system events': events, info: s.info, 'system info': s.info, 'system df': s.df, 'system prune': s.systemPrune,
  version: s.version,
  'daemon up': daemon('up'), 'daemon down': daemon('down'), 'daemon status': daemon('status'),
};

export async function main(argv: string[], io: Streams, env: NodeJS.ProcessEnv): Promise<number> {
  const errColor = useColor(io.stderr, env);
  const fail = (e: unknown, code: number, debug = false): number => {
    io.stderr.write(`${paint('berth:', 'red', errColor)} ${messageOf(e)}\n`);
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

/** Runs the CLI on this process's argv and exits with its code (stdout flushed first). */
export function run(): void {
  main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, process.env).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e: unknown) => {
      process.stderr.write(`berth: ${messageOf(e)}\n`);
      process.exit(EXIT_BERTH_FAILURE);
    },
  );
}

// `node dist/main.js`; bin/berth calls run() itself.
if (require.main === module) run();
