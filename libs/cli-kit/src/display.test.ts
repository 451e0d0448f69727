import { describe, expect, it } from 'vitest';
import { containerRow, displayPorts, goTimeString, imageRow, PS_FORMAT, PS_POD_TABLE, statsRow, type ContainerSummary } from './display';
import { formatRows } from './format';
import { containerExitCode, exitCodeFor, exitCodeForRunError } from './exit-codes';
import { InvalidArgumentError, NotFoundError } from '@berth/errors';
import { ProgressRenderer, progressText } from './progress';
import { paint, terminalWidth, useColor } from './terminal';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0);
const c = (p: Partial<ContainerSummary>): ContainerSummary => ({
  id: '0123456789abcdef'.repeat(4), name: 'web', image: 'nginx:1.27', command: '/docker-entrypoint.sh nginx -g daemon off;',
  createdAt: NOW - 3 * 3_600_000, state: 'running', exitCode: 0, startedAt: NOW - 5 * 60_000, finishedAt: 0,
  ports: [{ containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 }], labels: { b: '2', a: '1' }, mounts: ['data'], networks: ['bridge'],
  sizeRw: -1, sizeRootFs: 0, ...p,
});

describe('ps rows', () => {
  it('fields as docker ps prints them', () => {
    const r = containerRow(c({}), NOW, false);
    expect(r).toMatchObject({
      ID: '0123456789ab', Command: '"/docker-entrypoint.…"', RunningFor: '3 hours ago', Status: 'Up 5 minutes',
      Ports: '0.0.0.0:8080->80/tcp', Names: 'web', Labels: 'a=1,b=2', CreatedAt: '2024-05-01 09:00:00 +0000 UTC', State: 'running',
    });
    expect((r.Label as (k: string) => string)('a')).toBe('1');
    expect(containerRow(c({}), NOW, true).ID).toHaveLength(64);
    expect(containerRow(c({}), NOW, true).Command).toBe('"/docker-entrypoint.sh nginx -g daemon off;"');
  });
  it('--pod: a CRI container and its sandbox show the pod id and name; other containers none', () => {
    const podId = 'a'.repeat(64);
    const inPod = { 'io.berth.cri.kind': 'container', 'io.berth.cri.sandbox-id': podId, 'io.kubernetes.pod.name': 'web' };
    const rows = [
      containerRow(c({ name: 'k8s_app_web', labels: inPod, ports: [] }), NOW, false),
      containerRow(c({ id: podId, name: 'k8s_POD_web', labels: { 'io.berth.cri.kind': 'sandbox', 'io.kubernetes.pod.name': 'web' }, ports: [] }), NOW, false),
      containerRow(c({ name: 'plain', labels: { 'io.kubernetes.pod.name': 'not-a-pod' }, ports: [] }), NOW, false),
    ];
    expect(rows.map((r) => [r.Pod, r.PodName])).toEqual([['aaaaaaaaaaaa', 'web'], ['aaaaaaaaaaaa', 'web'], ['', '']]);
    const out = formatRows(PS_POD_TABLE, rows, PS_FORMAT).split('\n');
    expect(out[0]).toMatch(/PORTS +POD ID +PODNAME +NAMES$/);
    expect(out[1]).toMatch(/aaaaaaaaaaaa +web +k8s_app_web$/);
  });
  it('default ps table', () => {
    const out = formatRows('', [containerRow(c({}), NOW, false), containerRow(c({ id: 'f'.repeat(64), name: 'db', image: 'postgres:16', command: 'postgres', state: 'exited', exitCode: 0, finishedAt: NOW - 2000, ports: [] }), NOW, false)], PS_FORMAT);
    expect(out).toBe(
      'CONTAINER ID   IMAGE         COMMAND                  CREATED       STATUS                     PORTS                  NAMES\n' +
      '0123456789ab   nginx:1.27    "/docker-entrypoint.…"   3 hours ago   Up 5 minutes               0.0.0.0:8080->80/tcp   web\n' +
      'ffffffffffff   postgres:16   "postgres"               3 hours ago   Exited (0) 2 seconds ago                          db\n',
    );
  });
  it('ports collapse ranges and show exposed-only ports', () => {
    expect(displayPorts([
      { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8000 }, { containerPort: 81, protocol: 'tcp', hostIp: '', hostPort: 8001 },
      { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 0 }, { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
      { containerPort: 80, protocol: 'tcp', hostIp: '::', hostPort: 8000 },
    ])).toBe('0.0.0.0:8000-8001->80-81/tcp, 443/tcp, :::8000->80/tcp, 127.0.0.1:5353->53/udp');
  });
  it('images and stats rows', () => {
    expect(imageRow({ repository: 'nginx', tag: '', id: 'sha256:' + 'ab'.repeat(32), digest: '', createdAt: NOW - 14 * 86_400_000, size: 187_654_321 }, NOW, false))
      .toMatchObject({ Repository: 'nginx', Tag: '<none>', ID: 'abababababab', CreatedSince: '2 weeks ago', Size: '188MB' });
    expect(statsRow({ id: 'a'.repeat(64), name: 'web', cpuPercent: 12.345, memUsage: 1.5 * 1024 ** 2, memLimit: 7.7 * 1024 ** 3, netRx: 1200, netTx: 0, blockRead: 0, blockWrite: 4_100_000, pids: 3 }, false))
      .toEqual({ ID: 'aaaaaaaaaaaa', Container: 'aaaaaaaaaaaa', Name: 'web', CPUPerc: '12.35%', MemUsage: '1.5MiB / 7.7GiB', MemPerc: '0.02%', NetIO: '1.2kB / 0B', BlockIO: '0B / 4.1MB', PIDs: '3' });
    expect(goTimeString(0)).toBe('1970-01-01 00:00:00 +0000 UTC');
  });
});

describe('progress', () => {
  const sink = (isTTY: boolean, columns = 120) => { const out: string[] = []; return { out, s: { isTTY, columns, write: (x: string) => out.push(x) } }; };
  it('bar text like Docker', () => {
    expect(progressText(1_200_000, 5_000_000, 120)).toBe(`[============>${' '.repeat(38)}]    1.2MB/5MB`);
    expect(progressText(1_200_000, 5_000_000, 80)).toBe('   1.2MB/5MB');
    expect(progressText(5_000_000, 5_000_000, 120)).toBe(`[${'='.repeat(50)}>]      5MB/5MB`);
    expect(progressText(2048, 0, 120)).toBe(' 2.048kB');
  });
  it('terminal: one line per id, rewritten in place', () => {
    const { out, s } = sink(true);
    const r = new ProgressRenderer(s);
    r.update({ status: 'Pulling from library/alpine' });
    r.update({ id: 'aaa', status: 'Pulling fs layer' });
    r.update({ id: 'bbb', status: 'Pulling fs layer' });
    r.update({ id: 'aaa', status: 'Downloading', current: 1_000_000, total: 2_000_000 });
    expect(out.slice(0, 3)).toEqual(['Pulling from library/alpine\n', 'aaa: Pulling fs layer\n', 'bbb: Pulling fs layer\n']);
    expect(out[3]).toBe(`\x1b[2A\x1b[2K\raaa: Downloading [=========================>${' '.repeat(25)}]      1MB/2MB\x1b[2B\r`);
  });
  it('not a terminal: plain lines, one per status change, no bars', () => {
    const { out, s } = sink(false);
    const r = new ProgressRenderer(s);
    r.update({ id: 'aaa', status: 'Downloading', current: 1, total: 10 });
    r.update({ id: 'aaa', status: 'Downloading', current: 5, total: 10 });
    r.update({ id: 'aaa', status: 'Pull complete' });
    r.update({ id: 'aaa', error: 'unexpected EOF', status: '' });
    expect(out).toEqual(['aaa: Downloading\n', 'aaa: Pull complete\n', 'aaa: unexpected EOF\n']);
  });
});

describe('terminal and exit codes', () => {
  it('colour only on a terminal, NO_COLOR and TERM=dumb win, FORCE_COLOR forces', () => {
    expect(useColor({ isTTY: true }, {})).toBe(true);
    expect(useColor({ isTTY: false }, {})).toBe(false);
    expect(useColor({ isTTY: true }, { NO_COLOR: '' })).toBe(false);
    expect(useColor({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(useColor({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(paint('x', 'red', true)).toBe('\x1b[31mx\x1b[0m');
    expect(paint('x', 'red', false)).toBe('x');
    expect(terminalWidth({ isTTY: true, columns: 100 })).toBe(100);
    expect(terminalWidth({ isTTY: false, columns: 100 })).toBeUndefined();
  });
  it('exit codes', () => {
    expect(exitCodeFor('run', new InvalidArgumentError('bad', { field: 'memory' }))).toBe(125);
    expect(exitCodeFor('ps', new InvalidArgumentError('unknown flag: --x', { field: 'x' }))).toBe(125);
    expect(exitCodeFor('rm', new NotFoundError('no such container: x'))).toBe(1);
    expect(exitCodeFor('run', new NotFoundError('resolveImage: no such image: nope'))).toBe(125);
    expect(exitCodeForRunError(new Error('start: exec: "nope": executable file not found in $PATH'))).toBe(127);
    expect(exitCodeForRunError(new Error('start: exec /app: permission denied'))).toBe(126);
    expect(containerExitCode(137)).toBe(137);
    expect(containerExitCode(-1)).toBe(255);
    expect(containerExitCode(256)).toBe(0);
  });
});

describe('inspect, port and events output', async () => {
  const { inspectJson, portLines, eventLine } = await import('./display.js');
  it('inspect prints a 4-space indented array', () => {
    expect(inspectJson([{ Id: 'x', State: { Running: true } }])).toBe('[\n    {\n        "Id": "x",\n        "State": {\n            "Running": true\n        }\n    }\n]\n');
  });
  it('port lines', () => {
    const ports = [
      { containerPort: 443, protocol: 'tcp', hostIp: '', hostPort: 8443 }, { containerPort: 80, protocol: 'tcp', hostIp: '', hostPort: 8080 },
      { containerPort: 80, protocol: 'tcp', hostIp: '::', hostPort: 8080 }, { containerPort: 53, protocol: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
      { containerPort: 9000, protocol: 'tcp', hostIp: '', hostPort: 0 },
    ];
    expect(portLines(ports)).toEqual(['53/udp -> 127.0.0.1:5353', '80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080', '443/tcp -> 0.0.0.0:8443']);
    expect(portLines(ports, '80')).toEqual(['0.0.0.0:8080', '[::]:8080']);
    expect(portLines(ports, '53/udp')).toEqual(['127.0.0.1:5353']);
    expect(portLines(ports, '9000')).toEqual([]);
  });
  it('event lines', () => {
    expect(eventLine({ type: 'container', action: 'die', id: 'abc', timeUnixMs: 1_700_000_000_123, attributes: { name: 'web', exitCode: '0', image: 'nginx' } }))
      .toBe('2023-11-14T22:13:20.123000000Z container die abc (exitCode=0, image=nginx, name=web)');
  });
});
