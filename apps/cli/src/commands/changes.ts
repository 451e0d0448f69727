// berth diff and berth export: a container's root as the engine sees it
// (Engine.Changes, Engine.Export), printed as docker diff ("C /etc") and
// written as docker export's tar.
import { once } from 'node:events';
import { createWriteStream, rmSync } from 'node:fs';
import { InvalidArgumentError } from '@berth/errors';
import type { engineV1 } from '@berth/proto';
import type { Ctx } from '../context';

const LETTER: Record<string, string> = { CHANGE_KIND_MODIFIED: 'C', CHANGE_KIND_ADDED: 'A', CHANGE_KIND_DELETED: 'D' };

export async function diff(ctx: Ctx): Promise<number> {
  const [id] = ctx.p.args as [string];
  const r = await ctx.engine().Changes({ id });
  for (const c of r.changes) ctx.out(`${LETTER[c.kind] ?? '?'} ${c.path}\n`);
  return 0;
}

export async function exportContainer(ctx: Ctx): Promise<number> {
  const [id] = ctx.p.args as [string];
  const output = ctx.str('output');
  if (!output && ctx.io.stdout.isTTY) {
    throw new InvalidArgumentError('cowardly refusing to save to a terminal. Use the -o flag or redirect', { field: 'output' });
  }
  const call = ctx.engine().Export({ id }) as AsyncIterable<engineV1.ExportResponse__Output> & { cancel(): void };
  // The file is created with the first bytes, so a failed export (no such container) leaves none behind.
  let dest: NodeJS.WritableStream | undefined = output ? undefined : ctx.io.stdout;
  try {
    for await (const m of call) {
      dest ??= createWriteStream(output, { mode: 0o600 });
      if (!dest.write(m.data)) await once(dest, 'drain');
    }
  } catch (e) {
    if (output && dest) { dest.end(); await once(dest, 'finish'); rmSync(output, { force: true }); }
    throw e;
  }
  if (output) {
    dest ??= createWriteStream(output, { mode: 0o600 });
    dest.end();
    await once(dest, 'finish');
  }
  return 0;
}
