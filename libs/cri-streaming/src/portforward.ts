// Kubernetes' port-forward protocol (portforward.k8s.io) over an upgraded SPDY connection (kubelet's
// cri/streaming/portforward/httpstream.go). One connection carries any number of forwarded TCP
// connections; for each, the client opens two streams with the same `port` and `requestID` headers:
// `streamType: error` (the client closes its half at once and reads it to the end) and
// `streamType: data` (the bytes, both ways). Once both are there the server connects to the port in
// the pod and copies; a failure is written as text on the error stream; then both streams are closed
// (FIN). A stream without a valid port (1-65535) or stream type is refused (RST_STREAM), a pair not
// completed within the stream creation timeout gets "timed out waiting for streams". The connection
// lives until the client closes it (or the idle timeout).
import { RstStatus } from './spdy/frames';
import type { SpdyServerConnection, SpdyStream } from './spdy/connection';
import { errorMessage } from './remotecommand';

export const PORTFORWARD_PROTOCOLS = ['portforward.k8s.io'] as const;

/** Most forwarded connections in progress on one client connection. */
const MAX_PAIRS = 128;

interface StreamPair {
  requestId: string;
  port: number;
  data?: SpdyStream;
  error?: SpdyStream;
  timer?: NodeJS.Timeout;
}

export type ForwardPort = (port: number, stream: SpdyStream, signal: AbortSignal) => Promise<void>;

/** Serves port-forward streams on `conn` until it closes. `podLabel` names the sandbox in error messages. */
export function servePortForward(
  conn: SpdyServerConnection,
  podLabel: string,
  forward: ForwardPort,
  streamCreationTimeoutMs: number,
  closing: AbortSignal,
): Promise<void> {
  const abort = new AbortController();
  const onClosing = (): void => {
    abort.abort();
    conn.close();
  };
  closing.addEventListener('abort', onClosing);
  const pairs = new Map<string, StreamPair>();
  let active = 0;

  const requestIdOf = (stream: SpdyStream, type: string): string => {
    const id = stream.header('requestid');
    if (id) return id;
    // Clients older than the requestID header: kubelet pairs error stream N with data stream N+2.
    return String(type === 'error' ? stream.id : stream.id - 2);
  };

  const run = async (pair: StreamPair): Promise<void> => {
    const data = pair.data as SpdyStream;
    const errStream = pair.error as SpdyStream;
    // The client never writes on the error stream; drain its FIN.
    errStream.resume();
    active++;
    try {
      await forward(pair.port, data, abort.signal);
    } catch (err) {
      const msg = `error forwarding port ${pair.port} to pod ${podLabel}, uid : ${errorMessage(err)}`;
      if (!errStream.destroyed && !errStream.writableEnded) errStream.write(msg);
    } finally {
      active--;
      if (!errStream.destroyed && !errStream.writableEnded) errStream.end();
      if (!data.destroyed && !data.writableEnded) data.end();
    }
  };

  const onStream = (stream: SpdyStream): void => {
    const portText = stream.header('port') ?? '';
    const type = stream.header('streamtype') ?? '';
    const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535) || (type !== 'error' && type !== 'data')) {
      stream.reset(RstStatus.Cancel);
      return;
    }
    const requestId = requestIdOf(stream, type);
    let pair = pairs.get(requestId);
    if (!pair) {
      if (pairs.size + active >= MAX_PAIRS) {
        stream.reset(RstStatus.RefusedStream);
        return;
      }
      const created: StreamPair = { requestId, port };
      created.timer = setTimeout(() => {
        pairs.delete(requestId);
        if (created.error && !created.error.writableEnded) created.error.end('timed out waiting for streams');
        created.data?.reset(RstStatus.Cancel);
      }, streamCreationTimeoutMs);
      pairs.set(requestId, created);
      pair = created;
    }
    stream.reply();
    if ((type === 'error' && pair.error) || (type === 'data' && pair.data)) {
      stream.end(`error processing stream for request ${requestId}: ${type} stream already assigned`);
      return;
    }
    if (type === 'error') pair.error = stream;
    else pair.data = stream;
    if (pair.error && pair.data) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      void run(pair);
    }
  };
  conn.on('stream', onStream);

  return new Promise((resolve) => {
    conn.once('close', () => {
      abort.abort();
      for (const pair of pairs.values()) clearTimeout(pair.timer);
      pairs.clear();
      conn.off('stream', onStream);
      closing.removeEventListener('abort', onClosing);
      resolve();
    });
  });
}
