// Host port choice for -p (port-allocator.ts) against ports other attachments
// publish and a port a process on this host holds (a real listener on loopback).
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isAlreadyExists, isResourceExhausted, rejection } from '@berth/errors';
import { allocateHostPorts } from './port-allocator';
import type { PortMapping } from './ports';

const tcp = (hostPort: number, hostPortEnd = 0): PortMapping => ({ hostIp: '127.0.0.1', hostPort, containerPort: 80, protocol: 'tcp', ...(hostPortEnd ? { hostPortEnd } : {}) });

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = undefined;
});
/** Listens on a free loopback port; returns it. */
const listen = async (): Promise<number> => {
  server = createServer();
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
};

describe('allocateHostPorts', () => {
  it('a range gives the first port nobody publishes and no host process holds', async () => {
    const busy = await listen();
    const taken = [{ port: tcp(busy + 1), name: 'web', containerId: 'c1' }];
    // busy: a listener; busy+1: another container; busy+2 is the first free one.
    expect(await allocateHostPorts('c2', [tcp(busy, busy + 5)], taken, [40000, 40010])).toEqual([tcp(busy + 2)]);
    const full = await rejection(allocateHostPorts('c2', [tcp(busy, busy + 1)], taken, [40000, 40010]));
    expect(isAlreadyExists(full)).toBe(true);
    expect((full as Error).message).toMatch(/every host port of 127\.0\.0\.1:\d+-\d+\/tcp is already in use/);
  });

  it('a fixed port held by another container or a host process is refused, naming who holds it', async () => {
    const busy = await listen();
    const taken = [{ port: tcp(busy + 1), name: 'web', containerId: 'c1' }];
    expect((await rejection(allocateHostPorts('c2', [tcp(busy + 1)], taken, [40000, 40010])) as Error).message).toMatch(/already published by container web \(c1\)/);
    expect((await rejection(allocateHostPorts('c2', [tcp(busy)], taken, [40000, 40010])) as Error).message).toMatch(/in use by a process on the host/);
    expect((await rejection(allocateHostPorts('c2', [tcp(busy + 2), tcp(busy + 2)], [], [40000, 40010])) as Error).message).toMatch(/already published by container c2/);
  });

  it('no host port: a free one of the ephemeral range, distinct within one request; none left is ResourceExhausted', async () => {
    const busy = await listen();
    const got = await allocateHostPorts('c2', [tcp(0), tcp(0)], [], [busy, busy + 2]);
    expect(got.map((p) => p.hostPort).sort()).toEqual([busy + 1, busy + 2]);
    expect(isResourceExhausted(await rejection(allocateHostPorts('c2', [tcp(0)], [], [busy, busy])))).toBe(true);
  });
});
