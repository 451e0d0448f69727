// @berth/namespaces: the namespaces service (container processes in Linux
// namespaces) as a ServiceModule over @berth/runtime.
export { namespacesModule, exitToWire } from './service';
export { specFromWire, processFromWire } from './spec-wire';
