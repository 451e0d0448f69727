// Runs the iproute2/iptables tools berth drives for host-side setup. Each call
// is one process; callers batch (ip -batch, iptables-restore) to keep the
// count per operation small.
import { spawn } from 'node:child_process';
import { InternalError } from '@berth/errors';
import { helperEnv } from './orphans';

export interface CommandResult { code: number; stdout: string; stderr: string }

export function runCommand(file: string, args: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: helperEnv(), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({
      code: code ?? 1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'),
    }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Like runCommand, but a non-zero exit throws naming the command and its stderr. */
export async function mustRun(file: string, args: string[], input?: string): Promise<string> {
  const r = await runCommand(file, args, input);
  if (r.code !== 0) {
    throw new InternalError(`${file} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}${input ? `\ninput:\n${input}` : ''}`);
  }
  return r.stdout;
}
