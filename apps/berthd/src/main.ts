// berthd: hosts any subset of berth's services in one Node process, each on
// its own socket with its own metrics endpoint, talking to the others only
// over gRPC. `--services a,b` picks the subset (default: all);
// `--with-nats` starts a private nats-server when none is reachable.
import './threadpool'; // first: sizes the libuv threadpool before anything uses it
import { SERVICE_NAMES, isServiceName, type ServiceModule } from '@berth/kit';
import { mainOf, runApp } from '@berth/daemon';
import { MODULES } from './modules';

function parseArgs(argv: string[]): { services: string[]; withNats: boolean } {
  let services: string[] = [...SERVICE_NAMES];
  let withNats = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--with-nats') withNats = true;
    else if (a === '--services' || a.startsWith('--services=')) {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) throw new Error('--services needs a comma-separated list, e.g. --services engine,images');
      services = v.split(',').map((s) => s.trim()).filter(Boolean);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`Usage: berthd [--services ${SERVICE_NAMES.join(',')}] [--with-nats]\n`);
      process.exit(0);
    } else throw new Error(`berthd: unknown argument "${a}"; see berthd --help`);
  }
  for (const s of services) {
    if (!isServiceName(s)) throw new Error(`--services: unknown service "${s}"; expected some of ${SERVICE_NAMES.join(', ')}`);
  }
  return { services, withNats };
}

mainOf(async () => {
  const { services, withNats } = parseArgs(process.argv.slice(2));
  // Start in MODULES order whatever order --services named them.
  const modules: ServiceModule[] = (Object.keys(MODULES) as (keyof typeof MODULES)[])
    .filter((name) => services.includes(name))
    .map((name) => MODULES[name]);
  await runApp(modules, { withNats });
});
