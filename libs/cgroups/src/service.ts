// The cgroups service's gRPC layer (berth.cgroups.v1.Cgroups): maps wire
// messages onto CgroupsManager and back, nothing else (docs/design/services.md).
// Typed errors thrown by the manager become gRPC statuses in the kit.
//
// Env: BERTH_CGROUP_PARENT (default "berth") is the parent every container
// cgroup lives under; BERTH_CGROUP_DRIVER=v1|v2 overrides detection.
// Events: OOM kills go to NATS berth.cgroups.container.oom as
// berth.events.v1.OomEvent {containerId, cgroupPath, count (total kills)}.
// Reconcile is not run here: the engine calls the RPC at its start, as only
// it knows which containers still exist.
import { subjects } from '@berth/events';
import { stateDir, type AsyncHandlers, type ServiceModule } from '@berth/kit';
import type { cgroupsV1 } from '@berth/proto';
import { CgroupsManager } from './manager';
import { CgroupMetricsCollector } from './metrics';
import { oomEventLoop } from './v1/oom-notifier';
import { cgroupToWire, resourcesFromWire, statsToWire } from './wire';

type Handlers = AsyncHandlers<cgroupsV1.CgroupsHandlers>;
type WireCgroup = cgroupsV1.Cgroup;

export const cgroupsModule: ServiceModule = {
  name: 'cgroups',
  grpcService: 'berth.cgroups.v1.Cgroups',
  async start(ctx) {
    const manager = new CgroupsManager({
      stateDir: stateDir('cgroups', ctx.paths),
      parent: process.env['BERTH_CGROUP_PARENT'] || 'berth',
    });
    manager.on('oom', (id: string, _newKills: number, total: number) => {
      // The record can be gone already when the kill raced a Delete: the
      // path is still <parent>/<id> as far as anyone listening cares.
      let cgroupPath = `${manager.parent}/${id}`;
      try {
        cgroupPath = manager.get(id).path;
      } catch {
        /* deleted meanwhile */
      }
      ctx.events.publish(subjects.cgroupsOom, { containerId: id, cgroupPath, count: total }, id);
    });
    new CgroupMetricsCollector(manager).register(ctx.registry);

    const cgroup = (info: Parameters<typeof cgroupToWire>[0]) => cgroupToWire(info) as WireCgroup;
    const handlers: Handlers = {
      Create: async (req) =>
        cgroup(
          await manager.create(req.id, {
            parent: req.parent,
            nestedParent: req.nestedParent,
            resources: resourcesFromWire(req.resources as Record<string, unknown> | null),
            name: req.name,
            image: req.image,
            labels: { ...req.labels },
          }),
        ),
      Update: async (req) => {
        if (req.name !== undefined) {
          const renamed = manager.rename(req.id, req.name);
          if (!req.resources) return cgroup(renamed);
        }
        return cgroup(await manager.update(req.id, resourcesFromWire(req.resources as Record<string, unknown> | null)));
      },
      AddProcess: async (req) => {
        await manager.addProcess(req.id, req.pid);
        return {};
      },
      Freeze: async (req) => {
        await manager.freeze(req.id);
        return {};
      },
      Thaw: async (req) => {
        await manager.thaw(req.id);
        return {};
      },
      Stats: async (req) => statsToWire(await manager.stats(req.id)) as cgroupsV1.CgroupStats,
      ListProcesses: async (req) => ({ pids: await manager.listProcesses(req.id) }),
      KillAll: async (req) => {
        // 0 = the manager's default timeout; '' = SIGKILL (the manager reads the text).
        await manager.killAll(req.id, req.signal, req.timeoutMs ? { timeoutMs: req.timeoutMs } : {});
        return {};
      },
      Delete: async (req) => {
        await manager.delete(req.id, { force: req.force });
        return {};
      },
      List: async () => ({ cgroups: manager.list().map(cgroup) }),
      Get: async (req) => cgroup(manager.get(req.id)),
      Reconcile: async (req) => manager.reconcile(req.existingIds, req.asOfMs || Date.now()),
    };
    return {
      handlers,
      close: async () => {
        manager.close();
        // The v1 notifier is one worker thread per process; ending it lets the
        // process exit. It starts again if another manager watches later.
        if (manager.driver.version === 'v1') oomEventLoop.shutdown();
      },
    };
  },
};
