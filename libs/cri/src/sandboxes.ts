// Pod sandboxes. A sandbox is an engine container running a pause process
// (berth-init as pid 1 over `berth-init --pause`, from the busybox image the images
// service makes from the host's busybox-static): it holds the pod's network,
// IPC and UTS namespaces (and PID, with a pod PID namespace), which the pod's
// containers join with the engine's container:<sandbox> modes. Its IP is the
// one the networks service gave the sandbox; stopping the sandbox stops its
// containers first, removing it removes them. docs/design/cri.md.
import { hostname as osHostname } from 'node:os';
import { parseCgroupParent } from '@berth/container-config';
import { InvalidArgumentError, isNotFound, NotFoundError } from '@berth/errors';
import type { engineV1, runtimeV1 } from '@berth/proto';
import { LONG_CALL, type Backends } from './backends';
import { KIND_LABEL, RECORD_LABEL, SANDBOX_LABEL, decodeRecord, encodeRecord, kubeletLabels, matchesSelector, msToNs, sandboxName, type CriRecord } from './metadata';
import { sandboxHostConfig } from './sandbox-config';
import { ignoreGone } from './containers';

/** The image the pause process runs from (made locally, never pulled). */
export const PAUSE_IMAGE = 'berth.local/pause:3.9';

export interface Sandbox {
  id: string;
  record: CriRecord;
  summary: engineV1.ContainerSummary__Output;
}

export class PodSandboxes {
  constructor(private readonly b: Backends) {}

  async run(req: runtimeV1.RunPodSandboxRequest__Output): Promise<string> {
    const c = req.config;
    if (!c?.metadata) throw new InvalidArgumentError('RunPodSandbox needs config.metadata (name, namespace, uid, attempt)', { field: 'config.metadata' });
    const m = c.metadata;
    const cgroupParent = c.linux?.cgroupParent ?? '';
    if (cgroupParent) {
      const p = parseCgroupParent(cgroupParent);
      if ('error' in p) throw new InvalidArgumentError(`config.linux.cgroup_parent "${cgroupParent}": ${p.error}`, { field: 'config.linux.cgroup_parent' });
    }
    const nsOpts = c.linux?.securityContext?.namespaceOptions;
    const record: CriRecord = {
      metadata: { name: m.name, uid: m.uid, namespace: m.namespace, attempt: m.attempt },
      labels: c.labels, annotations: c.annotations, logPath: c.logDirectory,
      hostNetwork: nsOpts?.network === 'NODE', hostPid: nsOpts?.pid === 'NODE', hostIpc: nsOpts?.ipc === 'NODE',
      cgroupParent, runtimeHandler: req.runtimeHandler,
      hostname: nsOpts?.network === 'NODE' ? osHostname() : c.hostname,
      ...(c.dnsConfig ? { dns: { servers: c.dnsConfig.servers, searches: c.dnsConfig.searches, options: c.dnsConfig.options } } : {}),
    };
    await this.ensurePauseImage();
    const name = sandboxName(m);
    const created = await this.b.engine.CreateContainer({
      name,
      config: {
        image: PAUSE_IMAGE,
        hostname: record.hostNetwork ? '' : c.hostname,
        // The pause process: berth-init's own (it runs nothing, exits 0 on SIGTERM), under
        // berth-init as pid 1. Not a `sleep`: the pod's containers that share its PID
        // namespace see it, and critest's `pgrep sleep` must find only their own.
        cmd: { values: ['/dev/init', '--pause'] },
        entrypoint: { values: [] },
        // kubelet's pod labels (it sets the same ones; a CRI client that does not gets them too), then the request's.
        labels: { ...kubeletLabels(record.metadata, 'POD'), ...c.labels, [KIND_LABEL]: 'sandbox', [RECORD_LABEL]: encodeRecord(record) },
      },
      hostConfig: sandboxHostConfig(c, record),
      pull: 'never',
    });
    try {
      await this.b.engine.StartContainer({ id: created.id });
    } catch (e) {
      await this.b.engine.RemoveContainer({ id: created.id, force: true }).catch(() => undefined);
      throw e;
    }
    return created.id;
  }

