// The labels that tie an engine container to a Kubernetes pod. The CRI
// gateway (libs/cri) sets them; `berth ps --pod` reads them, and the cgroup
// metrics and events carry them as they carry every label (cAdvisor's pod,
// namespace and container labels come from the io.kubernetes.* ones).

/** On every engine container the CRI made: "sandbox" (a pod's pause container) or "container". */
export const CRI_KIND_LABEL = 'io.berth.cri.kind';
/** On a CRI container: the engine id of its pod sandbox. */
export const CRI_SANDBOX_LABEL = 'io.berth.cri.sandbox-id';

/** kubelet's labels (it sets them on every sandbox and container; the CRI fills in any it did not). */
export const KUBE_POD_NAME_LABEL = 'io.kubernetes.pod.name';
export const KUBE_POD_NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const KUBE_POD_UID_LABEL = 'io.kubernetes.pod.uid';
export const KUBE_CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';

/** The id of the pod sandbox a container belongs to (the sandbox's own for its pause container); "" for none. */
export function podIdOf(id: string, labels: Record<string, string>): string {
  const kind = labels[CRI_KIND_LABEL];
  if (kind === 'sandbox') return id;
  return kind === 'container' ? (labels[CRI_SANDBOX_LABEL] ?? '') : '';
}
