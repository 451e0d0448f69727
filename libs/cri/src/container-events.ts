// GetContainerEvents (kubelet's evented PLEG): the engine's Events stream,
// narrowed to the containers the CRI made (sandboxes and CRI containers, by
// their io.berth.cri.kind label) and translated into the CRI's four events.
// Each event carries its pod's sandbox status and the statuses of the pod's
// containers as they are when the event is sent, as containerd sends them.
//
//   engine created -> CONTAINER_CREATED_EVENT
//   engine started -> CONTAINER_STARTED_EVENT
//   engine die     -> CONTAINER_STOPPED_EVENT (every exit: its own, a stop, a kill, a remove -f)
//   engine removed -> CONTAINER_DELETED_EVENT
// Other engine actions (exited, stopped, oom, exec_*...) are not CRI events.
// The engine publishes in the order created -> started -> die -> removed,
// and the statuses are read one event at a time, so that order holds here.
import { isNotFound } from '@berth/errors';
import type { engineV1, runtimeV1 } from '@berth/proto';
import type { Backends } from './backends';
import type { CriContainers } from './containers';
import { KIND_LABEL, SANDBOX_LABEL, msToNs } from './metadata';
import type { PodSandboxes } from './sandboxes';

type CriEventType = 'CONTAINER_CREATED_EVENT' | 'CONTAINER_STARTED_EVENT' | 'CONTAINER_STOPPED_EVENT' | 'CONTAINER_DELETED_EVENT';

const EVENT_OF: Record<string, CriEventType> = {
  created: 'CONTAINER_CREATED_EVENT',
  started: 'CONTAINER_STARTED_EVENT',
  die: 'CONTAINER_STOPPED_EVENT',
  removed: 'CONTAINER_DELETED_EVENT',
};

/** The CRI event an engine event is, and the pod it belongs to; null when it is not one. */
export function criEventOf(ev: engineV1.Event__Output): { type: CriEventType; sandboxId: string } | null {
  if (ev.type && ev.type !== 'container') return null;
  const type = EVENT_OF[ev.action];
  const kind = ev.attributes[KIND_LABEL];
  if (!type || (kind !== 'sandbox' && kind !== 'container')) return null;
  const sandboxId = kind === 'sandbox' ? ev.id : (ev.attributes[SANDBOX_LABEL] ?? '');
  return sandboxId ? { type, sandboxId } : null;
}

/**
 * Streams CRI container events from now until `signal` aborts (the client
 * went away), calling `send` for each; resolves when the stream ends.
 */
export async function streamContainerEvents(
  b: Backends, pods: PodSandboxes, containers: CriContainers,
  send: (ev: runtimeV1.ContainerEventResponse) => Promise<boolean>, signal: AbortSignal,
): Promise<void> {
  // The engine's label filter with a key alone passes containers that have the label.
  const call = b.engine.Events(
    { since: (Date.now() / 1000).toFixed(3), until: '', filters: { type: { values: ['container'] }, label: { values: [KIND_LABEL] } } },
    { signal },
  );
  try {
    for await (const ev of call as AsyncIterable<engineV1.Event__Output>) {
      const what = criEventOf(ev);
      if (!what) continue;
      let podStatus: runtimeV1.PodSandboxStatus | undefined;
      try {
        podStatus = (await pods.status(what.sandboxId)).status ?? undefined;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      // The sandbox itself removed: its labels (in the event) still say what it was.
      podStatus ??= pods.statusFromLabels(what.sandboxId, ev.id === what.sandboxId ? ev.attributes : {});
      const statuses = await containers.statusesInPod(what.sandboxId);
      const ok = await send({
        containerId: ev.id, containerEventType: what.type, createdAt: msToNs(Number(ev.timeUnixMs)),
        podSandboxStatus: podStatus, containersStatuses: statuses,
      });
      if (!ok) return;
    }
  } catch (e) {
    if (signal.aborted) return;
    throw e;
  }
}
