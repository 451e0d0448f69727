// Reading events back: an ordered JetStream consumer over BERTH_EVENTS,
// starting at a time, a sequence, or only new events. Backs `berth events`.
import { connect, DeliverPolicy, type NatsConnection, type ConsumerMessages } from 'nats';
import type { CloudEvent } from './cloudevent';
import { ALL_SUBJECTS, EVENTS_STREAM } from './subjects';
import { ensureEventsStream } from './publisher';
import { natsConnectOptions, type NatsAuth } from './connection';

export interface SubscribeOptions {
  /** NATS server URL(s), comma separated (credentials in the URL allowed: connection.ts). */
  servers: string;
  auth?: NatsAuth;
  /** Replay from this time (inclusive). */
  since?: Date;
  /** Replay from this stream sequence (inclusive). */
  startSeq?: number;
  /** Stop at events after this time. */
  until?: Date;
  /** NATS subject filter, default berth.> */
  filter?: string;
  signal?: AbortSignal;
}

/** Yields events as CloudEvents (with their stream sequence) until aborted. */
export async function* subscribeEvents(opts: SubscribeOptions): AsyncGenerator<CloudEvent> {
  const nc: NatsConnection = await connect({ ...natsConnectOptions(opts.servers, opts.auth), name: 'berth-events-subscriber', timeout: 3000 });
  let messages: ConsumerMessages | undefined;
  const onAbort = () => {
    messages?.stop();
    void nc.close();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await ensureEventsStream(nc);
    const js = nc.jetstream();
    // A single subject string: nats-server 2.9 (Debian 12) has no multi-filter consumers.
    const base = { filterSubjects: opts.filter ?? ALL_SUBJECTS };
    const consumer = opts.startSeq !== undefined
      ? await js.consumers.get(EVENTS_STREAM, { ...base, deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opts.startSeq })
      : opts.since
        ? await js.consumers.get(EVENTS_STREAM, { ...base, deliver_policy: DeliverPolicy.StartTime, opt_start_time: opts.since.toISOString() })
        : await js.consumers.get(EVENTS_STREAM, { ...base, deliver_policy: DeliverPolicy.New });
    if (opts.signal?.aborted) return;
    messages = await consumer.consume();
    for await (const m of messages) {
      const ev = JSON.parse(m.string()) as CloudEvent;
      ev.seq = m.seq;
      ev.pending = m.info.pending;
      if (opts.until && new Date(ev.time) > opts.until) break;
      yield ev;
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    messages?.stop();
    if (!nc.isClosed()) await nc.close();
  }
}
