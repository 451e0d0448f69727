// CRI containers: engine containers in a pod sandbox's namespaces, labelled
// with their sandbox (metadata.ts). The engine does the work (image config
// merge, root, cgroup, process, log); this maps the CRI's requests and
// states onto it.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { FailedPreconditionError, InvalidArgumentError, isFailedPrecondition, isNotFound, NotFoundError } from '@berth/errors';
import type { engineV1, runtimeV1 } from '@berth/proto';
import { LONG_CALL, type Backends } from './backends';
import { containerConfig, containerHostConfig, resourcesOf } from './container-config';
import { KIND_LABEL, RECORD_LABEL, SANDBOX_LABEL, containerName, decodeRecord, encodeRecord, kubeletLabels, matchesSelector, msToNs, type CriRecord } from './metadata';
import type { PodSandboxes } from './sandboxes';

export interface CriContainer {
  id: string;
  sandboxId: string;
  record: CriRecord;
  summary: engineV1.ContainerSummary__Output;
}

type ContainerState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN';

export function stateOf(s: engineV1.ContainerSummary__Output): ContainerState {
  switch (s.state) {
    case 'created': return 'CONTAINER_CREATED';
    case 'running': case 'paused': case 'restarting': return 'CONTAINER_RUNNING';
    case 'exited': return 'CONTAINER_EXITED';
    default: return 'CONTAINER_UNKNOWN';
  }
}

export class CriContainers {
  constructor(private readonly b: Backends, private readonly pods: PodSandboxes) {}

  async create(req: runtimeV1.CreateContainerRequest__Output): Promise<string> {
    const c = req.config;
    if (!c?.metadata) throw new InvalidArgumentError('CreateContainer needs config.metadata (name, attempt)', { field: 'config.metadata' });
    if (!c.image?.image) throw new InvalidArgumentError('CreateContainer needs config.image.image', { field: 'config.image.image' });
    const pod = await this.pods.get(req.podSandboxId);
    if (pod.summary.state !== 'running') throw new FailedPreconditionError(`pod sandbox ${pod.id} is not ready (state: ${pod.summary.state}): run a new sandbox`, { field: 'pod_sandbox_id' });
    const logPath = pod.record.logPath && c.logPath ? join(pod.record.logPath, c.logPath) : '';
    const image = await this.b.images.Get({ reference: c.image.image });
    const record: CriRecord = {
      metadata: { name: c.metadata.name, attempt: c.metadata.attempt },
      labels: c.labels, annotations: c.annotations, logPath,
      image: c.image.image, imageRef: image.id,
      mounts: c.mounts.map((m) => ({ containerPath: m.containerPath, hostPath: m.hostPath, readonly: m.readonly, propagation: m.propagation })),
    };
    const labels = { ...kubeletLabels(pod.record.metadata, c.metadata.name), ...c.labels, [KIND_LABEL]: 'container', [SANDBOX_LABEL]: pod.id, [RECORD_LABEL]: encodeRecord(record) };
    const files = await this.pods.files(pod.id);
    const hostConfig = containerHostConfig(c, { id: pod.id, record: pod.record, files });
    // kubelet rotates CRI logs itself (and then asks for ReopenContainerLog): berth must not.
    if (logPath) hostConfig.logConfig = { type: 'k8s-file', config: { path: logPath, 'max-size': '-1' } };
    const res = await this.b.engine.CreateContainer({
      name: containerName(c.metadata, pod.record.metadata),
      config: containerConfig(c, { id: pod.id, record: pod.record }, labels),
      hostConfig,
      pull: 'never',
    });
    return res.id;
  }

  async start(id: string): Promise<void> {
    const c = await this.get(id);
    // kubelet (and critest) open the log as soon as the start returns; the
    // engine's copy creates it only when the first output is copied.
    if (c.record.logPath) await ensureLogFile(c.record.logPath);
    await this.b.engine.StartContainer({ id: c.id });
  }

  /** Idempotent: a stopped or removed container is fine. timeout 0 kills at once. */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    let c: CriContainer;
    try {
      c = await this.get(id);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    if (stateOf(c.summary) !== 'CONTAINER_RUNNING') return;
    await this.b.engine.StopContainer({ id: c.id, timeoutSeconds: Math.max(0, timeoutSeconds) }, LONG_CALL).catch(ignoreGone);
  }

