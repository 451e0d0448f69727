// The cri service module: the Kubernetes CRI (runtime.v1 RuntimeService and
// ImageService) on BERTH_RUN/cri.sock, for kubelet, crictl and critest. A
// gateway like docker-api: it translates CRI messages onto the engine and
// images contracts and keeps no state of its own (docs/design/cri.md).

import { BerthError, ErrorCode, InvalidArgumentError } from '@berth/errors';
import { BERTH_VERSION, send, socketPath, type AsyncHandlers, type ServiceModule } from '@berth/kit';
import type { Server } from 'node:net';
import { createStreamingServer } from '@berth/cri-streaming';
import { frontSocket } from './front-socket';
import { streamingRuntime } from './streaming';
import type { runtimeV1 } from '@berth/proto';
import { createBackends } from './backends';
import { streamContainerEvents } from './container-events';
import { CriContainers } from './containers';
import { execSync } from './exec-sync';
import { CriImages } from './images';
import { PAUSE_IMAGE, PodSandboxes } from './sandboxes';
import { containerStatsOf, podStatsOf, sampleStats } from './stats';

/** The CRI version berth speaks (runtime.v1, as kubelet 1.26 asks for it). */
export const CRI_API_VERSION = 'v1';
export const RUNTIME_NAME = 'berth';

const unimplemented = (what: string): never => {
  throw new BerthError(ErrorCode.FailedPrecondition, `${what} is not supported by berth's CRI`);
};

