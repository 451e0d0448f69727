// berth events: the engine's Events stream (replayed from --since, live
// until --until or Ctrl-C), printed as docker events prints them, or per
// --format with Docker's event fields (Type, Action, Actor.ID,
// Actor.Attributes, time, timeNano, plus the legacy status/id/from).
import { InvalidArgumentError } from '@berth/errors';
import { eventLine, formatEach, parseFilters, parseTimestampArg } from '@berth/cli-kit';
import type { engineV1 } from '@berth/proto';
import { Ctx, filterMap } from '../context';

const FILTER_KEYS = ['container', 'image', 'event', 'label', 'type'];

export function eventDoc(e: engineV1.Event__Output): Record<string, unknown> {
  const attributes = { ...e.attributes, ...(e.name ? { name: e.name } : {}), ...(e.image ? { image: e.image } : {}) };
  return {
    status: e.action, id: e.id, from: e.image, Type: e.type, Action: e.action,
    Actor: { ID: e.id, Attributes: attributes }, scope: 'local',
    time: Math.floor(e.timeUnixMs / 1000), timeNano: e.timeUnixMs * 1_000_000,
  };
}

export async function events(ctx: Ctx): Promise<number> {
  const now = Date.now();
  const f = parseFilters(ctx.list('filter'));
  for (const k of Object.keys(f)) {
    if (!FILTER_KEYS.includes(k)) throw new InvalidArgumentError(`invalid filter '${k}': expected ${FILTER_KEYS.join(', ')}`, { field: 'filter' });
  }
  const since = ctx.str('since') ? parseTimestampArg(ctx.str('since'), now, '--since') : '';
  const until = ctx.str('until') ? parseTimestampArg(ctx.str('until'), now, '--until') : '';
  const format = ctx.str('format');
  const stream = ctx.engine().Events({ since, until, filters: filterMap(f) });
  const stop = () => stream.cancel();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for await (const e of stream as AsyncIterable<engineV1.Event__Output>) {
      if (format) ctx.out(formatEach(format, [eventDoc(e)]));
      else {
        const attrs = { ...e.attributes, ...(e.name ? { name: e.name } : {}), ...(e.image ? { image: e.image } : {}) };
        ctx.out(`${eventLine({ type: e.type, action: e.action, id: e.id, timeUnixMs: e.timeUnixMs, attributes: attrs })}\n`);
      }
    }
  } catch (e) {
    if ((e as { code?: string }).code !== 'Cancelled') throw e;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}
