// berth history IMAGE: the image's history entries (Images.Inspect: the
// config's history and the manifest's layers), newest first, as docker
// history prints them (@berth/cli-kit history.ts).
import { HISTORY_FORMAT, historyRows } from '@berth/cli-kit';
import type { Ctx } from '../context';

export async function history(ctx: Ctx): Promise<number> {
  const [reference] = ctx.p.args as [string];
  const ins = await ctx.images().Inspect({ reference, platform: null });
  const items = ins.history.map((h) => ({ created: h.created, createdBy: h.createdBy, comment: h.comment, emptyLayer: h.emptyLayer }));
  const sizes = ins.layers.map((l) => Number(l.descriptor?.size ?? 0));
  const rows = historyRows(ins.image?.id ?? '', items, sizes, Date.now(), { noTrunc: ctx.bool('no-trunc'), human: ctx.bool('human') });
  if (ctx.bool('quiet')) {
    for (const r of rows) ctx.out(`${String(r.ID)}\n`);
    return 0;
  }
  ctx.table(rows, HISTORY_FORMAT);
  return 0;
}
