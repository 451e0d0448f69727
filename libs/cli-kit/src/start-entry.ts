// @berth/cli-kit/start: what every `berth` start needs, and nothing more: the
// command tree and its parser and help, the exit codes, the terminal and the
// --format output. The package's index also carries the run/create request
// translation (run-request.ts, requests.ts, opts.ts), which evaluates
// @berth/container-config, cri-log, seccomp and node:net; the CLI's main and
// the commands on its start path (`version`, `--help`) import this entry, so
// those load only with the commands that build such requests.
export * from './command';
export * from './commands';
export * from './exit-codes';
export * from './format';
export * from './terminal';
