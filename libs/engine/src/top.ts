// docker top: run ps on the host and keep the rows whose PID is in the
// container's cgroup (moby daemon/top_unix.go does the same; ps inside the
// container would need a ps binary in the image).
import { execFile } from 'node:child_process';
import { InvalidArgumentError, InternalError } from '@berth/errors';

export interface TopResult {
  titles: string[];
  processes: string[][];
}

/**
 * Parses ps output and keeps rows whose PID column is in `pids`. The last
 * column (the command) may contain spaces, so each row is split into
 * titles.length fields with the remainder joined into the last.
 */
export function filterPsOutput(output: string, pids: readonly number[]): TopResult {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const header = lines.shift();
  if (header === undefined) throw new InternalError('ps printed nothing');
  const titles = header.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) {
    throw new InvalidArgumentError(`ps output has no PID column (titles: ${titles.join(' ')}); include pid in the ps options`, { field: 'ps_args' });
  }
  const want = new Set(pids);
  const processes: string[][] = [];
  for (const line of lines) {
    const parts = line.trim().split(/\s+/);
    const fields = [...parts.slice(0, titles.length - 1), parts.slice(titles.length - 1).join(' ')];
    const pid = Number(fields[pidCol]);
    if (want.has(pid)) processes.push(fields);
  }
  return { titles, processes };
}

/** Runs host ps with the given options (default -ef). */
export function runPs(args: string[]): Promise<string> {
  const argv = args.length ? args : ['-ef'];
  return new Promise((resolve, reject) => {
    execFile('ps', argv, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new InvalidArgumentError(`ps ${argv.join(' ')} failed: ${stderr.trim() || err.message}`, { field: 'ps_args' }));
      else resolve(stdout);
    });
  });
}
