// EventPublisher: publishes CloudEvents to NATS JetStream without ever
// blocking or failing the operation that emits them.
//
// publish() only appends to a bounded in-memory queue and returns; one loop
// drains the queue in order into JetStream (awaiting each ack, so events
// keep their order and are on disk when acked). While NATS is unreachable
// the queue holds up to `maxBuffered` events; beyond that the oldest are
// dropped and counted (berth_events_dropped_total), and the connection is
// retried forever in the background. The stream (BERTH_EVENTS, subjects
// berth.>) keeps events with bounded retention so subscribers can replay
// from a time or sequence; a slow consumer cannot lose an exit event the way
// Docker's 256-event ring or containerd's exchange can.
import { connect, type NatsConnection, type JetStreamClient, RetentionPolicy, StorageType, DiscardPolicy, nanos } from 'nats';
import { Counter, Gauge, type Registry } from 'prom-client';
import { makeCloudEvent, type CloudEvent } from './cloudevent';
import { ALL_SUBJECTS, EVENTS_STREAM } from './subjects';
import { natsConnectOptions, type NatsAuth } from './connection';

export interface RetentionOptions {
  /** Keep events at most this long (ms). Default 7 days. */
  maxAgeMs?: number;
  /** Keep at most this many events. Default 1,000,000. */
  maxMsgs?: number;
  /** Keep at most this many bytes. Default 1 GiB. */
  maxBytes?: number;
}

export interface PublisherOptions {
  /** NATS server URL(s), comma separated (credentials in the URL allowed: connection.ts). */
  servers: string;
  /** Credentials (berth's own server's token, NATS_TOKEN, NATS_CREDS...). */
  auth?: NatsAuth;
  /** Publishing service name (CloudEvents source). */
  service: string;
  /** Queue bound while NATS is unreachable. Default 10,000. */
  maxBuffered?: number;
  retention?: RetentionOptions;
  registry?: Registry;
  /** Called with connection problems (for logs). */
  onError?: (err: Error) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates or updates the events stream with bounded retention. */
export async function ensureEventsStream(nc: NatsConnection, retention: RetentionOptions = {}): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const cfg = {
    name: EVENTS_STREAM,
    subjects: [ALL_SUBJECTS],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(retention.maxAgeMs ?? 7 * 24 * 3600 * 1000),
    max_msgs: retention.maxMsgs ?? 1_000_000,
    max_bytes: retention.maxBytes ?? 1024 * 1024 * 1024,
    duplicate_window: nanos(60_000),
  };
  try {
    await jsm.streams.info(EVENTS_STREAM);
    await jsm.streams.update(EVENTS_STREAM, cfg);
  } catch (e) {
    if (!/stream not found/i.test(String((e as Error).message))) throw e;
    await jsm.streams.add(cfg);
  }
}

export class EventPublisher {
  private queue: CloudEvent[] = [];
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly loop: Promise<void>;
  private readonly dropped?: Counter;
  private readonly published?: Counter;
  private readonly buffered?: Gauge;
  private readonly maxBuffered: number;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: PublisherOptions) {
    this.maxBuffered = opts.maxBuffered ?? 10_000;
    if (opts.registry) {
      this.dropped = new Counter({ name: 'berth_events_dropped_total', help: 'Events dropped because NATS was unreachable and the buffer was full.', registers: [opts.registry] });
      this.published = new Counter({ name: 'berth_events_published_total', help: 'Events acknowledged by JetStream.', registers: [opts.registry] });
      this.buffered = new Gauge({ name: 'berth_events_buffered', help: 'Events waiting to be published.', registers: [opts.registry], collect: () => this.buffered?.set(this.queue.length) });
    }
    this.loop = this.run();
  }

  /** Queues an event; never throws, never waits. Returns the envelope. */
  publish<T>(natsSubject: string, data: T, subject?: string): CloudEvent<T> {
    const ev = makeCloudEvent(this.opts.service, natsSubject, data, subject);
    if (this.closed) {
      this.dropped?.inc();
      return ev;
    }
    this.queue.push(ev as CloudEvent);
    while (this.queue.length > this.maxBuffered) {
      this.queue.shift();
      this.dropped?.inc();
    }
    this.wake?.();
    return ev;
  }

  /** Events not yet acknowledged by JetStream. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when the queue is empty (or after timeoutMs). */
  async flush(timeoutMs = 5000): Promise<boolean> {
    if (this.queue.length === 0) return true;
    return Promise.race([
      new Promise<boolean>((resolve) => this.idleWaiters.push(() => resolve(true))),
      sleep(timeoutMs).then(() => false),
    ]);
  }

  /** Flushes what it can within timeoutMs, then disconnects. */
  async close(timeoutMs = 2000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    this.wake?.();
    await this.loop.catch(() => undefined);
    await this.nc?.close().catch(() => undefined);
  }

  private async connectOnce(): Promise<void> {
    const nc = await connect({
      ...natsConnectOptions(this.opts.servers, this.opts.auth),
      name: `berth-${this.opts.service}`,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 2000,
    });
    await ensureEventsStream(nc, this.opts.retention);
    this.nc = nc;
    this.js = nc.jetstream({ timeout: 2000 });
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (!this.closed) {
      if (!this.js) {
        try {
          await this.connectOnce();
          backoff = 200;
          // close() may have been called while connecting: look again.
          continue;
        } catch (e) {
          this.opts.onError?.(e as Error);
          await Promise.race([sleep(backoff), new Promise<void>((r) => (this.wake = r))]);
          backoff = Math.min(backoff * 2, 5000);
          continue;
        }
      }
      const ev = this.queue[0];
      if (!ev) {
        this.idleWaiters.splice(0).forEach((w) => w());
        if (this.closed) break;
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      try {
        // msgID makes a retried publish idempotent inside the duplicate window.
        await this.js!.publish(ev.type.replace(/^io\./, ''), JSON.stringify(ev), { msgID: ev.id });
        if (this.queue[0] === ev) this.queue.shift();
        this.published?.inc();
      } catch (e) {
        this.opts.onError?.(e as Error);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
        if (this.nc?.isClosed()) {
          this.nc = undefined;
          this.js = undefined;
        }
      }
    }
  }
}
