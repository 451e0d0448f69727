// The streaming server's public shape: what the CRI service holds and calls.
import type { AttachRequest, ExecRequest, PortForwardRequest, StreamingRuntime, StreamingUrl } from './runtime';

export interface StreamingServerOptions {
  /** The runtime the server calls once a client connects. */
  runtime: StreamingRuntime;
  /**
   * host:port to listen on (kubelet's --streaming address; containerd's stream_server_address/port).
   * Default 127.0.0.1:0 (a random free loopback port). A port of 0 picks a free one.
   */
  address?: string;
  /** How long a token handed out by get* stays valid, ms. Default 60000 (kubelet's one minute). */
  tokenTtlMs?: number;
  /** Most tokens outstanding at once (kubelet's MaxInFlight, 1000); past it get* throws ResourceExhausted. */
  maxTokens?: number;
  /**
   * How long a connected client may leave the server waiting for its streams (the SPDY stream
   * creation after the upgrade), ms. Default 30000 (kubelet's StreamCreationTimeout).
   */
  streamCreationTimeoutMs?: number;
  /** Idle timeout of an upgraded connection with no frames either way, ms; 0 for none. Default 4 h (kubelet's). */
  streamIdleTimeoutMs?: number;
}

/**
 * kubelet's streaming server: hands out one-time URLs for exec/attach/port-forward and serves them.
 * A token is valid for tokenTtlMs and for one connection; the request's parameters travel with it,
 * so the URL carries no command line or container id.
 */
export interface CriStreamingServer {
  /** The base URL clients reach the server at, e.g. http://127.0.0.1:41234 (no trailing slash). */
  readonly baseUrl: string;
  /** CRI Exec: validates the request and returns the URL to stream it. Throws InvalidArgumentError naming the field. */
  getExec(req: ExecRequest): StreamingUrl;
  /** CRI Attach: as getExec. */
  getAttach(req: AttachRequest): StreamingUrl;
  /** CRI PortForward: as getExec. */
  getPortForward(req: PortForwardRequest): StreamingUrl;
  /** Stops listening, aborts every live session (their signals abort) and forgets outstanding tokens. */
  close(): Promise<void>;
}