  /**
   * The pause image: busybox (made by the images service from the host's
   * busybox-static) with a config of its own, so its image ID is not
   * busybox's and removing a busybox image through the CRI never touches it.
   */
  private async ensurePauseImage(): Promise<void> {
    try {
      await this.b.images.Get({ reference: PAUSE_IMAGE });
      return;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const base = await this.b.transfer.EnsureBusybox({});
    const config = { Cmd: ['sleep', '2147483647'], Labels: { 'io.berth.cri.pause': 'true' } };
    await this.b.images.Commit({
      parent: base.id, configJson: Buffer.from(JSON.stringify(config)), reference: PAUSE_IMAGE,
      createdBy: 'berth cri: the pod sandbox pause image', author: '', comment: '',
    });
  }

  /** The sandbox with this id (or unique id prefix); NOT_FOUND otherwise, or when it is not a sandbox. */
  async get(id: string): Promise<Sandbox> {
    if (!id) throw new NotFoundError('pod sandbox id is empty', { field: 'pod_sandbox_id' });
    const list = await this.list();
    const matches = list.filter((s) => s.id.startsWith(id));
    const found = matches.find((s) => s.id === id) ?? (matches.length === 1 ? matches[0] : undefined);
    if (!found) throw new NotFoundError(`pod sandbox ${id} not found`, { field: 'pod_sandbox_id' });
    return found;
  }

  async list(): Promise<Sandbox[]> {
    const res = await this.b.engine.ListContainers({ all: true, filters: { label: { values: [`${KIND_LABEL}=sandbox`] } } });
    return res.containers.map((s) => ({ id: s.id, record: decodeRecord(s.labels), summary: s }));
  }

  /** The engine containers of the pod's CRI containers. */
  async containersOf(sandboxId: string): Promise<engineV1.ContainerSummary__Output[]> {
    const res = await this.b.engine.ListContainers({ all: true, filters: { label: { values: [`${SANDBOX_LABEL}=${sandboxId}`] } } });
    return res.containers;
  }

  /** Stops every container of the pod, then the pause process (its network attachment goes with it). Idempotent. */
  async stop(id: string): Promise<void> {
    let s: Sandbox;
    try {
      s = await this.get(id);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const containers = await this.containersOf(s.id);
    await Promise.all(containers.filter((c) => c.state === 'running' || c.state === 'paused' || c.state === 'restarting')
      .map((c) => this.b.engine.StopContainer({ id: c.id, timeoutSeconds: 0 }, LONG_CALL).catch(ignoreGone)));
    if (s.summary.state !== 'exited' && s.summary.state !== 'created') {
      await this.b.engine.StopContainer({ id: s.id, timeoutSeconds: 0 }, LONG_CALL).catch(ignoreGone);
    }
  }

  /** Removes the pod's containers and the sandbox, running or not. Idempotent. */
  async remove(id: string): Promise<void> {
    let s: Sandbox;
    try {
      s = await this.get(id);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    for (const c of await this.containersOf(s.id)) await this.b.engine.RemoveContainer({ id: c.id, force: true }).catch(ignoreNotFound);
    await this.b.engine.RemoveContainer({ id: s.id, force: true }).catch(ignoreNotFound);
  }

  /**
   * The sandbox's status; with verbose, info["info"] is a JSON document of
   * what berth knows beyond the CRI's fields (containerd's verbose info has
   * the same key). The containers' statuses are the caller's (service.ts).
   */
  async status(id: string, verbose = false): Promise<runtimeV1.PodSandboxStatusResponse> {
    const s = await this.get(id);
    const ip = s.summary.state === 'running' && !s.record.hostNetwork ? await this.podIp(s.id) : '';
    const status = this.statusOf(s, ip);
    const info: Record<string, string> = verbose ? { info: JSON.stringify(await this.verboseInfo(s)) } : {};
    return { status, info, containersStatuses: [], timestamp: msToNs(Date.now()) };
  }

  /** The status of a sandbox that is gone: what its engine labels still say (GetContainerEvents' DELETED). */
  statusFromLabels(id: string, labels: Record<string, string>): runtimeV1.PodSandboxStatus {
    const record = decodeRecord(labels);
    return {
      id, metadata: record.metadata, state: 'SANDBOX_NOTREADY', createdAt: 0, network: { ip: '', additionalIps: [] },
      labels: record.labels, annotations: record.annotations, runtimeHandler: record.runtimeHandler ?? '',
    };
  }

  private async verboseInfo(s: Sandbox): Promise<Record<string, unknown>> {
    let pid = 0;
    try {
      const doc = JSON.parse((await this.b.engine.InspectContainer({ id: s.id })).json) as { State?: { Pid?: number } };
      pid = doc.State?.Pid ?? 0;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    return {
      pid, processStatus: s.summary.state, image: PAUSE_IMAGE, runtimeHandler: s.record.runtimeHandler ?? '',
      cgroupParent: s.record.cgroupParent ?? '', name: s.summary.name, logDirectory: s.record.logPath,
    };
  }

  private statusOf(s: Sandbox, ip: string): runtimeV1.PodSandboxStatus {
    return {
      id: s.id,
      metadata: s.record.metadata,
      state: stateOf(s),
      createdAt: msToNs(Number(s.summary.createdAtUnixMs)),
      network: { ip, additionalIps: [] },
      linux: {
        namespaces: {
          options: {
            network: s.record.hostNetwork ? 'NODE' : 'POD',
            pid: s.record.hostPid ? 'NODE' : 'CONTAINER',
            ipc: s.record.hostIpc ? 'NODE' : 'POD',
          },
        },
      },
      labels: s.record.labels,
      annotations: s.record.annotations,
      runtimeHandler: s.record.runtimeHandler ?? '',
    };
  }

  async listWire(filter: runtimeV1.PodSandboxFilter__Output | null): Promise<runtimeV1.PodSandbox[]> {
    const all = await this.list();
    return all
      .filter((s) => !filter?.id || s.id.startsWith(filter.id))
      .filter((s) => !filter?.state || stateOf(s) === filter.state.state)
      .filter((s) => matchesSelector(s.record.labels, filter?.labelSelector))
      .map((s) => ({
        id: s.id, metadata: s.record.metadata, state: stateOf(s), createdAt: msToNs(Number(s.summary.createdAtUnixMs)),
        labels: s.record.labels, annotations: s.record.annotations, runtimeHandler: s.record.runtimeHandler ?? '',
      }));
  }

  /** The sandbox's hostname, hosts and resolv.conf files on the host (what its containers bind). */
  async files(id: string): Promise<{ hostname: string; hosts: string; resolvConf: string }> {
    const doc = JSON.parse((await this.b.engine.InspectContainer({ id })).json) as { HostnamePath?: string; HostsPath?: string; ResolvConfPath?: string };
    return { hostname: doc.HostnamePath ?? '', hosts: doc.HostsPath ?? '', resolvConf: doc.ResolvConfPath ?? '' };
  }

  /** The sandbox's address on the pod network; "" when it has none (host network, stopped). */
  async podIp(id: string): Promise<string> {
    try {
      const res = await this.b.engine.InspectContainer({ id });
      const doc = JSON.parse(res.json) as { NetworkSettings?: { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> } };
      const ns = doc.NetworkSettings;
      return ns?.IPAddress || Object.values(ns?.Networks ?? {}).map((n) => n.IPAddress ?? '').find((a) => a) || '';
    } catch (e) {
      if (isNotFound(e)) return '';
      throw e;
    }
  }
}

const stateOf = (s: Sandbox): 'SANDBOX_READY' | 'SANDBOX_NOTREADY' => (s.summary.state === 'running' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY');

function ignoreNotFound(e: unknown): void {
  if (!isNotFound(e)) throw e;
}
