// berth info / system df / system prune, and the top-level
// `inspect` that finds a container, image, volume or network by name.
import { InvalidArgumentError, isNotFound } from '@berth/errors';
import { formatEach, humanSize } from '@berth/cli-kit';
import { Ctx, confirm, isConnectionFailure } from '../context';
import { containerPrune, inspectContainers, printInspect } from './containers';
import { imageDoc, imagePrune } from './images';
import { networkDoc, networkPrune } from './networks';
import { volumeDoc, volumePrune } from './volumes';

export async function info(ctx: Ctx): Promise<number> {
  const i = await ctx.engine().Info({});
  const format = ctx.str('format');
  const doc = {
    Containers: i.containers, ContainersRunning: i.containersRunning, ContainersPaused: i.containersPaused, ContainersStopped: i.containersStopped,
    Volumes: i.volumes, StateDir: i.stateDir, SchemaVersion: i.schemaVersion, ServerVersion: i.serverVersion, Services: i.servicesHealthy,
  };
  if (format) {
    ctx.out(formatEach(format, [doc]));
    return 0;
  }
  const services = Object.keys(i.servicesHealthy).sort().map((s) => `  ${s}: ${i.servicesHealthy[s] ? 'healthy' : 'UNHEALTHY'}`).join('\n');
  ctx.out(
    `Server:\n Containers: ${i.containers}\n  Running: ${i.containersRunning}\n  Paused: ${i.containersPaused}\n  Stopped: ${i.containersStopped}\n` +
    ` Volumes: ${i.volumes}\n Server Version: ${i.serverVersion}\n Berth Root Dir: ${i.stateDir}\n Schema Version: ${i.schemaVersion}\n` +
    ` Services:\n${services.replace(/^/gm, ' ')}\n`,
  );
  return 0;
}

export async function df(ctx: Ctx): Promise<number> {
  const engine = ctx.engine();
  const images = ctx.images();
  const [cs, is, vs] = await Promise.all([
    engine.ListContainers({ all: true, filters: {}, limit: 0, size: true }),
    images.List({ reference: [], label: [], before: '', since: '' }),
    engine.ListVolumes({ filters: {} }),
  ]);
  const ids = [...new Set(is.images.map((i) => i.id))];
  const sizes = await Promise.all(ids.map((id) => images.Inspect({ reference: id, platform: null }).then((r) => r.size, () => 0)));
  const usedImages = new Set(cs.containers.map((c) => c.imageDigest));
  const imgTotal = sizes.reduce((a, b) => a + b, 0);
  const imgReclaim = ids.reduce((a, id, k) => a + (usedImages.has(id) ? 0 : sizes[k]!), 0);
  const running = cs.containers.filter((c) => c.state === 'running' || c.state === 'paused');
  const ctrTotal = cs.containers.reduce((a, c) => a + Math.max(0, c.sizeRw), 0);
  const ctrReclaim = cs.containers.filter((c) => !running.includes(c)).reduce((a, c) => a + Math.max(0, c.sizeRw), 0);
  const pct = (r: number, t: number) => `${humanSize(r)} (${t > 0 ? Math.round((r / t) * 100) : 0}%)`;
  const rows = [
    { Type: 'Images', TotalCount: String(ids.length), Active: String(ids.filter((id) => usedImages.has(id)).length), Size: humanSize(imgTotal), Reclaimable: pct(imgReclaim, imgTotal) },
    { Type: 'Containers', TotalCount: String(cs.containers.length), Active: String(running.length), Size: humanSize(ctrTotal), Reclaimable: pct(ctrReclaim, ctrTotal) },
    { Type: 'Local Volumes', TotalCount: String(vs.volumes.length), Active: String(vs.volumes.filter((v) => v.usedBy.length).length), Size: 'N/A', Reclaimable: 'N/A' },
  ];
  ctx.table(rows, {
    defaultTable: '{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}',
    headers: { Type: 'TYPE', TotalCount: 'TOTAL', Active: 'ACTIVE', Size: 'SIZE', Reclaimable: 'RECLAIMABLE' },
  });
  return 0;
}

export async function systemPrune(ctx: Ctx): Promise<number> {
  if (ctx.list('filter').length) throw new InvalidArgumentError('berth system prune does not support --filter yet', { field: 'filter' });
  if (!ctx.bool('force')) {
    const lines = ['all stopped containers', 'all networks not used by at least one container', ...(ctx.bool('volumes') ? ['all anonymous volumes not used by at least one container'] : []),
      ctx.bool('all') ? 'all images without at least one container associated to them' : 'all dangling images'];
    ctx.out(`WARNING! This will remove:\n${lines.map((l) => `  - ${l}\n`).join('')}\n`);
    if (!(await confirm(ctx, 'Are you sure you want to continue?'))) return 0;
  }
  // The individual prunes, without asking again.
  const p = { ...ctx.p, flags: { ...ctx.p.flags, force: true, filter: [], all: ctx.bool('all') } };
  const sub = new Ctx(p, ctx.io, ctx.env);
  try {
    await containerPrune(sub);
    await networkPrune(sub);
    if (ctx.bool('volumes')) await volumePrune(new Ctx({ ...p, flags: { ...p.flags, all: false } }, ctx.io, ctx.env));
    await imagePrune(sub);
  } finally {
    sub.close();
  }
  return 0;
}

/** Top-level inspect: --type, else the first kind that knows the name (container, image, volume, network). */
export async function inspect(ctx: Ctx): Promise<number> {
  const type = ctx.str('type');
  if (type && !['container', 'image', 'volume', 'network'].includes(type)) {
    throw new InvalidArgumentError(`"${type}" is not a valid value for --type: expected container, image, volume or network`, { field: 'type' });
  }
  const docs: unknown[] = [];
  let failed = 0;
  for (const name of ctx.p.args) {
    let doc: unknown;
    let unreachable: unknown;
    let answered = false; // some service said NotFound
    const attempts: [string, () => Promise<unknown>][] = [
      ['container', async () => (await inspectContainers(ctx, [name])).docs[0]],
      ['image', async () => imageDoc(await ctx.images().Inspect({ reference: name, platform: null }))],
      ['volume', async () => volumeDoc(await ctx.engine().InspectVolume({ name }))],
      ['network', async () => networkDoc(await ctx.networks().InspectNetwork({ name }))],
    ];
    for (const [kind, get] of attempts) {
      if (type && type !== kind) continue;
      try {
        doc = await get();
      } catch (e) {
        // A service that is not running cannot know the name; the others may.
        if (!isNotFound(e) && !isConnectionFailure(e) && !/cannot reach/.test((e as Error).message)) throw e;
        if (!isNotFound(e)) unreachable ??= ctx.explain(e);
        else answered = true;
      }
      if (doc !== undefined) break;
    }
    // Nothing could be asked: the stack is down, say so (exit 125).
    if (doc === undefined && unreachable && !answered) throw unreachable;
    if (doc === undefined) {
      const note = unreachable ? ` (not every service could be asked: ${(unreachable as Error).message})` : '';
      ctx.err(`berth: no such object: ${name}${note}\n`);
      failed++;
    } else docs.push(doc);
  }
  printInspect(ctx, docs);
  return failed ? 1 : 0;
}
