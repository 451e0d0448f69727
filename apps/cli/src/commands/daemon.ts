// berth daemon up [--split] | down | status
import { daemonDown, daemonStatus, daemonUp, readDaemonRecord } from '@berth/daemon';
import { berthPaths } from '@berth/kit';

export async function daemonCommand(args: string[], out: NodeJS.WritableStream): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'up': {
      const unknown = rest.filter((a) => a !== '--split');
      if (unknown.length) throw new UsageError(`berth daemon up: unknown flag "${unknown[0]}"; accepted: --split`);
      const { record, readyMs } = await daemonUp({ split: rest.includes('--split') });
      out.write(`berth stack up (${record.layout}, ${record.processes.length} process${record.processes.length > 1 ? 'es' : ''}) in ${readyMs} ms; events on ${record.natsUrl}\n`);
      await printStatus(out);
      return 0;
    }
    case 'down': {
      const stopped = await daemonDown();
      out.write(stopped ? 'berth stack stopped\n' : `no berth stack recorded in ${berthPaths().run}/daemon.json\n`);
      return 0;
    }
    case 'status':
      return printStatus(out);
    case undefined:
    case '--help':
    case '-h':
      out.write('Usage: berth daemon up [--split] | down | status\n\n  up       start every service in the background (one berthd process, or one per service with --split)\n  down     stop what up started (containers keep running)\n  status   health, pid, socket and metrics URL of each service\n');
      return sub === undefined ? 1 : 0;
    default:
      throw new UsageError(`berth daemon: unknown command "${sub}"; expected up, down or status`);
  }
}

async function printStatus(out: NodeJS.WritableStream): Promise<number> {
  const rows = await daemonStatus();
  const record = readDaemonRecord();
  const table = [['SERVICE', 'HEALTH', 'PID', 'SOCKET', 'METRICS', 'VERSION']];
  for (const r of rows) table.push([r.name, r.health, r.pid ? String(r.pid) : '-', r.socket, r.metricsUrl ?? '-', r.version ?? '-']);
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) out.write(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('') + '\n');
  if (record) out.write(`layout: ${record.layout}; nats: ${record.natsUrl}\n`);
  return rows.every((r) => r.health === 'SERVING') ? 0 : 1;
}

export class UsageError extends Error {}
