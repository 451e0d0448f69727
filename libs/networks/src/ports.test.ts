import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { parsePortSpec, portsConflict } from './ports';

describe('parsePortSpec', () => {
  it('reads the docker forms', () => {
    expect(parsePortSpec('80')).toEqual([{ hostIp: '', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePortSpec('8080:80')).toEqual([{ hostIp: '', hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePortSpec('127.0.0.1:8080:80/udp')).toEqual([{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
    expect(parsePortSpec('127.0.0.1::80')).toEqual([{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePortSpec('9000-9002:80-82').map((m) => [m.hostPort, m.containerPort])).toEqual([[9000, 80], [9001, 81], [9002, 82]]);
    expect(parsePortSpec('53-54/udp').map((m) => [m.hostPort, m.containerPort, m.protocol])).toEqual([[0, 53, 'udp'], [0, 54, 'udp']]);
    expect(parsePortSpec('[::1]:8080:80')[0]!.hostIp).toBe('::1');
  });
  it('rejects bad specs naming the field', () => {
    for (const bad of ['0', '70000', '80/sctp', '1-3:1-2', 'a:b', '1.2.3:80:80', '9-8', '1:2:3:4']) {
      let err: unknown;
      try { parsePortSpec(bad); } catch (e) { err = e; }
      expect(isInvalidArgument(err), bad).toBe(true);
    }
  });
  it('treats 0.0.0.0 as conflicting with any address', () => {
    const a = parsePortSpec('8080:80')[0]!;
    const b = parsePortSpec('127.0.0.1:8080:81')[0]!;
    const c = parsePortSpec('8080:80/udp')[0]!;
    expect(portsConflict(a, b)).toBe(true);
    expect(portsConflict(a, c)).toBe(false);
  });
});
