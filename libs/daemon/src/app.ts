// The composition root every service app shares: parse the few flags an app
// takes, find NATS, run the modules until SIGTERM/SIGINT.
import { berthPaths, type ServiceModule } from '@berth/kit';
import { natsFromEnv } from '@berth/events';
import { natsEnv, resolveNats } from './nats';
import { runServices } from './run';
import { trimWhenSettled } from './settle';
import { lowerOomScore } from './supervisor';

export interface AppOptions {
  /** Start a private nats-server when none is reachable (npm start). */
  withNats?: boolean;
}

export async function runApp(modules: ServiceModule[], opts: AppOptions = {}): Promise<void> {
  const paths = berthPaths();
  // An unlimited container must not get a service OOM-killed: -500 as dockerd.
  // Refused without CAP_SYS_RESOURCE; the monitors then raise the containers
  // instead (docs/design/monitor.md, "OOM score").
  const oom = lowerOomScore(-500);
  if (!oom.lowered) process.stderr.write(`berth: oom_score_adj stays ${oom.adj} (lowering refused: ${oom.error}); containers are scored above it by their monitors\n`);
  // NATS_URL and its credentials, else berth's own server and its token (nats.ts).
  const fromEnv = natsFromEnv(process.env, paths.root);
  let natsUrl = fromEnv.servers;
  let natsAuth = fromEnv.auth;
  let natsProc: import('node:child_process').ChildProcess | undefined;
  if (opts.withNats) {
    const nats = await resolveNats(paths);
    natsUrl = nats.url;
    natsAuth = nats.auth;
    natsProc = nats.process;
    if (nats.displaced) process.stderr.write(`berth: ${nats.displaced}; berth's own NATS server runs on ${nats.url} instead\n`);
    // The engine's Events reader finds the server the way every service does (natsFromEnv).
    Object.assign(process.env, natsEnv(paths, nats.url));
  }
  const stopNats = async () => {
    if (!natsProc || natsProc.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      natsProc!.once('exit', () => resolve());
      natsProc!.kill('SIGTERM');
    });
  };
  try {
    const stack = await runServices(modules, { paths, natsUrl, natsAuth, handleSignals: false });
    let stopping = false;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stopping) process.exit(130);
      stopping = true;
      stack.stop().then(stopNats).finally(() => process.exit(sig === 'SIGINT' ? 130 : 0));
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    for (const h of stack.hosts) {
      process.stderr.write(`berth ${h.info.name}: serving on ${h.info.socket}${h.info.metricsUrl ? `, metrics ${h.info.metricsUrl}` : ''}\n`);
    }
    // What start-up freed goes back to the kernel once it is over (settle.ts).
    const log = stack.hosts[0]?.log;
    trimWhenSettled((released, ms) => log?.debug({ released, ms }, 'start-up memory returned (malloc_trim)'));
  } catch (e) {
    await stopNats();
    throw e;
  }
}

/** Runs `main` and turns a failure into a message and exit code 1. */
export function mainOf(fn: () => Promise<void>): void {
  fn().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
