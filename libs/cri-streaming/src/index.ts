// @berth/cri-streaming: kubelet's CRI streaming server (exec, attach, port-forward over SPDY/3.1).
export type {
  AttachRequest,
  ExecRequest,
  PortForwardRequest,
  StreamingIo,
  StreamingRuntime,
  StreamingUrl,
  TerminalSize,
} from './runtime';
export type { CriStreamingServer, StreamingServerOptions } from './server-types';
export { createStreamingServer, parseListenAddress } from './server';
export { REMOTECOMMAND_PROTOCOLS } from './remotecommand';
export { PORTFORWARD_PROTOCOLS } from './portforward';
