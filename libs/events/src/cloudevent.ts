// CloudEvents 1.0 JSON envelope (https://github.com/cloudevents/spec,
// structured content mode). `type` is the subject with an io. prefix so a
// consumer that only sees the envelope still knows what it is.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype: 'application/json';
  data: T;
  /** JetStream sequence, set on events read back from the stream. */
  seq?: number;
  /**
   * On events read back: how many more events matching the reader's filter
   * the stream held when this one was delivered (0 = the reader has caught
   * up with the stream).
   */
  pending?: number;
}

export function makeCloudEvent<T>(service: string, natsSubject: string, data: T, subject?: string): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: randomUUID(),
    source: `berth/${service}/${hostname()}`,
    type: `io.${natsSubject}`,
    time: new Date().toISOString(),
    ...(subject ? { subject } : {}),
    datacontenttype: 'application/json',
    data,
  };
}

/** The NATS subject an envelope was published on (type without "io."). */
export function natsSubjectOf(ev: CloudEvent): string {
  return ev.type.replace(/^io\./, '');
}
