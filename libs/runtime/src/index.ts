// @berth/runtime: the container lifecycle driver (Runtime) over berth-shim
// and berth-monitor, and the attach client.
export { Runtime, type RuntimeOptions, type CreateOptions, type CreateResult, type ContainerState, type ContainerStatus, type ExecOptions, type ExecProcess, type RecoveredContainer } from './runtime';
export { Attachment } from './attach';
export { type ExitStatus } from './monitor-protocol';
export { type ShimBinding } from './shim-binding';
export { monitorBinaryPath } from './monitor-process';
export { NAMESPACE_TYPES, namespaceHandlePath, type NamespaceType } from './namespace-handles';
export { type ProcessInfo } from './process-namespace';
