import { describe, expect, it } from 'vitest';
import { newContainerRecord } from './record';
import { countContainers, selectPrunable, toSummary } from './summary';
import { cpuPercent, memoryUsage } from './stats';
import { EventHistory, eventMatches, validateEventFilters } from './event-filter';
import type { ContainerEvent } from './events';
import type { ContainerRecord, ContainerState } from './types';

const rec = (name: string, state: ContainerState, p: Partial<ContainerRecord> = {}): ContainerRecord => ({
  ...newContainerRecord({ id: name.padEnd(64, '0'), name, image: 'nginx', now: 1000, config: { exposedPorts: ['80/tcp', '443/tcp'], labels: { tier: 'web' } },
    hostConfig: { portBindings: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 0 }] }, args: ['nginx', '-g', 'daemon off;'] }),
  seq: 1, state, ...p,
});

describe('summaries', () => {
  it('ps view: allocated ports when live, exposed-only ones, command', () => {
    const r = rec('web', 'running', { networkSettings: { ...rec('x', 'running').networkSettings, ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 49153 }], networks: { bridge: { networkId: 'n', ipAddress: '', ipPrefixLen: 0, gateway: '', macAddress: '', aliases: [] } } } });
    const s = toSummary(r);
    expect(s.command).toBe('nginx -g daemon off;');
    expect(s.ports).toEqual([{ containerPort: 80, protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 49153 }, { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 0 }]);
    expect(s.networks).toEqual(['bridge']);
    expect(toSummary(rec('old', 'exited')).ports.map((p) => p.hostPort)).toEqual([0, 0]);
    expect(toSummary(rec('old', 'exited')).sizeRw).toBe(-1);
  });
  it('prune selects stopped containers by filters', () => {
    const all = [rec('aa', 'running'), rec('bb', 'exited'), rec('cc', 'created', { config: { ...rec('cc', 'created').config, labels: { keep: '1' } } }), rec('dd', 'exited', { createdAt: 5000 })];
    expect(selectPrunable(all, {}).map((r) => r.name)).toEqual(['bb', 'cc', 'dd']);
    expect(selectPrunable(all, { 'label!': ['keep'] }).map((r) => r.name)).toEqual(['bb', 'dd']);
    expect(selectPrunable(all, { until: ['2'] }).map((r) => r.name)).toEqual(['bb', 'cc']);
    expect(() => selectPrunable(all, { status: ['x'] })).toThrow(/invalid filter "status"/);
    expect(countContainers(all)).toEqual({ total: 4, running: 1, paused: 0, stopped: 3 });
  });
});

describe('stats arithmetic', () => {
  it('cpu percent per Docker, memory without cache', () => {
    const a = { cpuUsageNs: 1e9, systemCpuNs: 100e9, onlineCpus: 4, memoryUsage: 100, inactiveFile: 30 };
    const b = { ...a, cpuUsageNs: 3e9, systemCpuNs: 104e9 };
    expect(cpuPercent(undefined, b)).toBe(0);
    expect(cpuPercent(a, b)).toBe(200); // 2 s of CPU over 4 s of 4-CPU system time x 4 CPUs
    expect(cpuPercent(a, a)).toBe(0);
    expect(memoryUsage(a)).toBe(70);
    expect(memoryUsage({ ...a, inactiveFile: 200 })).toBe(100);
  });
});

describe('event filters and history', () => {
  const ev = (p: Partial<ContainerEvent>): ContainerEvent => ({ id: 'abc'.padEnd(64, '0'), name: 'web', image: 'nginx:latest', action: 'started', time: 10, labels: { tier: 'web' }, ...p });
  it('matches like docker events --filter', () => {
    expect(eventMatches(ev({}), { container: ['web'] })).toBe(true);
    expect(eventMatches(ev({}), { container: ['abc'] })).toBe(true);
    expect(eventMatches(ev({}), { container: ['db'] })).toBe(false);
    expect(eventMatches(ev({}), { image: ['nginx'] })).toBe(true);
    expect(eventMatches(ev({}), { event: ['die', 'started'], label: ['tier=web'] })).toBe(true);
    expect(eventMatches(ev({}), { event: ['die'] })).toBe(false);
    expect(eventMatches(ev({}), { type: ['volume'] })).toBe(false);
    expect(() => validateEventFilters({ color: [] })).toThrow(/invalid filter "color"/);
  });
  it('replays a bounded history', () => {
    const h = new EventHistory(3);
    for (let t = 1; t <= 5; t++) h.push(ev({ time: t, action: t % 2 ? 'started' : 'die' }));
    expect(h.since(0, undefined, {}).map((e) => e.time)).toEqual([3, 4, 5]);
    expect(h.since(4, undefined, {}).map((e) => e.time)).toEqual([4, 5]);
    expect(h.since(0, 4, { event: ['die'] }).map((e) => e.time)).toEqual([4]);
  });
});