  async remove(id: string): Promise<void> {
    let c: CriContainer;
    try {
      c = await this.get(id);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    await this.b.engine.RemoveContainer({ id: c.id, force: true }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }

  async list(): Promise<CriContainer[]> {
    const res = await this.b.engine.ListContainers({ all: true, filters: { label: { values: [`${KIND_LABEL}=container`] } } });
    return res.containers.map((s) => ({ id: s.id, sandboxId: s.labels[SANDBOX_LABEL] ?? '', record: decodeRecord(s.labels), summary: s }));
  }

  async get(id: string): Promise<CriContainer> {
    if (!id) throw new NotFoundError('container id is empty', { field: 'container_id' });
    const all = await this.list();
    const matches = all.filter((c) => c.id.startsWith(id));
    const found = matches.find((c) => c.id === id) ?? (matches.length === 1 ? matches[0] : undefined);
    if (!found) throw new NotFoundError(`container ${id} not found`, { field: 'container_id' });
    return found;
  }

  async listWire(f: runtimeV1.ContainerFilter__Output | null): Promise<runtimeV1.Container[]> {
    return (await this.list())
      .filter((c) => !f?.id || c.id.startsWith(f.id))
      .filter((c) => !f?.podSandboxId || c.sandboxId.startsWith(f.podSandboxId))
      .filter((c) => !f?.state || stateOf(c.summary) === f.state.state)
      .filter((c) => matchesSelector(c.record.labels, f?.labelSelector))
      .map((c) => ({
        id: c.id, podSandboxId: c.sandboxId, metadata: c.record.metadata,
        image: { image: c.record.image ?? '', annotations: {} }, imageRef: c.record.imageRef ?? c.summary.imageDigest,
        state: stateOf(c.summary), createdAt: msToNs(Number(c.summary.createdAtUnixMs)),
        labels: c.record.labels, annotations: c.record.annotations,
      }));
  }

  async status(id: string): Promise<runtimeV1.ContainerStatusResponse> {
    return { status: statusOf(await this.get(id)), info: {} };
  }

  /** The statuses of a pod's containers (PodSandboxStatus, GetContainerEvents), oldest first. */
  async statusesInPod(sandboxId: string): Promise<runtimeV1.ContainerStatus[]> {
    return (await this.list())
      .filter((c) => c.sandboxId === sandboxId)
      .sort((a, b) => Number(a.summary.createdAtUnixMs) - Number(b.summary.createdAtUnixMs))
      .map(statusOf);
  }

  async updateResources(id: string, r: runtimeV1.LinuxContainerResources__Output | null): Promise<void> {
    const c = await this.get(id);
    if (!r) return;
    const fields = resourcesOf(r);
    await this.b.engine.UpdateContainer({ id: c.id, ...fields });
  }
}

/** A CRI container's status from its engine summary and record. */
export function statusOf(c: CriContainer): runtimeV1.ContainerStatus {
  const s = c.summary;
  const state = stateOf(s);
  const exited = state === 'CONTAINER_EXITED';
  const reason = !exited ? '' : s.oomKilled ? 'OOMKilled' : s.exitCode === 0 ? 'Completed' : 'Error';
  return {
    id: c.id, metadata: c.record.metadata, state,
    createdAt: msToNs(Number(s.createdAtUnixMs)), startedAt: msToNs(Number(s.startedAtUnixMs)), finishedAt: msToNs(Number(s.finishedAtUnixMs)),
    exitCode: s.exitCode, image: { image: c.record.image ?? '', annotations: {} }, imageRef: c.record.imageRef ?? s.imageDigest,
    reason, message: s.error,
    labels: c.record.labels, annotations: c.record.annotations,
    mounts: (c.record.mounts ?? []).map((m) => ({ ...m, propagation: m.propagation as runtimeV1.MountPropagation, selinuxRelabel: false })),
    logPath: c.record.logPath,
  };
}

/** A container that is gone, or exited between the look and the call, is stopped: what the CRI's idempotent stops want. */
export function ignoreGone(e: unknown): void {
  if (isNotFound(e) || isFailedPrecondition(e)) return;
  throw e;
}

/** Creates the (empty) log file if missing; its directory is kubelet's log_directory, which kubelet makes. */
async function ensureLogFile(path: string): Promise<void> {
  const f = await open(path, 'a', 0o640);
  await f.close();
}
