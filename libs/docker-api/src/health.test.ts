// Healthchecks through the gateway: Docker's Healthcheck in a create body
// reaches the engine's request, and the engine's health_status event goes
// out as Docker sends it ("health_status: healthy", no extra attribute).
import { describe, expect, it } from 'vitest';
import { decodeCreate } from './create';
import { eventJson } from './system';

describe('healthchecks at the Docker API', () => {
  it('maps Config.Healthcheck onto the create request', () => {
    const { request } = decodeCreate({ Image: 'busybox', Healthcheck: { Test: ['CMD', 'true'], Interval: 2e9, Retries: 4 } }, 'web');
    expect(request.config?.healthcheck).toEqual({ test: ['CMD', 'true'], interval: 2e9, timeout: 0, startPeriod: 0, startInterval: 0, retries: 4 });
    expect(decodeCreate({ Image: 'busybox' }, 'web').request.config?.healthcheck).toBeUndefined();
  });

  it('words a health_status event as Docker does', () => {
    const line = eventJson({ type: 'container', action: 'health_status', id: 'abc', name: 'web', image: 'busybox', timeUnixMs: 1_700_000_000_123, attributes: { health_status: 'unhealthy', app: 'x' } });
    const doc = JSON.parse(line!) as { Action: string; status: string; Actor: { Attributes: Record<string, string> } };
    expect(doc.Action).toBe('health_status: unhealthy');
    expect(doc.status).toBe('health_status: unhealthy');
    expect(doc.Actor.Attributes).toEqual({ app: 'x', name: 'web', image: 'busybox' });
  });
});
