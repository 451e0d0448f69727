// berth daemon up [--split] | down | status
import { formatRows, terminalWidth } from '@berth/cli-kit';
import { daemonDown, daemonStatus, daemonUp, readDaemonRecord } from '@berth/daemon';
import { berthPaths } from '@berth/kit';

/** `format`: daemon status --format (table, json or a Go template over Service, Health, Pid, Socket, Metrics, Version). */
export async function daemonCommand(args: string[], out: NodeJS.WritableStream, format = ''): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'up': {
      const unknown = rest.filter((a) => a !== '--split');
      if (unknown.length) throw new UsageError(`berth daemon up: unknown flag "${unknown[0]}"; accepted: --split`);
      // Without --split a stack that is partly up keeps the layout it runs in.
      const { record, readyMs, healed, started, natsDisplaced } = await daemonUp(rest.includes('--split') ? { split: true } : {});
      if (natsDisplaced) out.write(`berth: ${natsDisplaced}; berth's own NATS server runs on ${record.natsUrl} instead (set NATS_URL to use a server of your own)\n`);
      if (!healed) out.write(`berth stack up (${record.layout}, ${record.processes.length} process${record.processes.length > 1 ? 'es' : ''}) in ${readyMs} ms; events on ${record.natsUrl}\n`);
      else if (started.length) out.write(`berth stack was partly down: started ${started.join(', ')} (${record.layout}) in ${readyMs} ms\n`);
      else out.write(`berth stack already up (${record.layout})\n`);
      await printStatus(out);
      return 0;
    }
    case 'down': {
      const stopped = await daemonDown();
      out.write(stopped ? 'berth stack stopped\n' : `no berth stack recorded in ${berthPaths().run}/daemon.json\n`);
      return 0;
    }
    case 'status':
      return printStatus(out, format);
    case undefined:
    case '--help':
    case '-h':
      out.write('Usage: berth daemon up [--split] | down | status\n\n  up       start every service in the background (one berthd process, or one per service with --split),\n           restarted when one dies; on a stack that is partly up, start what is missing\n  down     stop what up started (containers keep running)\n  status   health, pid, socket and metrics URL of each service\n');
      return sub === undefined ? 1 : 0;
    default:
      throw new UsageError(`berth daemon: unknown command "${sub}"; expected up, down or status`);
  }
}

async function printStatus(out: NodeJS.WritableStream, format = ''): Promise<number> {
  const rows = await daemonStatus();
  const record = readDaemonRecord();
  const table = rows.map((r) => ({
    Service: r.name, Health: r.health, Pid: r.pid ? String(r.pid) : '-', Socket: r.socket, Metrics: r.metricsUrl ?? '-', Version: r.version ?? '-',
  }));
  out.write(formatRows(format, table, {
    defaultTable: '{{.Service}}\t{{.Health}}\t{{.Pid}}\t{{.Socket}}\t{{.Metrics}}\t{{.Version}}',
    maxWidth: terminalWidth(out as NodeJS.WriteStream),
  }));
  if (record && (format === '' || format.trim().startsWith('table'))) {
    const restarts = record.processes.filter((p) => p.restarts).map((p) => `${p.name} ${p.restarts}`);
    const supervisor = record.supervisorPid ? `supervisor pid ${record.supervisorPid}` : 'supervisor not running (berth daemon up starts it)';
    out.write(`layout: ${record.layout}; nats: ${record.natsUrl}; ${supervisor}${restarts.length ? `; restarts: ${restarts.join(', ')}` : ''}\n`);
  }
  return rows.every((r) => r.health === 'SERVING') ? 0 : 1;
}

export class UsageError extends Error {}
