// berth volume create/ls/inspect/rm/prune: named volumes are the engine's.
import { InvalidArgumentError, isNotFound } from '@berth/errors';
import { VOLUMES_FORMAT, humanSize, parseFilters } from '@berth/cli-kit';
import type { engineV1 } from '@berth/proto';
import { Ctx, confirm, eachArg, filterMap } from '../context';
import { printInspect } from './containers';

/** Docker's volume inspect document. */
export function volumeDoc(v: engineV1.Volume__Output): Record<string, unknown> {
  return {
    CreatedAt: v.createdAtUnixMs ? new Date(v.createdAtUnixMs).toISOString().replace(/\.\d+Z$/, 'Z') : '',
    Driver: v.driver, Labels: v.labels, Mountpoint: v.mountpoint, Name: v.name, Options: v.options, Scope: 'local',
  };
}

function keyValues(flag: string, values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (flag === 'label' && eq < 0) { out[v] = ''; continue; }
    if (eq <= 0) throw new InvalidArgumentError(`invalid argument "${v}" for "--${flag}": expected key=value`, { field: flag });
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

export async function volumeCreate(ctx: Ctx): Promise<number> {
  const name = ctx.p.args[0] ?? ctx.str('name');
  if (ctx.p.args[0] && ctx.str('name') && ctx.str('name') !== ctx.p.args[0]) {
    throw new InvalidArgumentError(`conflicting options: either specify --name or provide positional arg, not both`, { field: 'name' });
  }
  if (name && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw new InvalidArgumentError(`invalid volume name "${name}": expected [a-zA-Z0-9][a-zA-Z0-9_.-]+`, { field: 'name' });
  }
  const driver = ctx.str('driver');
  if (driver !== 'local') throw new InvalidArgumentError(`invalid argument "${driver}" for "-d, --driver": berth has the local driver only`, { field: 'driver' });
  const v = await ctx.engine().CreateVolume({ name, driver, labels: keyValues('label', ctx.list('label')), options: keyValues('opt', ctx.list('opt')) });
  ctx.out(`${v.name}\n`);
  return 0;
}

export async function volumeLs(ctx: Ctx): Promise<number> {
  const f = parseFilters(ctx.list('filter'));
  const res = await ctx.engine().ListVolumes({ filters: filterMap(f) });
  const list = [...res.volumes].sort((a, b) => a.name.localeCompare(b.name));
  if (ctx.bool('quiet')) {
    for (const v of list) ctx.out(`${v.name}\n`);
    return 0;
  }
  ctx.table(list.map((v) => ({
    Name: v.name, Driver: v.driver, Mountpoint: v.mountpoint, Scope: 'local',
    Labels: Object.keys(v.labels).sort().map((k) => `${k}=${v.labels[k]}`).join(','),
    Label: (k: string) => v.labels[k] ?? '', Links: String(v.usedBy.length),
    CreatedAt: v.createdAtUnixMs ? new Date(v.createdAtUnixMs).toISOString() : '',
  })), VOLUMES_FORMAT);
  return 0;
}

export async function volumeInspect(ctx: Ctx, names = ctx.p.args): Promise<number> {
  const docs: unknown[] = [];
  let failed = 0;
  for (const name of names) {
    try {
      docs.push(volumeDoc(await ctx.engine().InspectVolume({ name })));
    } catch (e) {
      if (!isNotFound(e)) throw e;
      ctx.err(`berth: no such volume: ${name}\n`);
      failed++;
    }
  }
  printInspect(ctx, docs);
  return failed ? 1 : 0;
}

export async function volumeRm(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  return eachArg(ctx, ctx.p.args, async (name) => {
    await engine.RemoveVolume({ name, force: ctx.bool('force') });
    return name;
  });
}

export async function volumePrune(ctx: Ctx): Promise<number> {
  const f = parseFilters(ctx.list('filter'));
  const all = ctx.bool('all');
  const what = all ? 'all local volumes not used by at least one container' : 'all anonymous local volumes not used by at least one container';
  if (!ctx.bool('force') && !(await confirm(ctx, `WARNING! This will remove ${what}.\nAre you sure you want to continue?`))) return 0;
  const r = await ctx.engine().PruneVolumes({ filters: filterMap(f), all });
  if (r.deleted.length) ctx.out(`Deleted Volumes:\n${r.deleted.map((d) => `${d}\n`).join('')}\n`);
  ctx.out(`Total reclaimed space: ${humanSize(r.spaceReclaimed)}\n`);
  return 0;
}
