// The contract between the CRI streaming server and the runtime behind it.
//
// kubelet (and crictl) never stream exec/attach/port-forward over the CRI's gRPC socket: the CRI
// service answers Exec/Attach/PortForward with a URL on this server (a one-time token), and the
// client then opens that URL with an SPDY/3.1 upgrade and speaks Kubernetes' remotecommand or
// portforward protocol on it (as kubelet's pkg/kubelet/cri/streaming and containerd's CRI plugin
// do). This file is what the streaming server needs from the runtime once a client has connected:
// run a command in a container, attach to its main process, or connect to a port inside a pod's
// network namespace, with the client's streams already wired up.
//
// Streams: stdin is a Readable that ends when the client closes its stdin stream (or the connection
// goes). stdout/stderr are Writables the runtime writes the process's output to; the server forwards
// them to the client and does not end them itself until the call settles. A stream the client did not
// ask for is undefined. With tty, there is no stderr (the terminal merges it), and `resize` yields the
// terminal sizes the client sends (the first one usually arrives right after the connection opens);
// it ends when the connection closes.
//
// Cancellation: `signal` aborts when the client's connection goes away (or the server closes). The
// runtime should then stop waiting and settle; for exec it need not kill the process (kubelet does not).
import type { Duplex, Readable, Writable } from 'node:stream';

/** A terminal size in character cells, as the client's resize stream sends it. */
export interface TerminalSize {
  width: number;
  height: number;
}

/** The client's streams, as the runtime receives them for exec and attach. */
export interface StreamingIo {
  /** The client's input; undefined when the request did not ask for stdin. */
  stdin?: Readable;
  /** Where the process's stdout goes; undefined when not requested. */
  stdout?: Writable;
  /** Where the process's stderr goes; undefined when not requested or with tty. */
  stderr?: Writable;
  /** Whether the process runs on a terminal (stdout and stderr merged, resize events). */
  tty: boolean;
  /** Terminal sizes from the client, in order; only with tty; ends when the connection closes. */
  resize: AsyncIterable<TerminalSize>;
  /** Aborts when the client disconnects or the server closes. */
  signal: AbortSignal;
}

/** What the streaming server calls once a client has connected to a URL it handed out. */
export interface StreamingRuntime {
  /**
   * Runs `cmd` in the container (CRI Exec) and resolves with the process's exit code once it has
   * exited and its output was written. Throw a typed error (NotFoundError for an unknown container,
   * FailedPreconditionError for one that is not running) when the process cannot be started: the
   * client gets it as the error stream's message.
   */
  exec(containerId: string, cmd: string[], io: StreamingIo): Promise<number>;
  /**
   * Attaches to the container's main process (CRI Attach): stdin is fed to it, its output written to
   * stdout/stderr, until the process exits or `io.signal` aborts. Resolves when done; throws as exec.
   */
  attach(containerId: string, io: StreamingIo): Promise<void>;
  /**
   * Connects `stream` to TCP `port` on localhost inside the pod sandbox's network namespace (CRI
   * PortForward) and copies both ways until either side ends. Resolves when the connection is done;
   * throws (NotFoundError, UnavailableError for a refused connection...) when it could not connect:
   * the client gets the message on that port's error stream.
   */
  portForward(podSandboxId: string, port: number, stream: Duplex, signal: AbortSignal): Promise<void>;
}

/** CRI ExecRequest's fields, as the CRI service passes them to getExec. */
export interface ExecRequest {
  containerId: string;
  cmd: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** CRI AttachRequest's fields. */
export interface AttachRequest {
  containerId: string;
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** CRI PortForwardRequest's fields. The ports kubelet names are informational: the client picks ports per stream. */
export interface PortForwardRequest {
  podSandboxId: string;
  ports: number[];
}

/** The answer to getExec/getAttach/getPortForward: CRI's ExecResponse/AttachResponse/PortForwardResponse `url`. */
export interface StreamingUrl {
  url: string;
}
