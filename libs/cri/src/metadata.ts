// What the CRI keeps about a pod sandbox or a CRI container, and where: in
// the engine container's labels, so the engine's record is the one owner of
// the fact (no CRI-side store to drift from it; `berth ps` and the cgroup
// metrics show the pod). Engine labels are the image's merged with the
// request's, so the CRI's own view (its labels, annotations, metadata) is kept
// apart as one JSON label and the kind/pod ids as plain labels for filtering.
import { createHash } from 'node:crypto';
import { KUBE_CONTAINER_NAME_LABEL, KUBE_POD_NAME_LABEL, KUBE_POD_NAMESPACE_LABEL, KUBE_POD_UID_LABEL } from '@berth/container-config';
import { InvalidArgumentError } from '@berth/errors';

/** "sandbox" or "container"; and on a CRI container, the engine id of its pod sandbox (shared with `berth ps --pod`). */
export { CRI_KIND_LABEL as KIND_LABEL, CRI_SANDBOX_LABEL as SANDBOX_LABEL } from '@berth/container-config';
/** The CRI record (CriRecord) as JSON. */
export const RECORD_LABEL = 'io.berth.cri.record';

/** The pod (sandbox) or container fields the CRI reports back as they were given. */
export interface CriRecord {
  /** PodSandboxMetadata or ContainerMetadata. */
  metadata: { name: string; uid?: string; namespace?: string; attempt: number };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Sandbox: log_directory. Container: the absolute log path (log_directory/log_path), "" when none. */
  logPath: string;
  /** Container: the image as the request named it, and its resolved id. */
  image?: string;
  imageRef?: string;
  /** Sandbox: the namespace options (NODE for host network/PID/IPC), for containers and status. */
  hostNetwork?: boolean;
  hostPid?: boolean;
  hostIpc?: boolean;
  /** Sandbox: the pod's DNS config, given to each of its containers' resolv.conf too. */
  dns?: { servers: string[]; searches: string[]; options: string[] };
  /** Sandbox: the pod's hostname (the host's with host network): its containers' HOSTNAME. */
  hostname?: string;
  /** Sandbox: the kubelet's cgroup parent, and the runtime handler asked for. */
  cgroupParent?: string;
  runtimeHandler?: string;
  /** Container: the mounts as asked (ContainerStatus reports them). */
  mounts?: { containerPath: string; hostPath: string; readonly: boolean; propagation: string }[];
}

export function encodeRecord(r: CriRecord): string {
  return JSON.stringify(r);
}

export function decodeRecord(labels: Record<string, string>): CriRecord {
  const raw = labels[RECORD_LABEL];
  if (!raw) return { metadata: { name: '', attempt: 0 }, labels: {}, annotations: {}, logPath: '' };
  return JSON.parse(raw) as CriRecord;
}

/** The longest engine name. */
const MAX_NAME = 253;

/**
 * Engine names allow [a-zA-Z0-9][a-zA-Z0-9_.-]+ of at most 253 characters:
 * anything else in a CRI name becomes "-", and a longer name keeps its head
 * and a hash of the whole (so the same metadata still names the same container).
 */
function nameSafe(s: string): string {
  const safe = s.replace(/[^a-zA-Z0-9_.-]/g, '-');
  if (safe.length <= MAX_NAME) return safe;
  return `${safe.slice(0, MAX_NAME - 17)}_${createHash('sha256').update(safe).digest('hex').slice(0, 16)}`;
}

/** kubelet's dockershim naming, which also makes a repeated create of the same pod attempt collide. */
export function sandboxName(m: { name: string; namespace: string; uid: string; attempt: number }): string {
  if (!m.name) throw new InvalidArgumentError('pod sandbox metadata.name is empty: name the pod', { field: 'config.metadata.name' });
  return nameSafe(`k8s_POD_${m.name}_${m.namespace}_${m.uid}_${m.attempt}`);
}

export function containerName(m: { name: string; attempt: number }, pod: CriRecord['metadata']): string {
  if (!m.name) throw new InvalidArgumentError('container metadata.name is empty: name the container', { field: 'config.metadata.name' });
  return nameSafe(`k8s_${m.name}_${pod.name}_${pod.namespace ?? ''}_${pod.uid ?? ''}_${m.attempt}`);
}

/**
 * The io.kubernetes.* labels kubelet puts on a pod's containers (cAdvisor's
 * pod, namespace and container labels come from them; `berth ps --pod` shows
 * the pod name), for the engine container: "POD" names the pause container,
 * as dockershim's did. Engine labels only: the CRI answers with the request's.
 */
export function kubeletLabels(pod: CriRecord['metadata'], container: string): Record<string, string> {
  return {
    [KUBE_POD_NAME_LABEL]: pod.name, [KUBE_POD_NAMESPACE_LABEL]: pod.namespace ?? '', [KUBE_POD_UID_LABEL]: pod.uid ?? '',
    [KUBE_CONTAINER_NAME_LABEL]: container,
  };
}

/** CRI label selectors: every key=value must match. */
export function matchesSelector(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels[k] !== v) return false;
  return true;
}

/** Milliseconds since the epoch -> the CRI's nanoseconds. */
export const msToNs = (ms: number): number => (ms > 0 ? ms * 1_000_000 : 0);
