// @berth/runtime: the container lifecycle driver (Runtime) over berth-shim
// and berth-monitor, the attach client, the CRI log reader, and the spec
// the shim runs.
export { Runtime, type RuntimeOptions, type CreateOptions, type CreateResult, type ContainerState, type ContainerStatus, type ExecOptions, type ExecProcess, type RecoveredContainer } from './runtime';
export { Attachment } from './attach';
export { type ExitStatus } from './monitor-protocol';
export { type ShimBinding } from './shim-binding';
export { monitorBinaryPath } from './monitor-process';
export { NAMESPACE_PROC_NAMES, namespaceHandlePath } from './namespace-handles';
export { type ProcessInfo } from './process-namespace';
export * from './spec';
export { berthShim, shimBinaryPath, initBinaryPath } from './shim-config';
