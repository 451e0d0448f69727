// @berth/cri: the Kubernetes CRI (runtime.v1) as a berth service, a gateway
// onto the engine and images contracts (docs/design/cri.md).
export { criModule, CRI_API_VERSION, RUNTIME_NAME } from './service';
export { PAUSE_IMAGE } from './sandboxes';
