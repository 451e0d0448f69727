// berth: the command line. Exit codes as Docker's: the container's own for
// run/wait/exec, 125 when berth itself fails, 126/127 when the command cannot
// be invoked / is not found.
import { BERTH_VERSION } from '@berth/kit';
import { daemonCommand, UsageError } from './commands/daemon';

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'daemon':
      return daemonCommand(rest, process.stdout);
    case 'version':
    case '--version':
      process.stdout.write(`berth version ${BERTH_VERSION}\n`);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      process.stdout.write('Usage: berth COMMAND\n\nCommands:\n  daemon    run the berth stack (up, down, status)\n  version   show the version\n');
      return cmd === undefined ? 1 : 0;
    default:
      throw new UsageError(`berth: unknown command "${cmd}"; see berth --help`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`berth: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(125);
  },
);
