// @berth/daemon: running berth's services — in this process (apps), or as a
// background stack (berth daemon up/down/status) — and finding NATS.
export { runServices, type RunOptions, type RunningStack } from './run';
export { resolveNats, portOpen, ensureNatsToken, writeNatsConfig, natsEnv, DEFAULT_NATS_PORT, type NatsChoice } from './nats';
export { daemonUp, daemonDown, daemonStatus, readDaemonRecord, appScript, supervisorScript, REPO_ROOT, NODE_FLAGS, type DaemonRecord, type UpOptions, type UpResult, type ServiceStatus } from './control';
export { runApp, mainOf, type AppOptions } from './app';
export { Supervisor, RestartDelay, lowerOomScore, processAlive, type StackProcess } from './supervisor';