export const criModule: ServiceModule = {
  name: 'cri',
  grpcService: 'runtime.v1.RuntimeService',
  async start(ctx) {
    const b = createBackends((s) => ctx.addressesOf(s));
    const pods = new PodSandboxes(b);
    const containers = new CriContainers(b, pods);
    const images = new CriImages(b, ctx.paths.root);
    // kubelet's streaming server: Exec/Attach/PortForward answer with a URL on it.
    // BERTH_CRI_STREAMING=host:port (default a free port on 127.0.0.1).
    const streaming = await createStreamingServer({
      runtime: streamingRuntime(b, pods, containers),
      address: process.env['BERTH_CRI_STREAMING'] || '127.0.0.1:0',
    }).catch((e: unknown) => {
      b.close();
      throw e;
    });

    const runtime: AsyncHandlers<runtimeV1.RuntimeServiceHandlers> = {
      Version: async () => ({ version: '0.1.0', runtimeName: RUNTIME_NAME, runtimeVersion: BERTH_VERSION, runtimeApiVersion: CRI_API_VERSION }),
      Status: async (req) => ({
        status: {
          conditions: [
            { type: 'RuntimeReady', status: true, reason: '', message: '' },
            { type: 'NetworkReady', status: true, reason: '', message: '' },
          ],
        },
        info: (req.verbose ? { config: JSON.stringify({ runtime: RUNTIME_NAME, version: BERTH_VERSION, sandboxImage: PAUSE_IMAGE }) } : {}) as Record<string, string>,
      }),
      UpdateRuntimeConfig: async () => ({}),

      RunPodSandbox: async (req) => ({ podSandboxId: await pods.run(req) }),
      StopPodSandbox: async (req) => {
        await pods.stop(req.podSandboxId);
        return {};
      },
      RemovePodSandbox: async (req) => {
        await pods.remove(req.podSandboxId);
        return {};
      },
      // containers_statuses always (evented PLEG's relist reads them from here); verbose adds info.
      PodSandboxStatus: async (req) => {
        const res = await pods.status(req.podSandboxId, req.verbose);
        return { ...res, containersStatuses: await containers.statusesInPod(res.status?.id ?? req.podSandboxId) };
      },
      ListPodSandbox: async (req) => ({ items: await pods.listWire(req.filter) }),

      CreateContainer: async (req) => ({ containerId: await containers.create(req) }),
      StartContainer: async (req) => {
        await containers.start(req.containerId);
        return {};
      },
      StopContainer: async (req) => {
        await containers.stop(req.containerId, Number(req.timeout));
        return {};
      },
      RemoveContainer: async (req) => {
        await containers.remove(req.containerId);
        return {};
      },
      ListContainers: async (req) => ({ containers: await containers.listWire(req.filter) }),
      ContainerStatus: async (req) => containers.status(req.containerId),
      UpdateContainerResources: async (req) => {
        await containers.updateResources(req.containerId, req.linux);
        return {};
      },
      ReopenContainerLog: async (req) => {
        // The engine's copy of the log holds the file at log_path open: it reopens it there.
        const c = await containers.get(req.containerId);
        await b.engine.ReopenContainerLog({ id: c.id });
        return {};
      },

      ExecSync: async (req) => {
        if (!req.cmd.length) throw new InvalidArgumentError('ExecSync needs a command', { field: 'cmd' });
        const c = await containers.get(req.containerId);
        const r = await execSync(b, c.id, req.cmd, Number(req.timeout));
        return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
      },
      Exec: async (req) => {
        const c = await containers.get(req.containerId);
        if (!req.cmd.length) throw new InvalidArgumentError('Exec needs a command', { field: 'cmd' });
        return streaming.getExec({ containerId: c.id, cmd: req.cmd, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
      },
      Attach: async (req) => {
        const c = await containers.get(req.containerId);
        return streaming.getAttach({ containerId: c.id, tty: req.tty, stdin: req.stdin, stdout: req.stdout, stderr: req.stderr });
      },
      PortForward: async (req) => {
        const p = await pods.get(req.podSandboxId);
        return streaming.getPortForward({ podSandboxId: p.id, ports: req.port });
      },

      ContainerStats: async (req) => {
        const c = await containers.get(req.containerId);
        const samples = await sampleStats(b, c.summary.state === 'running' ? [c.id] : []);
        return { stats: containerStatsOf(c, samples.get(c.id)) };
      },
      ListContainerStats: async (req) => {
        const f = req.filter;
        const list = (await containers.list())
          .filter((c) => !f?.id || c.id.startsWith(f.id))
          .filter((c) => !f?.podSandboxId || c.sandboxId.startsWith(f.podSandboxId))
          .filter((c) => Object.entries(f?.labelSelector ?? {}).every(([k, v]) => c.record.labels[k] === v));
        const samples = await sampleStats(b, list.filter((c) => c.summary.state === 'running').map((c) => c.id));
        return { stats: list.map((c) => containerStatsOf(c, samples.get(c.id))) };
      },
      PodSandboxStats: async (req) => {
        const p = await pods.get(req.podSandboxId);
        return { stats: await podStats(p) };
      },
      ListPodSandboxStats: async (req) => {
        const f = req.filter;
        const list = (await pods.list())
          .filter((p) => !f?.id || p.id.startsWith(f.id))
          .filter((p) => Object.entries(f?.labelSelector ?? {}).every(([k, v]) => p.record.labels[k] === v));
        return { stats: await Promise.all(list.map(podStats)) };
      },

      CheckpointContainer: async () => unimplemented('CheckpointContainer'),
      GetContainerEvents: async (_req, call, ctx) => streamContainerEvents(b, pods, containers, (ev) => send(call, ev, ctx.signal), ctx.signal),
      ListMetricDescriptors: async () => ({ descriptors: [] }),
      ListPodSandboxMetrics: async () => ({ podMetrics: [] }),
    };

    const podStats = async (p: Awaited<ReturnType<PodSandboxes['get']>>): Promise<runtimeV1.PodSandboxStats> => {
      const all = (await containers.list()).filter((c) => c.sandboxId === p.id);
      const running = all.filter((c) => c.summary.state === 'running').map((c) => c.id);
      const samples = await sampleStats(b, [...(p.summary.state === 'running' ? [p.id] : []), ...running]);
      return podStatsOf(p, all.map((c) => containerStatsOf(c, samples.get(c.id))), samples.get(p.id));
    };

    const imageService: AsyncHandlers<runtimeV1.ImageServiceHandlers> = {
      ListImages: async (req) => ({ images: await images.list(req.filter) }),
      ImageStatus: async (req) => {
        const image = await images.status(req.image?.image ?? '');
        const info: Record<string, string> = req.verbose && image ? { info: JSON.stringify(image) } : {};
        return { image, info };
      },
      PullImage: async (req) => {
        const ref = req.image?.image ?? '';
        if (!ref) throw new InvalidArgumentError('PullImage needs image.image', { field: 'image.image' });
        return { imageRef: await images.pull(ref, req.auth) };
      },
      RemoveImage: async (req) => {
        await images.remove(req.image?.image ?? '');
        return {};
      },
      ImageFsInfo: async () => images.fsInfo(),
    };

    // kubelet, crictl and critest (Go gRPC) send the socket path as :authority,
    // which Node's HTTP/2 refuses: they reach the server through the kit's
    // authority proxy on cri.sock; the server itself listens beside it.
    const inner = `${socketPath('cri', ctx.paths)}.grpc`;
    let proxy: Server;
    try {
      proxy = await frontSocket(socketPath('cri', ctx.paths), inner);
    } catch (e) {
      await streaming.close();
      b.close();
      throw e;
    }
    return {
      handlers: runtime,
      services: { 'runtime.v1.ImageService': imageService },
      socket: inner,
      close: async () => {
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
        await streaming.close();
        b.close();
      },
    };
  },
};

