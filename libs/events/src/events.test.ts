import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { EventPublisher, subscribeEvents, subjects, startNatsServer, freePort, type CloudEvent, type NatsServerHandle } from './index';

async function collect(it: AsyncGenerator<CloudEvent>, n: number, timeoutMs = 10_000): Promise<CloudEvent[]> {
  const out: CloudEvent[] = [];
  const timer = setTimeout(() => void it.return(undefined), timeoutMs);
  for await (const ev of it) {
    out.push(ev);
    if (out.length >= n) break;
  }
  clearTimeout(timer);
  return out;
}

describe('events through a real nats-server', () => {
  let nats: NatsServerHandle;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('delivers a published event to a subscriber as a CloudEvents envelope', async () => {
    const pub = new EventPublisher({ servers: nats.url, service: 'engine' });
    try {
      const ac = new AbortController();
      const sub = subscribeEvents({ servers: nats.url, filter: 'berth.engine.container.*', signal: ac.signal });
      const got = collect(sub, 1);
      await new Promise((r) => setTimeout(r, 300)); // consumer in place before publishing
      pub.publish(subjects.engineContainer('started'), { id: 'c1', name: 'web', action: 'started' }, 'c1');
      const [ev] = await got;
      ac.abort();
      expect(ev).toMatchObject({
        specversion: '1.0', type: 'io.berth.engine.container.started', subject: 'c1',
        datacontenttype: 'application/json', data: { id: 'c1', name: 'web' },
      });
      expect(ev!.source).toMatch(/^berth\/engine\//);
      expect(new Date(ev!.time).getTime()).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await pub.close();
    }
  });

  it('replays from a time and keeps the order created -> started -> exited -> removed', async () => {
    const pub = new EventPublisher({ servers: nats.url, service: 'engine' });
    const since = new Date();
    try {
      for (const a of ['created', 'started', 'exited', 'removed'] as const) pub.publish(subjects.engineContainer(a), { id: 'c2', action: a }, 'c2');
      expect(await pub.flush()).toBe(true);
    } finally {
      await pub.close();
    }
    const evs = await collect(subscribeEvents({ servers: nats.url, since, filter: 'berth.engine.>' }), 4);
    expect(evs.filter((e) => e.subject === 'c2').map((e) => (e.data as { action: string }).action)).toEqual(['created', 'started', 'exited', 'removed']);
    const seq = evs[2]!.seq!;
    const fromSeq = await collect(subscribeEvents({ servers: nats.url, startSeq: seq }), 2);
    expect(fromSeq.map((e) => (e.data as { action: string }).action)).toEqual(['exited', 'removed']);
  });

  it('never blocks while NATS is down, buffers, drops past the bound and counts it', async () => {
    const port = await freePort(); // nothing listens here
    const registry = new Registry();
    const pub = new EventPublisher({ servers: `nats://127.0.0.1:${port}`, service: 'cgroups', maxBuffered: 3, registry });
    try {
      const t0 = Date.now();
      for (let i = 0; i < 5; i++) pub.publish(subjects.cgroupsOom, { containerId: `x${i}` });
      expect(Date.now() - t0).toBeLessThan(50);
      expect(pub.pending).toBe(3);
      const text = await registry.metrics();
      expect(text).toMatch(/berth_events_dropped_total 2/);
    } finally {
      await pub.close(100);
    }
  });

  it('publishes what was buffered once NATS comes back', async () => {
    const pub = new EventPublisher({ servers: nats.url, service: 'images' });
    try {
      pub.publish(subjects.imagesImage('tagged'), { reference: 'a' });
      expect(await pub.flush()).toBe(true);
      // JetStream stamps with sub-millisecond precision: step past the ack's millisecond.
      await new Promise((r) => setTimeout(r, 5));
      const since = new Date();
      await nats.restart();
      pub.publish(subjects.imagesImage('deleted'), { reference: 'after-restart' });
      expect(await pub.flush(15_000)).toBe(true);
      const evs = await collect(subscribeEvents({ servers: nats.url, since, filter: 'berth.images.>' }), 1);
      expect(evs[0]!.data).toMatchObject({ reference: 'after-restart' });
    } finally {
      await pub.close();
    }
  });
});

describe('closing a publisher', () => {
  it('returns promptly even while the first connection is being made', async () => {
    const nats = await startNatsServer();
    try {
      for (const delay of [0, 5, 50]) {
        const pub = new EventPublisher({ servers: nats.url, service: 'engine' });
        await new Promise((r) => setTimeout(r, delay));
        const t0 = Date.now();
        await pub.close(500);
        expect(Date.now() - t0).toBeLessThan(3000);
      }
    } finally {
      await nats.stop();
    }
  });
});
